"""Logging set-up for jobs: everything a job says goes to its Snakemake log file."""

from __future__ import annotations

import logging
import os
import sys


def to_file(path: str | os.PathLike[str]) -> None:
    """Send logging records, warnings and stderr (tracebacks, progress bars) to ``path``."""
    stream = open(path, "w", buffering=1)  # noqa: SIM115 (lives as long as the job)
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
