"""A real rule inside a container: extract_frames through ``snakemake --sdm=apptainer``.

The test starts a private Docker engine (no bridge, no iptables: the host network is left
alone), builds a slim frame-extraction image offline (a debootstrap'd Debian 12 base made
with ``docker import`` and cached by tag, plus wheels downloaded on the host), and runs
split_manifest and extract_frames in it through tests/containers/apptainer, a shim that maps
``apptainer exec`` onto ``docker run``.

The engine, the base image and when the test skips or fails are in tests/containers/engine.py.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.bad_inputs import write_clip
from tests.containers.engine import BASE_IMAGE, DOCKER_DIR, ensure_base_image, run
from tests.workflow_runner import snakemake_command
from unrender import manifest
from unrender.io import read_image, read_tsv, write_tsv
from unrender.video import even_frame_indices

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FRAMES_IMAGE = "unrender-test/frames:latest"
#: Distributions the frames stage imports (their version bounds come from pyproject.toml).
FRAMES_PACKAGES = ("numpy", "opencv-python-headless", "av", "pyyaml", "jsonschema")
#: The image's Python: Debian 12's 3.11, the ABI of the downloaded wheels.
WHEEL_PLATFORM = [
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux2014_x86_64",
]

pytestmark = pytest.mark.slow


def frames_requirements() -> list[str]:
    """pyproject.toml's requirement lines of FRAMES_PACKAGES, so the image keeps its bounds."""
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    chosen = [d for d in dependencies if re.split(r"[<>=!~\[; ]", d)[0] in FRAMES_PACKAGES]
    assert len(chosen) == len(FRAMES_PACKAGES), (chosen, FRAMES_PACKAGES)
    return chosen


def build_frames_image(env: dict[str, str], context: Path) -> None:
    """The frames image from BASE_IMAGE and host-downloaded wheels, with no network in RUN."""
    wheels = context / "wheels"
    cache = DOCKER_DIR / "wheels"  # pip download skips wheels already there
    requirements = frames_requirements()
    (context / "requirements.txt").write_text("\n".join(requirements) + "\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run(
        [*pip, "download", "--quiet", *WHEEL_PLATFORM, "-d", str(cache), *requirements], timeout=600
    )
    shutil.copytree(cache, wheels)
    run(
        [
            *pip,
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(REPO),
        ],
        timeout=300,
    )
    run(
        [
            "docker",
            "build",
            "--force-rm",
            "--network=none",
            "-f",
            str(HERE / "frames.Dockerfile"),
            "--build-arg",
            f"BASE={BASE_IMAGE}",
            "-t",
            FRAMES_IMAGE,
            str(context),
        ],
        timeout=600,
        env=env,
    )


def test_extract_frames_runs_in_the_frames_image(
    docker_env: dict[str, str], tmp_path: Path
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    ensure_base_image(docker_env, tmp_path)
    build_frames_image(docker_env, context)

    workdir = tmp_path / "wd"
    (workdir / "data").mkdir(parents=True)
    n_frames = {"clip0": 12, "clip1": 7}
    rows = []
    for i, (sample_id, n) in enumerate(n_frames.items()):
        write_clip(workdir / "data" / f"{sample_id}.mp4", n)
        rows.append(
            {
                "sample_id": sample_id,
                "path": f"{sample_id}.mp4",
                "label": i,
                "group": sample_id,
                "split": "",
                "kind": "video",
                "source": "test",
            }
        )
    write_tsv(workdir / "data" / "manifest.tsv", rows, manifest.COLUMNS)
    config = {
        "run": "c",
        "dataset": {"kind": "manifest", "manifest": "data/manifest.tsv"},
        "shard_size": 10,
        "frames": {"per_video": 3, "size": 32},
        "containers": {"torch": f"docker://{FRAMES_IMAGE}"},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    shim_log = tmp_path / "shim.log"
    path = os.pathsep.join([str(HERE), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {**docker_env, "PATH": path, "APPTAINER_SHIM_LOG": str(shim_log)}
    target = "results/c/shards/s0000.tsv"
    run(
        [
            "timeout",
            "-s",
            "INT",
            "-k",
            "15",
            "300",
            *snakemake_command(workdir),
            "--cores",
            "2",
            "--sdm=apptainer",  # `--sdm apptainer TARGET` would take TARGET as a second method
            target,
        ],
        timeout=360,
        env=env,
        cwd=workdir,
    )

    executed = shim_log.read_text().splitlines()
    assert [line.split("\t")[0] for line in executed] == [FRAMES_IMAGE, FRAMES_IMAGE], executed
    assert any("split_manifest" in line for line in executed), executed
    assert any("extract_frames" in line for line in executed), executed
    out = workdir / "results" / "c"
    assert [s.sample_id for s in manifest.read_samples(out / "shards" / "s0000.tsv")] == list(
        n_frames
    )
    index = read_tsv(out / "frames" / "s0000.tsv")
    for sample_id, n in n_frames.items():
        got = [r for r in index if r["sample_id"] == sample_id]
        assert [int(r["frame_index"]) for r in got] == list(even_frame_indices(n, 3))
        for r in got:
            assert read_image(out / "frames" / r["path"]).shape == (32, 32, 3)
