"""Cross-dataset evaluation (config ``evaluate.cross``): a run's models scored on other runs' data.

The protocol, exactly:

- **Targets** are named by their run name: target ``T`` is ``results/T/``, which ``snakemake
  data`` with T's own config made (``shards/*.tsv``, ``frames/{shard}/``,
  ``modalities/{modality}/{shard}/`` and ``data_summary.tsv``). Nothing of T is recomputed:
  its frames and modalities are scored as T's config made them.
- **Samples**: the target's accepted samples whose manifest split is ``test`` when it has any
  (an official test list: Celeb-DF v2's ``List_of_testing_videos.txt``, FF++'s
  ``splits/test.json``, a user manifest's split column), else every accepted sample (the
  whole dataset). The seeded group split of T's own config is never used.
- **Frames**: every frame T extracted of a sample (its ``frames.per_video``), each resized to
  the models' ``train.image_size`` with area averaging, as the run's own packs are.
- **Models**: the run's trained models (the epoch chosen on the run's own val), and
  ``ensemble_mean`` and ``ensemble_stacked`` with the stacker the run fit on its own val.
  Nothing is fit on the target.
- **Metrics**: what :mod:`unrender.evaluate.run` computes on the test split, per target: the
  frame, video (mean of a video's frame probabilities) and image levels, percentile CIs from
  the cluster bootstrap over the target's manifest groups (``evaluate.unit``), and each
  ensemble vs RGB (paired bootstrap, DeLong, Holm over the ensembles of a target and level).

Which targets are ready, and the config checks: :mod:`unrender.evaluate.targets` (no torch:
the workflow imports it when it starts). Files: ``results/{run}/cross/{target}/{model}.tsv``
(per-frame predictions, the
:mod:`unrender.evaluate.predictions` table, split ``test``) and ``results/{run}/cross.tsv``
(:data:`CROSS_COLUMNS`: one row per target, model and level; the comparison columns are
empty on the rows of models that are not ensembles).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from unrender import lighting_consistency, manifest
from unrender.evaluate import predictions
from unrender.evaluate.ensembles import write_rescored
from unrender.evaluate.run import (
    ALL_MODELS,
    BASELINE,
    COMPARISON_COLUMNS,
    METRIC_COLUMNS,
    MIN_PER_CLASS,
    TRAINED,
    levels,
    score_level,
)
from unrender.io import write_tsv
from unrender.train import checkpoint
from unrender.train.data import FrameDataset
from unrender.train.inputs import INPUTS
from unrender.train.packs import shard_items

log = logging.getLogger(__name__)

#: The comparison of an ensemble row (comparison.tsv's columns that metrics.tsv lacks).
DELTA_COLUMNS: tuple[str, ...] = tuple(c for c in COMPARISON_COLUMNS if c not in METRIC_COLUMNS)
CROSS_COLUMNS: tuple[str, ...] = ("target", *METRIC_COLUMNS, *DELTA_COLUMNS)


def scored_samples(samples: Sequence[manifest.Sample]) -> set[str]:
    """The sample ids a target is scored on: its ``split=test`` samples if any, else all."""
    tests = {s.sample_id for s in samples if s.split == "test"}
    return tests or {s.sample_id for s in samples}


def trained_models(
    model_dirs: Mapping[str, str | os.PathLike[str]], device: torch.device
) -> tuple[dict[str, torch.nn.Module], int]:
    """The trained models (every one of TRAINED, in eval mode on ``device``) and the
    ``train.image_size`` they share; ValueError if one is missing or their sizes differ."""
    missing = [m for m in TRAINED if m not in model_dirs]
    if missing:
        raise ValueError(f"models {', '.join(missing)} are missing")
    models, sizes = {}, {}
    for name in TRAINED:
        models[name], meta = checkpoint.load(model_dirs[name], device)
        sizes[name] = meta["options"]["image_size"]
    if len(set(sizes.values())) != 1:
        raise ValueError(f"the models were trained at different image sizes: {sizes}")
    return models, next(iter(sizes.values()))


@torch.no_grad()
def score_target(
    model_dirs: Mapping[str, str | os.PathLike[str]],
    stacker_path: str | os.PathLike[str],
    calibration_path: str | os.PathLike[str],
    target_dir: str | os.PathLike[str],
    shard_tsvs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    batch_size: int = 32,
) -> int:
    """Score every model of ALL_MODELS on a target's frames; write its predictions tables.

    model_dirs: trained model -> its checkpoint folder; stacker_path: the run's
    ``stacker.json``; calibration_path: its ``lighting_consistency`` threshold;
    target_dir: a run-like folder with ``shard_tsvs`` (its accepted samples), the
    frames and the modalities: ``results/{target}``, or a perturbation's test split
    ``results/{run}/perturb/{name}`` (:mod:`unrender.evaluate.robustness`); out_dir:
    the folder of the predictions, ``{model}.tsv`` per model of ALL_MODELS. The frames of
    :func:`scored_samples` are read in shard and frame order, each model's fake probability
    in [0, 1] per frame, split ``test``. Returns the number of frames.
    """
    device = torch.device(device)
    models, image_size = trained_models(model_dirs, device)
    # The test list is the whole target's: a shard without test samples gives none.
    keep = scored_samples([s for p in shard_tsvs for s in manifest.read_samples(p)])
    items, probs, per_shard = [], {m: [] for m in TRAINED}, []
    for shard_tsv in shard_tsvs:
        shard_list = [it for it in shard_items(target_dir, shard_tsv) if it.sample_id in keep]
        per_shard.append(shard_list)
        frames = FrameDataset(target_dir, Path(shard_tsv).stem, shard_list, INPUTS, image_size)
        for batch, _ in DataLoader(frames, batch_size=batch_size):
            batch = {k: v.to(device) for k, v in batch.items()}
            for name, model in models.items():
                probs[name].append(torch.sigmoid(model(batch)).cpu().double().numpy())
        items += shard_list
    if not items:
        raise ValueError(f"{target_dir} has no accepted sample to score")
    tables = {
        name: predictions.from_rows(
            [it.sample_id for it in items],
            [it.k for it in items],
            ["test"] * len(items),
            [it.label for it in items],
            np.concatenate(probs[name]),
            [it.kind for it in items],
        )
        for name in TRAINED
    }
    tables[lighting_consistency.NAME] = lighting_consistency.rescore(
        target_dir,
        [(Path(p).stem, its) for p, its in zip(shard_tsvs, per_shard, strict=True)],
        tables[TRAINED[0]],
        calibration_path,
    )
    write_rescored(tables, stacker_path, out_dir)
    return len(items)


def cross_rows(
    tables: Mapping[str, predictions.Predictions],
    target: str,
    groups: Mapping[str, str],
    n_resamples: int,
    seed: int,
    unit: str = "group",
    min_per_class: int = MIN_PER_CLASS,
) -> list[dict[str, Any]]:
    """cross.tsv rows of one target: model -> its predictions there (ALL_MODELS, same rows);
    groups: sample_id -> the target's manifest group. See :func:`score_level`."""
    reference = tables[BASELINE]
    for name, table in tables.items():
        if not table.same_rows(reference):
            raise ValueError(f"the {target} predictions of {name} and {BASELINE} differ in rows")
    rows: list[dict[str, Any]] = []
    for level in levels(tables, groups):
        metric_rows, comparison_rows = score_level(level, n_resamples, seed, unit, min_per_class)
        compared = {c["model"]: c for c in comparison_rows}
        for row in metric_rows:
            extra = compared.get(row["model"], {})
            delta = {c: extra.get(c, "") for c in DELTA_COLUMNS}
            rows.append({"target": target, **row, **delta})
    return rows


def evaluate_cross(
    prediction_dirs: Mapping[str, str | os.PathLike[str]],
    groups: Mapping[str, Mapping[str, str]],
    out_path: str | os.PathLike[str],
    n_resamples: int = 1000,
    seed: int = 0,
    unit: str = "group",
    min_per_class: int = MIN_PER_CLASS,
) -> list[dict[str, Any]]:
    """Write cross.tsv. prediction_dirs: target -> the folder :func:`score_target` wrote;
    groups: target -> sample_id -> manifest group.

    Targets keep the order of ``prediction_dirs`` (the config's). Returns the rows.
    """
    rows: list[dict[str, Any]] = []
    for target, folder in prediction_dirs.items():
        tables = {m: predictions.read(Path(folder) / f"{m}.tsv") for m in ALL_MODELS}
        log.info("target %s: %d frames", target, len(tables[BASELINE]))
        rows += cross_rows(tables, target, groups[target], n_resamples, seed, unit, min_per_class)
    write_tsv(out_path, rows, CROSS_COLUMNS)
    return rows
