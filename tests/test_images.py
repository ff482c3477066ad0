"""unrender.images: the pins of a build context's wheels and the interpreter check."""

from __future__ import annotations

from pathlib import Path

import pytest

from unrender import images


def test_pins_name_every_wheel_once_with_normalised_names(tmp_path: Path) -> None:
    for name in [
        "torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        "opencv_python_headless-4.14.0.94-cp37-abi3-manylinux_2_28_x86_64.whl",
        "PyYAML-6.0.4-cp311-cp311-manylinux_2_17_x86_64.whl",
    ]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "requirements.txt").write_text("not a wheel\n")
    assert images.pins(tmp_path) == [
        "opencv-python-headless==4.14.0.94",
        "pyyaml==6.0.4",
        "torch==2.14.1",
    ]


def test_two_versions_of_one_distribution_are_refused(tmp_path: Path) -> None:
    (tmp_path / "numpy-2.4.6-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    (tmp_path / "numpy-2.3.0-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    with pytest.raises(ValueError, match="two versions of numpy"):
        images.pins(tmp_path)


def test_runtime_requirements_are_pyproject_dependencies_without_extras(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["torch==2.14.1", "numpy>=2,<3"]\n'
        '[project.optional-dependencies]\ndev = ["pytest"]\n'
    )
    assert images.runtime_requirements(tmp_path / "pyproject.toml") == [
        "torch==2.14.1",
        "numpy>=2,<3",
    ]


def test_another_interpreter_gets_a_one_line_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "IMAGE_PYTHON", (3, 99))
    with pytest.raises(RuntimeError, match="CPython 3.99 on Linux x86_64"):
        images.check_interpreter()
