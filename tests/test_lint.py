"""The workflow's own lint, in the suite so that CI catches it (``make lint`` runs more).

Snakemake's linter reads the rule files as text: a comment such as "asked for by `rule all`:"
in rules/common.smk reads to it as a rule beside the functions, and once such a line slipped
through because only ``make lint`` ran the linter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_snakemake_lint_is_clean() -> None:
    done = _run("snakemake", "--lint", "--configfile", "config/demo.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_snakefmt_leaves_the_rules_as_they_are() -> None:
    done = _run("snakefmt", "--check", "Snakefile", "rules")
    assert done.returncode == 0, done.stdout + done.stderr
