"""How the end-to-end tests invoke the repository's workflow in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def write_config(workdir: Path, config: Mapping) -> Path:
    """Write ``config`` as ``workdir/config.yaml`` and return its path."""
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(dict(config)))
    return path


def snakemake_command(workdir: Path, *extra: str) -> list[str]:
    """``python -m snakemake`` on the repo's Snakefile in ``workdir`` with its config.yaml."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        *extra,
    ]


def venv_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) with this interpreter's bin folder first on PATH, so jobs
    find the same Python and the ``unrender`` package."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def planned_jobs(dry_run_stdout: str) -> dict[str, int]:
    """Rule -> job count of the jobs a dry run (``snakemake -n``) would run, from its "Job
    stats" table (a rule and its job count per line, up to "total"); empty if nothing would
    run."""
    if "Job stats:" not in dry_run_stdout:
        return {}
    table = dry_run_stdout.split("Job stats:")[1].split("total")[0].splitlines()[3:]
    return {rule: int(count) for rule, count in (line.split() for line in table if line.strip())}


def planned_rules(dry_run_stdout: str) -> set[str]:
    """The rules of :func:`planned_jobs`."""
    return set(planned_jobs(dry_run_stdout))


def refusal(proc: subprocess.CompletedProcess) -> str:
    """The message of a workflow that stopped before any job, asserting it said exactly one
    line besides Snakemake's note on the workflow profile, with the workflow's prefix."""
    said = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and not line.startswith("Using workflow specific profile")
    ]
    assert proc.returncode != 0 and len(said) == 1, "\n".join(said)[-3000:]
    prefix = "unrender workflow: error: "
    assert said[0].startswith(prefix), said[0]
    return said[0].removeprefix(prefix)
