"""DeLong's test of two correlated ROC AUCs (DeLong, DeLong & Clarke-Pearson 1988).

The AUC of a model is the mean of its *placement values*: for each fake, the fraction of reals
it outscores (ties count 1/2), and for each real, the fraction of fakes that outscore it. The
covariance of two models' AUCs on the same rows is estimated from the covariances of their
placement values, ``S = S_fake / m + S_real / n`` (m fakes, n reals). The placements come from
mid-ranks (Sun & Xu 2014), O(N log N) per model.

It treats every row as an independent sample: at the frame level (frames of a video are
correlated) its p-value is optimistic, which is why the cluster bootstrap is the primary test
and DeLong the analytic second opinion beside it.
"""

from __future__ import annotations

import math

import numpy as np

from unrender.evaluate.metrics import midranks


def placements(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Placement values of one model: float (m,) per fake and float (n,) per real.

    labels: int (N,) 0 real / 1 fake; scores: float (N,). Each lies in [0, 1]; both means equal
    the AUC.
    """
    fake, real = scores[labels == 1], scores[labels == 0]
    m, n = len(fake), len(real)
    combined = midranks(np.concatenate([fake, real]))
    fake_places = (combined[:m] - midranks(fake)) / n
    real_places = 1.0 - (combined[m:] - midranks(real)) / m
    return fake_places, real_places


def delong_covariance(
    labels: np.ndarray, scores: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """AUCs float (K,) of K models on the same rows and their covariance float (K, K).

    labels: int (N,) with both classes; scores: K float (N,) arrays.
    """
    fake_places, real_places = zip(*(placements(labels, s) for s in scores), strict=True)
    fake_places_arr, real_places_arr = np.stack(fake_places), np.stack(real_places)
    m, n = fake_places_arr.shape[1], real_places_arr.shape[1]
    aucs = fake_places_arr.mean(axis=1)
    cov = np.atleast_2d(np.cov(fake_places_arr)) / m + np.atleast_2d(np.cov(real_places_arr)) / n
    return aucs, cov


def delong_test(labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided DeLong test of AUC(a) = AUC(b) on the same rows: (z, p).

    labels: int (N,) 0/1; a, b: float (N,) scores of two models. NaN, NaN when a class has
    fewer than two rows (no covariance). A zero variance (identical placements) gives z = 0,
    p = 1 for equal AUCs and z = +-inf, p = 0 otherwise.
    """
    if min(int(np.sum(labels == 0)), int(np.sum(labels == 1))) < 2:
        return math.nan, math.nan
    aucs, cov = delong_covariance(labels, (a, b))
    delta = float(aucs[0] - aucs[1])
    variance = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if variance <= 1e-15:
        return (0.0, 1.0) if abs(delta) < 1e-12 else (math.copysign(math.inf, delta), 0.0)
    z = delta / math.sqrt(variance)
    return z, math.erfc(abs(z) / math.sqrt(2))
