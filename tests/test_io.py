"""Atomic writes leave either the old file or the new one, never a partial file."""

from pathlib import Path

import numpy as np
import pytest

from unrender.io import atomic_open, read_image, read_tsv, write_image, write_tsv


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "out.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(p) as f:
        f.write("half")
        raise RuntimeError("killed")
    assert p.read_text() == "old"
    assert [q.name for q in tmp_path.iterdir()] == ["out.txt"]


def test_tsv_and_image_round_trip(tmp_path: Path) -> None:
    write_tsv(tmp_path / "a" / "t.tsv", [{"x": 1, "y": "b"}, {"x": 2}], ["x", "y"])
    assert read_tsv(tmp_path / "a" / "t.tsv") == [{"x": "1", "y": "b"}, {"x": "2", "y": ""}]
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    write_image(tmp_path / "i.png", rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "i.png"), rgb)
    with pytest.raises(TypeError):
        write_image(tmp_path / "f.png", rgb.astype(np.float32))
