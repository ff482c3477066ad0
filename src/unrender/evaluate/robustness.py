"""Laundering robustness (``evaluate.perturb``): every model re-scored on perturbed test frames.

Per perturbation (:mod:`unrender.perturb`) the workflow writes a run-like folder
``perturb/{name}/`` holding the test samples only: ``shards/{shard}.tsv``,
``frames/{shard}/{sample_id}/{k}.png`` (:func:`unrender.perturb.perturb_shard`) and
``modalities/`` (the run's decomposition backend, rule decompose);
:func:`score_perturbed` runs the trained models on them
(``ensemble_mean`` and ``ensemble_stacked`` as in the evaluation, the stacker the one fit on
the clean val split) into ``perturb/{name}/predictions/{model}.tsv``.

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


def score_perturbed(
    perturbed_dir: str | os.PathLike[str],
    shard_tsvs: Sequence[str | os.PathLike[str]],
    model_dirs: Mapping[str, str | os.PathLike[str]],
    stacker_path: str | os.PathLike[str],
    calibration_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    device: str = "auto",
    batch_size: int = 32,
) -> int:
    """Score the perturbed test frames with every trained model; return the frame count.

    perturbed_dir: the ``perturb/{name}`` folder (``shards/``, ``frames/``, ``modalities/``);
    shard_tsvs: its ``shards/{shard}.tsv``; model_dirs: model -> ``models/{model}`` (every
    trained model); calibration_path: the run's ``lighting_consistency`` threshold. Writes
    ``{model}.tsv`` predictions (split ``test``) of every model of ``ALL_MODELS`` (the
    training-free detector too) into ``out_dir``.
    """
    import torch

    from unrender import lighting_consistency
    from unrender.devices import resolve_device
    from unrender.evaluate.ensembles import write_rescored
    from unrender.train import checkpoint
    from unrender.train.data import FrameDataset
    from unrender.train.loop import predict_logits
    from unrender.train.packs import shard_items

    torch_device = resolve_device(device)
    shards = [(Path(p).stem, shard_items(perturbed_dir, p)) for p in shard_tsvs]
    items = [it for _, shard in shards for it in shard]
    tables: dict[str, Predictions] = {}
    for name, folder in model_dirs.items():
        model, meta = checkpoint.load(folder, torch_device)
        size = meta["options"]["image_size"]
        datasets = [FrameDataset(perturbed_dir, s, its, model.inputs, size) for s, its in shards]
        loader = torch.utils.data.DataLoader(
            torch.utils.data.ConcatDataset(datasets), batch_size=batch_size
        )
        probs = torch.sigmoid(predict_logits(model, loader, torch_device)).double().numpy()
        tables[name] = predictions.from_rows(
            [it.sample_id for it in items],
            [it.k for it in items],
            ["test"] * len(items),
            [it.label for it in items],
            probs,
            [it.kind for it in items],
        )
        log.info("%s: scored %d perturbed frames", name, len(items))
    tables[lighting_consistency.NAME] = lighting_consistency.rescore(
        perturbed_dir, shards, next(iter(tables.values())), calibration_path
    )
    write_rescored(tables, stacker_path, out_dir)
    return len(items)


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
