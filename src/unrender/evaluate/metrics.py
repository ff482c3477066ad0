"""Binary detection metrics of fake probabilities: AUC, ACC@0.5, AP (torchmetrics) and EER.

labels: int (N,) 0 real / 1 fake; probs: float (N,) fake probabilities in [0, 1]. Metrics that
need both classes (AUC, AP, EER) are NaN when only one is present.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_average_precision,
    binary_roc,
)
from torchmetrics.utilities.compute import auc as area_under

#: Metric names, in the column order of metrics.tsv.
METRICS: tuple[str, ...] = ("auc", "acc", "ap", "eer")


def _roc(target: torch.Tensor, preds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    fpr, tpr, _ = binary_roc(preds, target, validate_args=False)
    return fpr.double(), tpr.double()


def roc_curve(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC points (fpr, tpr), float64 (M,), from (0, 0) to (1, 1) by decreasing threshold."""
    fpr, tpr = _roc(
        torch.from_numpy(np.asarray(labels, np.int64)),
        torch.from_numpy(np.asarray(probs, np.float64)),
    )
    return fpr.numpy(), tpr.numpy()


def equal_error_rate(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Error rate where the false-positive and false-negative rates are equal.

    Along the ROC (fpr rising, fnr = 1 - tpr falling) the two meet between two points; the
    crossing is found by linear interpolation on that segment.
    """
    gap = fpr - (1.0 - tpr)  # rises from -1 at (0, 0) to +1 at (1, 1)
    i = int(np.argmax(gap >= 0))
    if gap[i] == 0 or i == 0:
        return float(fpr[i])
    t = -gap[i - 1] / (gap[i] - gap[i - 1])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def binary_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """``{"auc", "acc", "ap", "eer"}`` of one set of predictions (ACC thresholds at 0.5)."""
    target = torch.from_numpy(np.asarray(labels, np.int64))
    preds = torch.from_numpy(np.asarray(probs, np.float64))
    out = {"acc": float(binary_accuracy(preds, target, threshold=0.5, validate_args=False))}
    if len(np.unique(labels)) < 2:
        return {"auc": math.nan, **out, "ap": math.nan, "eer": math.nan}
    # One ROC serves AUC and EER: the bootstrap calls this thousands of times. The area is
    # what binary_auroc computes (trapezoids under the same curve).
    fpr, tpr = _roc(target, preds)
    out["auc"] = float(area_under(fpr, tpr))
    out["eer"] = equal_error_rate(fpr.numpy(), tpr.numpy())
    out["ap"] = float(binary_average_precision(preds, target, validate_args=False))
    return {m: out[m] for m in METRICS}
