"""Kill Snakemake with SIGKILL mid-run, resume with --rerun-incomplete, get identical results.

The kill hits the whole process group (Snakemake and the jobs it started), as a node failure
would. The resumed run must produce byte-identical result files to an uninterrupted run:
no truncated frame survives, no stray temporary file is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.test_workflow import run_snakemake
from tests.tiny_config import tiny_synth_config
from tests.workflow_runner import snakemake_command, venv_env, write_config
from unrender.provenance import file_hashes

RUN = "crash"
#: Result folders whose bytes differ between identical runs: TensorBoard event files hold
#: wall-clock times and the host name.
TIMESTAMPED = ("tensorboard/",)

pytestmark = pytest.mark.slow


def kill_when(workdir: Path, config: dict, trigger: Path, limit_s: float = 300) -> None:
    """Start the workflow in ``workdir`` and SIGKILL its process group once ``trigger`` exists."""
    write_config(workdir, config)
    cmd = snakemake_command(workdir, "--cores", "2")
    env = venv_env()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + limit_s
    try:
        while not trigger.exists():
            assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before {trigger}"
            assert time.monotonic() < deadline, f"{trigger} did not appear within {limit_s} s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_then_rerun_incomplete_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    config = tiny_synth_config(RUN, shard_size=4)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    killed.mkdir()
    clean.mkdir()
    out = killed / "results" / RUN
    kill_when(killed, config, trigger=out / "frames" / "s0000.tsv")
    # Killed mid-run: the frames of shard 0 exist, the end of the graph does not.
    assert not (out / "rejected.tsv").exists()

    # A SIGKILL leaves Snakemake's lock behind; --unlock is the documented way to resume.
    run_snakemake(killed, config, "--unlock")
    run_snakemake(killed, config, "--rerun-incomplete")
    run_snakemake(clean, config)
    resumed, uninterrupted = (
        {rel: h for rel, h in file_hashes(d).items() if not rel.startswith(TIMESTAMPED)}
        for d in (out, clean / "results" / RUN)
    )
    assert any(rel.startswith("modalities/") for rel in resumed)
    assert resumed == uninterrupted
