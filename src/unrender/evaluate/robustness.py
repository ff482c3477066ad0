"""Laundering robustness (``evaluate.perturb``): every model re-scored on perturbed test frames.

Per perturbation (:mod:`unrender.perturb`) the workflow writes a run-like folder
``perturb/{name}/`` holding the test samples only: ``shards/{shard}.tsv``,
``frames/{shard}/{sample_id}/{k}.png`` (:func:`unrender.perturb.perturb_shard`) and
``modalities/`` (the run's decomposition backend, rule decompose);
rule score_perturbed scores it as a cross-dataset target is scored
(:func:`unrender.evaluate.cross.score_target`: ``ensemble_mean`` and ``ensemble_stacked`` as in
the evaluation, the stacker the one fit on the clean val split) into
``perturb/{name}/predictions/{model}.tsv``.

``robustness.tsv`` (:data:`ROBUSTNESS_COLUMNS`) has one row per perturbation, model and level:
the test AUC with the group bootstrap 95% CI of metrics.tsv (same levels, clusters, resamples
and seed, so the ``none`` rows, the unperturbed test split, repeat metrics.tsv's AUCs).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unrender.evaluate import predictions
from unrender.evaluate.predictions import Predictions
from unrender.evaluate.run import (
    ALL_MODELS,
    BASELINE,
    ENSEMBLES,
    MIN_PER_CLASS,
    SIZE_COLUMNS,
    levels,
    score_level,
)
from unrender.io import atomic_path, write_tsv
from unrender.perturb import CLEAN, parse

log = logging.getLogger(__name__)

ROBUSTNESS_COLUMNS: tuple[str, ...] = (
    "perturbation",
    "kind",
    "amount",
    "model",
    "level",
    *SIZE_COLUMNS,
    "auc",
    "auc_lo",
    "auc_hi",
)


def robustness_rows(
    name: str,
    tables: Mapping[str, Predictions],
    groups: Mapping[str, str],
    n_resamples: int,
    seed: int,
    unit: str = "group",
    min_per_class: int = MIN_PER_CLASS,
) -> list[dict[str, Any]]:
    """robustness.tsv rows of one perturbation (``name``, or :data:`CLEAN`): model -> its test
    predictions; AUCs and CIs as :func:`unrender.evaluate.run.score_level` computes them."""
    kind, amount = ("none", "") if name == CLEAN else (parse(name).kind, f"{parse(name).amount:g}")
    rows = []
    for level in levels({m: tables[m] for m in ALL_MODELS}, groups):
        metric_rows, _ = score_level(level, n_resamples, seed, unit, min_per_class)
        for r in metric_rows:
            rows.append(
                {
                    "perturbation": name,
                    "kind": kind,
                    "amount": amount,
                    **{c: r[c] for c in ("model", "level", *SIZE_COLUMNS)},
                    **{c: r[c] for c in ("auc", "auc_lo", "auc_hi")},
                }
            )
    return rows


def plot_robustness(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """AUC vs perturbation, one panel per level and one line per model (RGB black and thick,
    the ensembles dashed, as in the ROC figure); PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["perturbation"] for r in rows))
    level_names = list(dict.fromkeys(r["level"] for r in rows))
    fig, axes = plt.subplots(1, len(level_names), figsize=(5.5 * len(level_names), 4.5))
    for ax, level in zip(np.atleast_1d(axes), level_names, strict=True):
        of_level = [r for r in rows if r["level"] == level]
        n = of_level[0]["n_units"]
        if all(r["auc"] == "nan" for r in of_level):
            ax.set_title(f"{level} level (test units={n}): one class only, no AUC")
            ax.axis("off")
            continue
        for model in ALL_MODELS:
            auc = {r["perturbation"]: float(r["auc"]) for r in of_level if r["model"] == model}
            style: dict[str, Any] = {"marker": "o", "ms": 4}
            if model == BASELINE:
                style.update(color="black", lw=2.5)
            elif model in ENSEMBLES:
                style.update(ls="--", lw=2)
            ax.plot(range(len(names)), [auc.get(n, np.nan) for n in names], label=model, **style)
        ax.set(
            title=f"{level} level (test units={n})",
            xlabel="perturbation of the test frames",
            ylabel="AUC",
            ylim=(0, 1),
        )
        ax.set_xticks(range(len(names)), names, rotation=30)
        ax.axhline(0.5, color="0.7", lw=0.8)
        ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def robustness_run(
    clean_predictions: Mapping[str, str | os.PathLike[str]],
    perturbed_predictions: Mapping[str, str | os.PathLike[str]],
    groups: Mapping[str, str],
    table_path: str | os.PathLike[str],
    figure_path: str | os.PathLike[str],
    n_resamples: int = 1000,
    seed: int = 0,
    unit: str = "group",
    min_per_class: int = MIN_PER_CLASS,
) -> list[dict[str, Any]]:
    """Write robustness.tsv and its figure; return the rows.

    clean_predictions: model -> the run's ``predictions/{model}.tsv`` (every model of
    ``ALL_MODELS``); perturbed_predictions: perturbation name -> its ``predictions`` folder.
    """
    runs = {CLEAN: {m: predictions.read(clean_predictions[m]) for m in ALL_MODELS}}
    for name, folder in perturbed_predictions.items():
        runs[name] = {m: predictions.read(Path(folder) / f"{m}.tsv") for m in ALL_MODELS}
    rows = []
    for name, tables in runs.items():
        rows += robustness_rows(name, tables, groups, n_resamples, seed, unit, min_per_class)
    write_tsv(table_path, rows, ROBUSTNESS_COLUMNS)
    plot_robustness(rows, figure_path)
    return rows
