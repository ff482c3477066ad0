"""Bootstrap confidence intervals that resample videos, and paired model comparisons.

Frames of one video are not independent, so the unit resampled is the video (or the image):
a draw picks units with replacement and takes every row of each picked unit, as many times as
it was picked. Draws are stratified by the unit's label (as many real and fake units as the
data have), so every resample holds both classes and AUC is always defined.

Every model of a level is scored on the same draws, which makes the comparison of two models
paired: the bootstrap distribution of ``metric(a) - metric(b)`` keeps their correlation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from unrender.evaluate.metrics import METRICS, binary_metrics


@dataclass(frozen=True)
class Level:
    """The rows scored at one level (``frame``, ``video`` or ``image``) of the test split.

    labels: int (N,) 0/1; unit: int (N,) index in [0, U) of the video or image each row
    belongs to; probs: model -> float (N,) fake probabilities.
    """

    name: str
    labels: np.ndarray
    unit: np.ndarray
    probs: Mapping[str, np.ndarray]

    @property
    def n_units(self) -> int:
        return int(self.unit.max()) + 1 if len(self.unit) else 0


def _unit_labels(level: Level) -> np.ndarray:
    """int (U,) label of each unit (all rows of a unit share it)."""
    out = np.zeros(level.n_units, np.int64)
    out[level.unit] = level.labels
    return out


def draw_counts(unit_labels: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """int (B, U): how many times each unit is picked in each stratified resample."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_resamples, len(unit_labels)), np.int64)
    for label in np.unique(unit_labels):
        members = np.flatnonzero(unit_labels == label)
        picks = members[rng.integers(0, len(members), size=(n_resamples, len(members)))]
        np.add.at(counts, (np.arange(n_resamples)[:, None], picks), 1)
    return counts


def bootstrap(level: Level, n_resamples: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """model -> metric -> float (B,) values on the same ``n_resamples`` video resamples."""
    counts = draw_counts(_unit_labels(level), n_resamples, seed)
    out = {m: {k: np.empty(n_resamples) for k in METRICS} for m in level.probs}
    for b in range(n_resamples):
        rows = np.repeat(np.arange(len(level.labels)), counts[b, level.unit])
        for model, probs in level.probs.items():
            for k, v in binary_metrics(level.labels[rows], probs[rows]).items():
                out[model][k][b] = v
    return out


def interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap values (NaNs ignored; NaN if all are NaN)."""
    if np.all(np.isnan(values)):
        return float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.nanpercentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def paired_p_value(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value of H0 "no difference" from paired deltas (B,).

    ``2 * min(#(d <= 0) + 1, #(d >= 0) + 1) / (B + 1)``, capped at 1: how far into a tail of
    the bootstrap distribution zero lies (the +1 keeps p > 0 with finite resamples). NaN when
    no delta is defined (one class only).
    """
    deltas = deltas[~np.isnan(deltas)]
    if len(deltas) == 0:
        return float("nan")
    below = int(np.sum(deltas <= 0)) + 1
    above = int(np.sum(deltas >= 0)) + 1
    return min(1.0, 2 * min(below, above) / (len(deltas) + 1))
