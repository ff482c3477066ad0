"""Bootstrap confidence intervals that resample clusters, and paired model comparisons.

Rows of one cluster are not independent, so the bootstrap resamples whole clusters: a draw
picks clusters with replacement and takes every row of each picked cluster, as many times as
it was picked. A cluster is a manifest *group* by default (``evaluate.unit: group``: an
original and every fake made from it, or one identity), or a single video or image
(``evaluate.unit: video``). Frames of a video always stay together.

Draws are stratified by the classes a cluster holds (real only, fake only, both): each
stratum gives as many clusters as it has, so every resample holds both classes whenever the
data do, and AUC is always defined.

Every model of a level is scored on the same draws, which makes the comparison of two models
paired: the bootstrap distribution of ``metric(a) - metric(b)`` keeps their correlation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from unrender.evaluate.metrics import METRICS, rank, ranked_metrics

#: What a bootstrap resamples (config ``evaluate.unit``): manifest groups, or videos/images.
UNITS: tuple[str, ...] = ("group", "video")

#: Rows x resamples scored at once: the pick counts of a block of resamples are an int32
#: (resamples, rows) array, and scoring it holds a few more of its size (~4 x 8 MB).
_BLOCK_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class Level:
    """The rows scored at one level (``frame``, ``video`` or ``image``) of the test split.

    labels: int (N,) 0/1; unit: int (N,) index in [0, U) of the video or image each row
    belongs to; group: int (U,) index in [0, G) of the manifest group of each unit;
    probs: model -> float (N,) fake probabilities.
    """

    name: str
    labels: np.ndarray
    unit: np.ndarray
    group: np.ndarray
    probs: Mapping[str, np.ndarray]

    @property
    def n_units(self) -> int:
        return int(self.unit.max()) + 1 if len(self.unit) else 0

    @property
    def n_groups(self) -> int:
        return int(self.group.max()) + 1 if len(self.group) else 0

    def clusters(self, unit: str) -> np.ndarray:
        """int (N,): the bootstrap cluster of each row, resampling ``unit`` (see UNITS)."""
        if unit not in UNITS:
            raise ValueError(f"evaluate.unit must be one of {', '.join(UNITS)}, got {unit!r}")
        return self.group[self.unit] if unit == "group" else self.unit

    def clusters_per_class(self, unit: str) -> tuple[int, int]:
        """(real, fake): how many clusters hold at least one row of each class."""
        clusters = self.clusters(unit)
        real, fake = (len(np.unique(clusters[self.labels == c])) for c in (0, 1))
        return real, fake


def cluster_strata(clusters: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """int (C,): the stratum of each cluster, ``1 * has_real + 2 * has_fake`` (1, 2 or 3).

    clusters: int (N,) cluster index in [0, C) of each row; labels: int (N,) 0/1.
    """
    n = int(clusters.max()) + 1 if len(clusters) else 0
    strata = np.zeros(n, np.int64)
    np.bitwise_or.at(strata, clusters, np.where(labels == 1, 2, 1))
    return strata


def draw_counts(strata: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """int (B, C): how many times each cluster is picked in each stratified resample.

    strata: int (C,) stratum of each cluster; each stratum is resampled to its own size.
    """
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_resamples, len(strata)), np.int64)
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        picks = members[rng.integers(0, len(members), size=(n_resamples, len(members)))]
        np.add.at(counts, (np.arange(n_resamples)[:, None], picks), 1)
    return counts


def bootstrap(
    level: Level, n_resamples: int, seed: int, unit: str = "group"
) -> dict[str, dict[str, np.ndarray]]:
    """model -> metric -> float (B,) values on the same ``n_resamples`` cluster resamples.

    A resample weighs each row by how often its cluster was picked, and
    :func:`unrender.evaluate.metrics.ranked_metrics` scores a block of resamples at once, on
    rows sorted once per model.
    """
    clusters = level.clusters(unit)
    counts = draw_counts(cluster_strata(clusters, level.labels), n_resamples, seed)
    # Pick counts fit 32 bits (a resample has as many rows as the level), and half the bytes
    # halve the memory traffic, which is what the (resamples, rows) blocks cost.
    counts = counts.astype(np.int32)
    out = {m: {k: np.empty(n_resamples) for k in METRICS} for m in level.probs}
    step = max(1, _BLOCK_ELEMENTS // max(len(clusters), 1))
    for model, probs in level.probs.items():
        ranking = rank(level.labels, probs)
        ranked_clusters = clusters[ranking.order]
        for start in range(0, n_resamples, step):
            block = slice(start, start + step)
            for k, v in ranked_metrics(ranking, counts[block][:, ranked_clusters]).items():
                out[model][k][block] = v
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
