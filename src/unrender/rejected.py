"""The quarantine: every refused item gets one row with the stage and the reason.

Nothing is dropped silently: a stage that cannot use an item raises :class:`RejectedInput`
(or records it directly), and the run goes on with the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from unrender.io import read_tsv, write_tsv

COLUMNS: tuple[str, ...] = ("sample_id", "path", "stage", "reason")


class RejectedInput(Exception):
    """An input item that a stage refuses; the message is the reason, written for a person."""


@dataclass(frozen=True)
class Rejection:
    """One refused item."""

    sample_id: str
    path: str
    stage: str
    reason: str


def write(path: str | os.PathLike[str], rejections: Iterable[Rejection]) -> None:
    """Write rejections as a TSV (header only when there are none), atomically.

    A reason spanning lines (a decoder's message, say) is written on one line.
    """
    rows = [{**asdict(r), "reason": " ".join(r.reason.split())} for r in rejections]
    write_tsv(path, rows, COLUMNS)


def read(path: str | os.PathLike[str]) -> list[Rejection]:
    """Read a rejections TSV written by :func:`write`."""
    return [Rejection(**{c: row[c] for c in COLUMNS}) for row in read_tsv(path)]


def merge(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> int:
    """Concatenate rejection files into ``out``; return the number of rows."""
    rows = [r for p in paths for r in read(p)]
    write(out, rows)
    return len(rows)
