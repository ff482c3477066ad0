"""The cluster bootstrap of one level: resamples scored as a block vs one resample at a time.

:func:`unrender.evaluate.bootstrap.bootstrap` weighs each row by its cluster's pick count and
scores a block of resamples at once (:func:`unrender.evaluate.metrics.ranked_metrics`). The
baseline, in the same run, is what it did before: per resample, repeat the picked rows and
call :func:`unrender.evaluate.metrics.binary_metrics` once per model. Both use our numpy
metrics, so the ratio is the vectorisation alone; the torchmetrics calls of the old code
(~1 ms each) were slower again. The two must agree to 1e-12.

A level: ``--rows`` test frames, 5 per video, 2 videos per group, half fake, 9 models (the
evaluation's 7 trained models and 2 post-hoc ensembles), ``--resamples`` resamples. The
baseline's time is extrapolated from its first ``--baseline-resamples`` resamples (it is
linear in them) when that is fewer.

    .venv/bin/python bench/bootstrap.py [--rows 400 10000 100000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from unrender.evaluate.bootstrap import Level, bootstrap, cluster_strata, draw_counts
from unrender.evaluate.metrics import METRICS, binary_metrics

MODELS = 9
SEED = 0


def make_level(rows: int) -> Level:
    """A synthetic test level of ``rows`` frames (probabilities rounded to 3 decimals: ties)."""
    rng = np.random.default_rng(SEED)
    unit = np.arange(rows) // 5
    group = np.arange(unit.max() + 1) // 2
    labels = (unit % 2).astype(np.int64)
    probs = {
        f"m{i}": np.round(np.clip(0.4 * labels + 0.6 * rng.random(rows), 0, 1), 3)
        for i in range(MODELS)
    }
    return Level("frame", labels, unit, group, probs)


def one_at_a_time(level: Level, counts: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The previous algorithm: every resample's rows repeated, then scored model by model.

    counts: int (B, C) cluster pick counts of B resamples (:func:`draw_counts`)."""
    clusters = level.clusters("group")
    out = {m: {k: np.empty(len(counts)) for k in METRICS} for m in level.probs}
    for b in range(len(counts)):
        rows = np.repeat(np.arange(len(level.labels)), counts[b, clusters])
        for model, probs in level.probs.items():
            for k, v in binary_metrics(level.labels[rows], probs[rows]).items():
                out[model][k][b] = v
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[400, 10_000, 100_000])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--baseline-resamples", type=int, default=50)
    args = parser.parse_args()
    print(f"# {platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"# {args.resamples} resamples x {MODELS} models, group bootstrap")
    print("| rows | one at a time s | block s | speed-up | max abs difference |")
    print("|---:|---:|---:|---:|---:|")
    for rows in args.rows:
        level = make_level(rows)
        start = time.perf_counter()
        block = bootstrap(level, args.resamples, SEED)
        block_s = time.perf_counter() - start
        part = min(args.baseline_resamples, args.resamples)
        start = time.perf_counter()
        # The same draws as bootstrap(), which calls draw_counts with the same seed.
        counts = draw_counts(
            cluster_strata(level.clusters("group"), level.labels), args.resamples, SEED
        )
        baseline = one_at_a_time(level, counts[:part])
        baseline_s = (time.perf_counter() - start) * args.resamples / part
        differences = [
            np.nanmax(np.abs(block[m][k][:part] - baseline[m][k]))
            for m in level.probs
            for k in METRICS
        ]
        extrapolated = "" if part == args.resamples else f" (from {part})"
        print(
            f"| {rows:,} | {baseline_s:.2f}{extrapolated} | {block_s:.2f} | "
            f"{baseline_s / block_s:.0f}x | {max(differences):.1e} |"
        )


if __name__ == "__main__":
    main()
