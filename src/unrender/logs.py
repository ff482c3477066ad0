"""Logging set-up for jobs: everything a job says goes to its Snakemake log file (a script
job's, :func:`to_file`; a shell job's stderr, :func:`to_stream`)."""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO


def to_stream(stream: TextIO) -> None:
    """Send logging records (INFO and up) and warnings to ``stream``."""
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)


def to_file(path: str | os.PathLike[str]) -> None:
    """Send logging records, warnings and stderr (tracebacks, progress bars) to ``path``."""
    stream = open(path, "w", buffering=1)  # noqa: SIM115 (lives as long as the job)
    sys.stderr = stream
    to_stream(stream)
