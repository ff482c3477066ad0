"""The private Docker engine and the offline Debian base that the container tests share.

The engine has no bridge and no iptables rules (the host network is left alone); its state
and the base image persist in $UNRENDER_DOCKER_DIR (default /var/tmp/unrender-docker), so
reruns skip the ~2 min debootstrap. Where the engine cannot start (not root, no dockerd) the
tests skip, saying why; UNRENDER_REQUIRE_CONTAINERS=1 (``make test-containers``) turns that
skip into a failure. A plain ``pytest`` skips them unless UNRENDER_CONTAINERS=1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRED = os.environ.get("UNRENDER_REQUIRE_CONTAINERS") == "1"
#: The image builds take tens of minutes, so a plain ``pytest`` (``make test``) leaves them
#: to ``make test-containers`` unless asked: UNRENDER_CONTAINERS=1 runs them where they can.
WANTED = REQUIRED or os.environ.get("UNRENDER_CONTAINERS") == "1"
# Short: the engine's unix socket path must stay under ~100 characters.
DOCKER_DIR = Path(os.environ.get("UNRENDER_DOCKER_DIR", "/var/tmp/unrender-docker"))
#: Debian 12 minbase with python3 and python3-venv, made by debootstrap (no registry).
BASE_IMAGE = "unrender-test/debian-python:bookworm"


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


def docker_engine() -> Iterator[dict[str, str]]:
    """Environment whose DOCKER_HOST is a private Docker engine, started here, stopped after
    (the body of the ``docker_env`` fixture of conftest.py)."""
    if not WANTED:
        pytest.skip("container tests build images (tens of minutes): make test-containers")
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
