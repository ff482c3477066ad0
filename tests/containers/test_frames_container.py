"""A real rule inside a container: extract_frames through ``snakemake --sdm=apptainer``.

The test starts a private Docker engine (no bridge, no iptables: the host network is left
alone), builds a slim frame-extraction image offline (a debootstrap'd Debian 12 base made
with ``docker import`` and cached by tag, plus wheels downloaded on the host), and runs
split_manifest and extract_frames in it through tests/containers/apptainer, a shim that maps
``apptainer exec`` onto ``docker run``.

It skips, saying why, only where the Docker engine cannot start (not root, no dockerd);
``make test-containers`` sets UNRENDER_REQUIRE_CONTAINERS=1, which turns that skip into a
failure. Engine state and the base image persist in $UNRENDER_DOCKER_DIR (default
/var/tmp/unrender-docker), so reruns skip the ~2 min debootstrap.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.bad_inputs import write_clip
from tests.workflow_runner import snakemake_command
from unrender import manifest
from unrender.io import read_image, read_tsv, write_tsv
from unrender.video import even_frame_indices

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REQUIRED = os.environ.get("UNRENDER_REQUIRE_CONTAINERS") == "1"
# Short: the engine's unix socket path must stay under ~100 characters.
DOCKER_DIR = Path(os.environ.get("UNRENDER_DOCKER_DIR", "/var/tmp/unrender-docker"))
BASE_IMAGE = "unrender-test/debian-python:bookworm"
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


def run(cmd: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess:
    """Run ``cmd``; fail the test with its output if it exits non-zero or outlives ``timeout``."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"UNRENDER_REQUIRE_CONTAINERS=1 but {reason}")
    pytest.skip(reason)


def stop_stale_engine(pidfile: Path) -> None:
    """Stop a dockerd left by a killed run of this test (dockerd refuses a live pid file)."""
    if not pidfile.is_file():
        return
    pid = int(pidfile.read_text())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"dockerd" not in cmdline or str(DOCKER_DIR).encode() not in cmdline:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture(scope="module")
def docker_env() -> Iterator[dict[str, str]]:
    """Environment whose DOCKER_HOST is a private Docker engine, started here, stopped after."""
    if os.geteuid() != 0:
        skip_or_fail("the Docker engine cannot start: needs root")
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        skip_or_fail("the Docker engine cannot start: dockerd is not installed (apt docker.io)")
    DOCKER_DIR.mkdir(parents=True, exist_ok=True)
    pidfile = DOCKER_DIR / "docker.pid"
    stop_stale_engine(pidfile)
    socket = DOCKER_DIR / "docker.sock"
    log_path = DOCKER_DIR / "dockerd.log"
    with open(log_path, "w") as log:
        engine = subprocess.Popen(
            [
                "dockerd",
                f"--data-root={DOCKER_DIR / 'data'}",
                f"--exec-root={DOCKER_DIR / 'exec'}",
                f"--host=unix://{socket}",
                f"--pidfile={pidfile}",
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket}", "DOCKER_BUILDKIT": "0"}
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "info"], env=env, capture_output=True).returncode != 0:
            if engine.poll() is not None or time.monotonic() > deadline:
                skip_or_fail(
                    f"the Docker engine cannot start; {log_path}:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield env
    finally:
        engine.terminate()
        try:
            engine.wait(timeout=30)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait(timeout=30)


def ensure_base_image(env: dict[str, str], scratch: Path) -> None:
    """Debian 12 minbase with python3 and python3-venv, imported once and cached by tag."""
    if (
        subprocess.run(
            ["docker", "image", "inspect", BASE_IMAGE], env=env, capture_output=True
        ).returncode
        == 0
    ):
        return
    rootfs = scratch / "rootfs"
    run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv",
            "bookworm",
            str(rootfs),
        ],
        timeout=900,
    )
    # apt's caches are of no use in an image that never runs apt.
    tar = subprocess.Popen(
        [
            "tar",
            "-C",
            str(rootfs),
            "--exclude=./var/cache/apt/archives/*.deb",
            "--exclude=./var/lib/apt/lists/*",
            "-c",
            ".",
        ],
        stdout=subprocess.PIPE,
    )
    run(
        ["docker", "import", "-c", "ENV LANG=C.UTF-8", "-", BASE_IMAGE],
        timeout=300,
        stdin=tar.stdout,
        env=env,
    )
    assert tar.wait(timeout=60) == 0
    shutil.rmtree(rootfs)


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
