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

The drop is paired. A perturbed test split holds the clean one's samples, so the same seed
draws the same clusters for both, and each draw gives one difference:

- ``delta_auc``: the model's perturbed AUC minus its clean AUC, with the 95% interval of the
  paired draws (narrower than two overlapping CIs suggest: the frames' difficulty cancels);
- ``delta_vs_rgb``: that drop minus RGB's on the same draws. Above zero the model keeps more
  of its AUC than RGB does under the perturbation (the study's question), below zero less.

The intervals are per row, for one perturbation and model each, with no correction for how
many rows the table has; read them as effect sizes, not as a family of tests.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unrender.evaluate import predictions
from unrender.evaluate.bootstrap import Level, bootstrap, interval
from unrender.evaluate.metrics import binary_metrics
from unrender.evaluate.predictions import Predictions
from unrender.evaluate.run import (
    ALL_MODELS,
    BASELINE,
    ENSEMBLES,
    MIN_PER_CLASS,
    SIZE_COLUMNS,
    format_value,
    level_size,
    levels,
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
    "delta_auc",
    "delta_lo",
    "delta_hi",
    "delta_vs_rgb",
    "delta_vs_rgb_lo",
    "delta_vs_rgb_hi",
)


@dataclass(frozen=True)
class _Scored:
    """One level's test AUCs: model -> the AUC, and model -> float (B,) its AUC per draw."""

    auc: dict[str, float]
    draws: dict[str, np.ndarray]


def _score(level: Level, n_resamples: int, seed: int, unit: str) -> _Scored:
    """The AUCs of metrics.tsv for ``level``: the same point values and bootstrap draws."""
    boot = bootstrap(level, n_resamples, seed, unit)
    return _Scored(
        {m: binary_metrics(level.labels, p)["auc"] for m, p in level.probs.items()},
        {m: boot[m]["auc"] for m in level.probs},
    )


def _test_samples(tables: Mapping[str, Predictions]) -> set[str]:
    reference = next(iter(tables.values()))
    return set(reference.sample_id[reference.split == "test"].tolist())


def robustness_rows(
    runs: Mapping[str, Mapping[str, Predictions]],
    groups: Mapping[str, str],
    n_resamples: int,
    seed: int,
    unit: str = "group",
    min_per_class: int = MIN_PER_CLASS,
) -> list[dict[str, Any]]:
    """robustness.tsv rows: perturbation name (:data:`CLEAN` among them) -> model -> its test
    predictions. AUCs and CIs as :func:`unrender.evaluate.run.score_level` computes them, the
    drops paired with the clean split's draws (module docstring).

    Raises ValueError when a perturbed split's test samples are not the clean split's: its
    draws would then not be the same clusters, and no drop could be paired.
    """
    clean_samples = _test_samples(runs[CLEAN])
    clean = {lv.name: _score(lv, n_resamples, seed, unit) for lv in levels(runs[CLEAN], groups)}
    rows = []
    for name, tables in runs.items():
        differ = clean_samples ^ _test_samples(tables)
        if differ:
            raise ValueError(
                f"perturbation {name}: test samples {', '.join(sorted(differ)[:5])} are in only "
                "one of the clean and the perturbed test splits, so their AUCs cannot be paired"
            )
        kind, amount = (
            ("none", "") if name == CLEAN else (parse(name).kind, f"{parse(name).amount:g}")
        )
        for level in levels(tables, groups):
            before = clean[level.name]
            after = before if name == CLEAN else _score(level, n_resamples, seed, unit)
            drop = {m: after.draws[m] - before.draws[m] for m in ALL_MODELS}
            point = {m: after.auc[m] - before.auc[m] for m in ALL_MODELS}
            size = level_size(level, unit, min_per_class)
            for model in ALL_MODELS:
                row = {"perturbation": name, "kind": kind, "amount": amount, "model": model}
                row.update({"level": level.name, **size})
                # (column, prefix of its interval's columns, value, its bootstrap draws)
                for column, prefix, value, draws in (
                    ("auc", "auc", after.auc[model], after.draws[model]),
                    ("delta_auc", "delta", point[model], drop[model]),
                    (
                        "delta_vs_rgb",
                        "delta_vs_rgb",
                        point[model] - point[BASELINE],
                        drop[model] - drop[BASELINE],
                    ),
                ):
                    lo, hi = interval(draws)
                    row[column] = format_value(value)
                    row.update({f"{prefix}_lo": format_value(lo), f"{prefix}_hi": format_value(hi)})
                rows.append(row)
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
    rows = robustness_rows(runs, groups, n_resamples, seed, unit, min_per_class)
    write_tsv(table_path, rows, ROBUSTNESS_COLUMNS)
    plot_robustness(rows, figure_path)
    return rows
