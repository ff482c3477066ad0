"""Evaluation of a run: every model on the test split, with CIs, paired tests and ROC curves.

Levels (each a set of rows, see :class:`unrender.evaluate.bootstrap.Level`):

- ``frame``: every test frame of a video.
- ``video``: one row per test video, its probability the mean of its frames' probabilities.
- ``image``: every test image (kind image), scored on its own.

Bootstrap clusters are the manifest groups (``unit="group"``) or the videos and images
(``unit="video"``); frames of a video always move together.

Outputs: ``metrics.tsv`` (:data:`METRIC_COLUMNS`, one row per model and level), and
``comparison.tsv`` (:data:`COMPARISON_COLUMNS`, each ensemble vs RGB per level: the AUC
difference, its paired-bootstrap 95% CI and two-sided p-value, DeLong's z and p, and both
p-values Holm-corrected over the ensembles of the level), and the ROC figure. A level with
fewer than ``min_per_class`` clusters of either class is flagged ``small_n`` in both tables.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from unrender.config import default
from unrender.evaluate import predictions
from unrender.evaluate.bootstrap import Level, bootstrap, interval, paired_p_value
from unrender.evaluate.delong import delong_test
from unrender.evaluate.ensembles import ensemble_mean, ensemble_stacked, fit_stacker
from unrender.evaluate.holm import holm
from unrender.evaluate.metrics import METRICS, binary_metrics, roc_curve
from unrender.evaluate.predictions import Predictions
from unrender.io import atomic_path, write_tsv
from unrender.train.inputs import DETECTOR_INPUTS, MODEL_INPUTS

log = logging.getLogger(__name__)

BASELINE = "rgb"
#: The trained models, in MODEL_INPUTS' order (the baseline first).
TRAINED: tuple[str, ...] = tuple(MODEL_INPUTS)
#: Models whose predictions the evaluation reads: the trained ones, then the training-free.
SCORED: tuple[str, ...] = (*TRAINED, *DETECTOR_INPUTS)
ENSEMBLES: tuple[str, ...] = ("ensemble_net", "ensemble_mean", "ensemble_stacked")
#: Every model of metrics.tsv, in its row order.
ALL_MODELS: tuple[str, ...] = (*SCORED, *ENSEMBLES[1:])
LEVELS: tuple[str, ...] = ("frame", "video", "image")
#: Default of ``evaluate.min_per_class`` (the schema's): fewer bootstrap clusters of a class
#: flag the level.
MIN_PER_CLASS: int = default("evaluate", "min_per_class")

#: How many rows, units and groups a level has, what was resampled, and whether it is too
#: small for its CIs and p-values to mean anything (``small_n``: ``yes`` or ``no``).
SIZE_COLUMNS: tuple[str, ...] = (
    "n",
    "n_units",
    "n_groups",
    "bootstrap_unit",
    "clusters_real",
    "clusters_fake",
    "small_n",
)
METRIC_COLUMNS: tuple[str, ...] = (
    "model",
    "level",
    *SIZE_COLUMNS,
    *(f"{m}{suffix}" for m in METRICS for suffix in ("", "_lo", "_hi")),
)
COMPARISON_COLUMNS: tuple[str, ...] = (
    "model",
    "baseline",
    "level",
    *SIZE_COLUMNS,
    "auc",
    "auc_baseline",
    "delta_auc",
    "delta_lo",
    "delta_hi",
    "p_value",
    "p_holm",
    "delong_z",
    "delong_p",
    "delong_p_holm",
)


def format_value(x: float) -> str:
    """A metric as metrics.tsv writes it: 6 decimals, or ``nan``."""
    return "nan" if math.isnan(x) else f"{x:.6f}"


def levels(
    tables: Mapping[str, Predictions],
    groups: Mapping[str, str] | None = None,
    split: str = "test",
) -> list[Level]:
    """The non-empty levels of ``split`` for the models of ``tables`` (same rows each).

    groups: sample_id -> manifest group; None makes every sample its own group.
    """
    reference = next(iter(tables.values()))
    out: list[Level] = []
    for kind, name in (("video", "frame"), ("image", "image")):
        mask = (reference.split == split) & (reference.kind == kind)
        if not mask.any():
            continue
        sample_ids, unit = np.unique(reference.sample_id[mask], return_inverse=True)
        missing = [s for s in sample_ids if groups is not None and s not in groups]
        if missing:
            raise ValueError(f"no group known for test sample(s) {', '.join(missing[:5])}")
        names = sample_ids if groups is None else [groups[s] for s in sample_ids]
        group = np.unique(names, return_inverse=True)[1]
        probs = {m: t.prob[mask] for m, t in tables.items()}
        out.append(Level(name, reference.label[mask], unit, group, probs))
        if kind == "video":
            counts = np.bincount(unit)
            labels = np.zeros(len(counts), np.int64)
            labels[unit] = reference.label[mask]
            video_probs = {m: np.bincount(unit, weights=p) / counts for m, p in probs.items()}
            out.append(Level("video", labels, np.arange(len(counts)), group, video_probs))
    return out


def level_size(level: Level, unit: str, min_per_class: int) -> dict[str, Any]:
    """The :data:`SIZE_COLUMNS` of a level resampled by ``unit``."""
    real, fake = level.clusters_per_class(unit)
    return {
        "n": len(level.labels),
        "n_units": level.n_units,
        "n_groups": level.n_groups,
        "bootstrap_unit": unit,
        "clusters_real": real,
        "clusters_fake": fake,
        "small_n": "yes" if min(real, fake) < min_per_class else "no",
    }


def score_level(
    level: Level,
    n_resamples: int,
    seed: int,
    unit: str = "group",
    min_per_class: int = MIN_PER_CLASS,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """metrics.tsv rows (every model) and comparison.tsv rows (ensembles vs RGB) of a level.

    The bootstrap resamples ``unit`` clusters; the ensembles' p-values are Holm-corrected
    as one family per level (the ensembles present).
    """
    boot = bootstrap(level, n_resamples, seed, unit)
    size = level_size(level, unit, min_per_class)
    points = {m: binary_metrics(level.labels, p) for m, p in level.probs.items()}
    metric_rows = []
    for model, point in points.items():
        row: dict[str, Any] = {"model": model, "level": level.name, **size}
        for k in METRICS:
            lo, hi = interval(boot[model][k])
            row.update(
                {
                    k: format_value(point[k]),
                    f"{k}_lo": format_value(lo),
                    f"{k}_hi": format_value(hi),
                }
            )
        metric_rows.append(row)
    comparison_rows = []
    for model in ENSEMBLES:
        if model not in points or BASELINE not in points:
            continue
        deltas = boot[model]["auc"] - boot[BASELINE]["auc"]
        lo, hi = interval(deltas)
        z, p_delong = delong_test(level.labels, level.probs[model], level.probs[BASELINE])
        comparison_rows.append(
            {
                "model": model,
                "baseline": BASELINE,
                "level": level.name,
                **size,
                "auc": format_value(points[model]["auc"]),
                "auc_baseline": format_value(points[BASELINE]["auc"]),
                "delta_auc": format_value(points[model]["auc"] - points[BASELINE]["auc"]),
                "delta_lo": format_value(lo),
                "delta_hi": format_value(hi),
                "p_value": paired_p_value(deltas),
                "delong_z": format_value(z),
                "delong_p": p_delong,
            }
        )
    for raw, adjusted in (("p_value", "p_holm"), ("delong_p", "delong_p_holm")):
        for row, p in zip(comparison_rows, holm([r[raw] for r in comparison_rows]), strict=True):
            row[raw], row[adjusted] = format_value(row[raw]), format_value(p)
    return metric_rows, comparison_rows


def plot_roc(levels_: Sequence[Level], path: str | os.PathLike[str]) -> None:
    """One ROC panel per level, a curve per model (RGB black, ensembles dashed); PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(len(levels_), 1), figsize=(5 * max(len(levels_), 1), 5))
    for ax, level in zip(np.atleast_1d(axes), levels_, strict=False):
        if len(np.unique(level.labels)) < 2:
            ax.set_title(f"{level.name} level: one class only, no ROC")
            continue
        for model, probs in level.probs.items():
            fpr, tpr = roc_curve(level.labels, probs)
            auc = binary_metrics(level.labels, probs)["auc"]
            style = {"color": "black", "lw": 2.5} if model == BASELINE else {}
            if model in ENSEMBLES:
                style = {"ls": "--", "lw": 2}
            ax.plot(fpr, tpr, label=f"{model} ({auc:.3f})", **style)
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
        ax.set(
            title=f"{level.name} level (n={len(level.labels)}, units={level.n_units}, "
            f"groups={level.n_groups})",
            xlabel="false positive rate",
            ylabel="true positive rate",
            xlim=(0, 1),
            ylim=(0, 1),
            aspect="equal",
        )
        ax.legend(loc="lower right", fontsize=8, title="model (AUC)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def evaluate_run(
    prediction_paths: Mapping[str, str | os.PathLike[str]],
    metrics_path: str | os.PathLike[str],
    comparison_path: str | os.PathLike[str],
    roc_path: str | os.PathLike[str],
    mean_path: str | os.PathLike[str],
    stacked_path: str | os.PathLike[str],
    stacker_path: str | os.PathLike[str],
    groups: Mapping[str, str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    unit: str = "group",
    min_per_class: int = MIN_PER_CLASS,
) -> list[dict[str, Any]]:
    """Evaluate the models' predictions (model -> predictions TSV, every model of
    :data:`SCORED`); write everything.

    Builds ``ensemble_mean`` and ``ensemble_stacked`` (fit on val) and writes their
    predictions and the stacker, then scores every model on the test split. groups:
    sample_id -> manifest group (None: every sample its own group); unit, min_per_class: see
    :func:`score_level`. Returns the metrics rows.
    """
    missing = [m for m in SCORED if m not in prediction_paths]
    if missing:
        raise ValueError(f"predictions of {', '.join(missing)} are missing")
    tables = {m: predictions.read(prediction_paths[m]) for m in SCORED}
    for m, t in tables.items():
        if not t.same_rows(tables[BASELINE]):
            raise ValueError(
                f"{prediction_paths[m]} does not list the same frames as "
                f"{prediction_paths[BASELINE]}; were the models trained on different runs? "
                "Retrain them (delete the run's models/ and predictions/)"
            )
    stacker = fit_stacker(tables)
    stacker.save(stacker_path)
    tables["ensemble_mean"] = ensemble_mean(tables)
    tables["ensemble_stacked"] = ensemble_stacked(tables, stacker)
    predictions.write(mean_path, tables["ensemble_mean"])
    predictions.write(stacked_path, tables["ensemble_stacked"])
    metric_rows: list[dict[str, Any]] = []
    comparison_rows: list[dict[str, Any]] = []
    test_levels = levels({m: tables[m] for m in ALL_MODELS}, groups)
    if not test_levels:
        raise ValueError(f"{prediction_paths[BASELINE]} has no test rows to evaluate")
    for level in test_levels:
        log.info(
            "level %s: %d rows, %d units, %d groups",
            level.name,
            len(level.labels),
            level.n_units,
            level.n_groups,
        )
        rows, comparisons = score_level(level, n_resamples, seed, unit, min_per_class)
        metric_rows += rows
        comparison_rows += comparisons
    write_tsv(metrics_path, metric_rows, METRIC_COLUMNS)
    write_tsv(comparison_path, comparison_rows, COMPARISON_COLUMNS)
    plot_roc(test_levels, roc_path)
    return metric_rows
