"""Binary detection metrics of fake probabilities: AUC, ACC@0.5, AP and EER, in numpy.

labels: int (N,) 0 real / 1 fake; probs: float (N,) fake probabilities in [0, 1]. Metrics that
need both classes (AUC, AP, EER) are NaN when only one is present.

The definitions are scikit-learn's and torchmetrics' (``binary_roc``, ``binary_auroc``,
``binary_average_precision``, ``binary_accuracy``; tests/test_evaluate.py checks them against
torchmetrics): the ROC has one point per distinct score, from (0, 0), the AUC is the trapezoid
area under it, AP is ``sum_n (R_n - R_{n-1}) P_n`` over decreasing thresholds, and a frame is
called fake when its probability is above 0.5. Two reasons for our own code: importing
torchmetrics cost every evaluating job ~7 s (it pulls torchvision and ``torch._dynamo``), and
the bootstrap scores a thousand resamples at once from per-row weights
(:func:`ranked_metrics`) instead of calling a metric a thousand times per model.

Rates are float64. torchmetrics divides integer counts into float32 rates, so its values
differ from these in the 7th-8th significant digit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Metric names, in the column order of metrics.tsv.
METRICS: tuple[str, ...] = ("auc", "acc", "ap", "eer")


def _run_starts(ranked: np.ndarray) -> np.ndarray:
    """int (T,) index of the first element of each run of equal values of sorted (N,) ``ranked``."""
    return (
        np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]) if len(ranked) else np.zeros(0, int)
    )


def midranks(values: np.ndarray) -> np.ndarray:
    """float64 (N,) ranks 1..N of float (N,) ``values``, ties given their mean rank.

    Ranks are half-integers, so they are exact; the same as ``scipy.stats.rankdata``'s
    default, without importing scipy.stats (~2 s of a training job's start-up).
    """
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    starts = _run_starts(ranked)
    stops = np.r_[starts[1:], len(values)]
    out = np.empty(len(values))
    out[order] = np.repeat((starts + stops + 1) / 2.0, stops - starts)
    return out


@dataclass(frozen=True)
class Ranking:
    """The rows of one set of predictions in decreasing order of score, as the metrics read
    them: computed once per model, then reused for every weighting (bootstrap resample).

    order: int (N,) row of each rank; starts: int (T,) first rank of each distinct score (one
    ROC threshold each); fake: bool (N,) ranked rows that are fake; correct: bool (N,) ranked
    rows a 0.5 threshold calls right.
    """

    order: np.ndarray
    starts: np.ndarray
    fake: np.ndarray
    correct: np.ndarray


def rank(labels: np.ndarray, probs: np.ndarray) -> Ranking:
    """The :class:`Ranking` of int (N,) labels and float (N,) fake probabilities."""
    labels, probs = np.asarray(labels), np.asarray(probs, np.float64)
    order = np.argsort(-probs, kind="stable")
    ranked, fake = probs[order], labels[order] == 1
    return Ranking(order, _run_starts(ranked), fake, (ranked > 0.5) == fake)


def _rates(
    ranking: Ranking, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted true and false positives at every distinct threshold, highest first.

    weights: (B, N) non-negative weights of the ranked rows for B weightings (integer pick
    counts stay integers, so the counts are exact). Returns (B, T) ``tps`` and ``fps``
    (cumulative weight of fakes and reals scoring at least each threshold) and (B,) totals of
    fakes and reals. Each run of equal scores is summed first, so the cumulative sums are
    (T,) long, not (N,).
    """
    fake = np.add.reduceat(weights * ranking.fake, ranking.starts, axis=1)
    real = np.add.reduceat(weights, ranking.starts, axis=1) - fake
    tps, fps = np.cumsum(fake, axis=1), np.cumsum(real, axis=1)
    return tps, fps, tps[:, -1], fps[:, -1]


def _roc_from_counts(
    tps: np.ndarray, fps: np.ndarray, positives: np.ndarray, negatives: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    zero = np.zeros((len(tps), 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = np.hstack([zero, fps / negatives[:, None]])
        tpr = np.hstack([zero, tps / positives[:, None]])
    return fpr, tpr


def _equal_error_rates(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """float (B,) EERs of B ROCs (B, M) with the same number of points (see equal_error_rate)."""
    gap = fpr - (1.0 - tpr)  # rises from -1 at (0, 0) to +1 at (1, 1)
    i = np.argmax(gap >= 0, axis=1)
    rows = np.arange(len(gap))
    before = np.maximum(i - 1, 0)
    g0, g1 = gap[rows, before], gap[rows, i]
    f0, f1 = fpr[rows, before], fpr[rows, i]
    on_point = (i == 0) | (g1 == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = f0 + (-g0 / (g1 - g0)) * (f1 - f0)
    return np.where(on_point, f1, crossing)


def equal_error_rate(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Error rate where the false-positive and false-negative rates are equal.

    Along the ROC (fpr rising, fnr = 1 - tpr falling) the two meet between two points; the
    crossing is found by linear interpolation on that segment.
    """
    return float(_equal_error_rates(np.atleast_2d(fpr), np.atleast_2d(tpr))[0])


def ranked_metrics(ranking: Ranking, weights: np.ndarray) -> dict[str, np.ndarray]:
    """``{"auc", "acc", "ap", "eer"}``, each float64 (B,), of B weightings of ranked rows.

    weights: (B, N) non-negative, in ``ranking`` order; row n counts ``weights[b, n]`` times
    in weighting b, as if it were repeated (a bootstrap resample is its pick counts). Equals
    :func:`binary_metrics` of the rows so repeated: a threshold whose rows all weigh 0 adds a
    repeated ROC point, which changes no area, crossing or precision step. NaN where a
    weighting holds one class only.
    """
    w = np.atleast_2d(weights)
    out = {m: np.full(len(w), math.nan) for m in METRICS}
    if w.shape[1] == 0:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        out["acc"] = (w * ranking.correct).sum(1) / w.sum(1)
    tps, fps, positives, negatives = _rates(ranking, w)
    both = (positives > 0) & (negatives > 0)
    if not both.any():
        return out
    tps, fps = tps[both], fps[both]
    fpr, tpr = _roc_from_counts(tps, fps, positives[both], negatives[both])
    out["auc"][both] = np.trapezoid(tpr, fpr, axis=1)
    out["eer"][both] = _equal_error_rates(fpr, tpr)
    recall_step = np.diff(tpr, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tps / (tps + fps)
    out["ap"][both] = np.where(recall_step > 0, recall_step * precision, 0.0).sum(1)
    return out


def weighted_metrics(
    labels: np.ndarray, probs: np.ndarray, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """:func:`ranked_metrics` of rows in their own order: weights (B, N) of int (N,) labels
    and float (N,) probabilities."""
    ranking = rank(labels, probs)
    return ranked_metrics(ranking, np.atleast_2d(weights)[:, ranking.order])


def binary_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """``{"auc", "acc", "ap", "eer"}`` of one set of predictions (ACC thresholds at 0.5)."""
    values = weighted_metrics(labels, probs, np.ones((1, len(labels))))
    return {m: float(values[m][0]) for m in METRICS}


def roc_curve(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC points (fpr, tpr), float64 (M,), from (0, 0) to (1, 1) by decreasing threshold."""
    fpr, tpr = _roc_from_counts(*_rates(rank(labels, probs), np.ones((1, len(labels)))))
    return fpr[0], tpr[0]
