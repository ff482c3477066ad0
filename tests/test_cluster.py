"""The tiny synthetic run through ``--profile profiles/slurm`` on a real single-node SLURM.

``make test-cluster`` installs and starts the cluster (tests/cluster/slurm.sh), runs this file
with UNRENDER_REQUIRE_CLUSTER=1 (then a missing cluster is a failure, not a skip), and stops
it. A plain ``pytest`` skips it, saying why, unless such a cluster is already up.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_workflow import assert_complete_samples
from tests.tiny_config import tiny_synth_config
from tests.workflow_runner import REPO, snakemake_command, venv_env, write_config
from unrender import manifest
from unrender.provenance import verify

REQUIRED = os.environ.get("UNRENDER_REQUIRE_CLUSTER") == "1"
#: Rules that must have run as SLURM jobs (collect_rejected and provenance are local).
CLUSTER_RULES = {"synth", "split_manifest", "extract_frames", "decompose"}
#: Seconds the whole snakemake run may take before it is interrupted (SIGINT cancels its jobs).
RUN_LIMIT_S = 1500

pytestmark = pytest.mark.slow


def why_no_cluster() -> str | None:
    """Why the test cannot run here, or None when a single-node SLURM answers with an idle node."""
    if os.geteuid() != 0:
        return "needs root (the test cluster runs as root)"
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        return "SLURM is not installed (make test-cluster installs and starts it)"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed in this environment"
    try:
        state = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20
        ).stdout.split()
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s"
    if "idle" not in state and "mix" not in state:
        return f"no idle SLURM node (sinfo: {state}); start one with tests/cluster/slurm.sh start"
    return None


@pytest.fixture(scope="module")
def cluster() -> None:
    reason = why_no_cluster()
    if reason and REQUIRED:
        pytest.fail(f"UNRENDER_REQUIRE_CLUSTER=1 but {reason}")
    if reason:
        pytest.skip(reason)


def min_job_age_s() -> int:
    """SLURM's MinJobAge: seconds squeue keeps a finished job (and its final state)."""
    listing = subprocess.run(
        ["scontrol", "show", "config"], capture_output=True, text=True, timeout=20, check=True
    ).stdout
    match = re.search(r"^MinJobAge\s*=\s*(\d+)", listing, re.MULTILINE)
    assert match, "scontrol show config has no MinJobAge"
    return int(match.group(1))


def finished_jobs(workdir: Path) -> dict[str, set[str]]:
    """rule -> SLURM states of the jobs submitted from ``workdir`` (squeue keeps them MinJobAge)."""
    listing = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%k|%T|%Z"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    states: dict[str, set[str]] = {}
    for line in listing.splitlines():
        comment, state, job_dir = line.split("|")
        if Path(job_dir) == workdir:
            # The plugin's comment is rule_<rule>[_wildcards_<values>].
            rule = comment.removeprefix("rule_").split("_wildcards_")[0]
            states.setdefault(rule, set()).add(state)
    return states


def test_tiny_run_through_the_slurm_profile(cluster: None, tmp_path: Path) -> None:
    # The final states are read from squeue after the run: every job must still be listed then,
    # however long the run took, so the cluster must keep finished jobs longer than the limit.
    assert min_job_age_s() > RUN_LIMIT_S + 120, "MinJobAge would let squeue forget finished jobs"
    config = tiny_synth_config("cluster", shard_size=7)
    write_config(tmp_path, config)
    env = venv_env()
    # SIGTERM only makes snakemake wait for its jobs; SIGINT cancels them and exits.
    guard = ["timeout", "-s", "INT", "-k", "15", str(RUN_LIMIT_S)]
    cmd = [
        *guard,
        *snakemake_command(tmp_path),
        "--profile",
        str(REPO / "profiles" / "slurm"),
        # The profile's polling suits long jobs; a test of ~10 s jobs polls every second.
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--seconds-between-status-checks",
        "1",
    ]
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_LIMIT_S + 60
    )
    failed_logs = "\n".join(
        f"--- {p}\n{p.read_text()[-2000:]}"
        for p in sorted((tmp_path / ".snakemake" / "slurm_logs").rglob("*.log"))
    )
    assert proc.returncode == 0, proc.stderr[-6000:] + failed_logs

    jobs = finished_jobs(tmp_path)
    for rule in CLUSTER_RULES:
        assert jobs.get(rule) == {"COMPLETED"}, (rule, jobs)
    out = tmp_path / "results" / "cluster"
    n_rows = len(manifest.read(out / "dataset" / "manifest.tsv"))
    assert assert_complete_samples(out, per_video=3) == n_rows
    assert verify(out) == []
