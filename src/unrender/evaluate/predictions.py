"""Per-frame predictions: the one table every model writes and the evaluation reads.

``results/{run}/predictions/{model}.tsv`` has one row per frame of every val and test sample:
``sample_id, k, split, label, prob, kind`` (``prob``: the model's fake probability in [0, 1];
``kind``: video or image). Rows are in a fixed order (the run's item order), identical for
every model of a run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from unrender.io import read_tsv, write_tsv

COLUMNS: tuple[str, ...] = ("sample_id", "k", "split", "label", "prob", "kind")


@dataclass(frozen=True)
class Predictions:
    """Column arrays of a predictions table, all of length N.

    sample_id, split, kind: str; k: int64; label: int64 (0 real, 1 fake); prob: float64.
    """

    sample_id: np.ndarray
    k: np.ndarray
    split: np.ndarray
    label: np.ndarray
    prob: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.prob)

    def select(self, mask: np.ndarray) -> Predictions:
        """The rows where the boolean (N,) ``mask`` holds."""
        return Predictions(**{c: getattr(self, c)[mask] for c in COLUMNS})

    def with_prob(self, prob: np.ndarray) -> Predictions:
        """The same rows with other probabilities (float (N,)), e.g. an ensemble's."""
        return replace(self, prob=np.asarray(prob, np.float64))

    def same_rows(self, other: Predictions) -> bool:
        """Whether ``other`` has the same frames, in the same order, with the same labels."""
        return all(
            np.array_equal(getattr(self, c), getattr(other, c))
            for c in ("sample_id", "k", "split", "label", "kind")
        )


def from_rows(
    sample_id: Sequence[str],
    k: Sequence[int],
    split: Sequence[str],
    label: Sequence[int],
    prob: Sequence[float],
    kind: Sequence[str],
) -> Predictions:
    """Build a table from equally long columns."""
    return Predictions(
        sample_id=np.asarray(sample_id, dtype=str),
        k=np.asarray(k, dtype=np.int64),
        split=np.asarray(split, dtype=str),
        label=np.asarray(label, dtype=np.int64),
        prob=np.asarray(prob, dtype=np.float64),
        kind=np.asarray(kind, dtype=str),
    )


def write(path: str | os.PathLike[str], table: Predictions) -> None:
    """Write a predictions TSV atomically (probabilities with 9 significant digits)."""
    rows = [
        {
            "sample_id": table.sample_id[i],
            "k": int(table.k[i]),
            "split": table.split[i],
            "label": int(table.label[i]),
            "prob": format(float(table.prob[i]), ".9g"),
            "kind": table.kind[i],
        }
        for i in range(len(table))
    ]
    write_tsv(path, rows, COLUMNS)


def read(path: str | os.PathLike[str]) -> Predictions:
    """Read a predictions TSV; ValueError naming the file if a column is missing."""
    rows = read_tsv(path)
    if rows and set(COLUMNS) - rows[0].keys():
        raise ValueError(f"{path}: predictions lack column(s) {set(COLUMNS) - rows[0].keys()}")
    return from_rows(
        [r["sample_id"] for r in rows],
        [int(r["k"]) for r in rows],
        [r["split"] for r in rows],
        [int(r["label"]) for r in rows],
        [float(r["prob"]) for r in rows],
        [r["kind"] for r in rows],
    )
