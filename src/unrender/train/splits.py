"""The run's one train/val/test split: ``splits.tsv``, written once by the ``split`` rule.

Every model and the evaluation read the same file, so the seven classifiers see exactly the
same rows in each split. ``splits.tsv`` has one row per accepted sample:
``sample_id, group, split`` (split is ``train``, ``val`` or ``test``), in shard/manifest
order. This module needs no torch, so the ``split`` job starts in well under a second.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from unrender import manifest
from unrender.io import read_tsv, write_tsv
from unrender.manifest import Sample

SPLITS: tuple[str, ...] = ("train", "val", "test")

#: Columns of ``splits.tsv``.
COLUMNS: tuple[str, ...] = ("sample_id", "group", "split")


def assign_splits(
    samples: Sequence[Sample], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """``sample_id -> train|val|test``, keeping every group on one side.

    A group takes the split its manifest rows name (rows of the group with an empty split
    follow it); naming two splits in one group is an error, since it would leak the source
    across the boundary. Groups with no split named are shuffled with ``seed`` within strata
    of equal label sets (real-only, fake-only, both), and each stratum gives
    ``round(n * test_fraction)`` groups to test and ``round(n * val_fraction)`` to val
    (train keeps at least one group), so both classes reach val and test when each stratum
    is large enough for those to be at least 1. Two cases follow a dataset's own split:

    - When some group is named ``test`` (an official test list), that is the test split:
      no unnamed group is drawn into it, they go to val and train.
    - When no group is named ``val`` (DFDC's metadata, releases with only train and test),
      val is drawn from the groups named ``train`` as well, ``round(n * val_fraction)`` of
      each stratum, seeded: the epoch is chosen on val, and without one no model trains.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"split fractions val={val_fraction}, test={test_fraction} must be >= 0 and sum < 1"
        )
    labels: dict[str, set[int]] = {}
    for s in samples:
        labels.setdefault(s.group, set()).add(s.label)
    group_split = manifest.check_group_splits((s.group, s.split) for s in samples)
    named = set(group_split.values())
    named_train = {g for g, split in group_split.items() if split == "train"}
    rng = np.random.default_rng(seed)
    unnamed = _strata(labels, labels.keys() - group_split.keys())
    for key in sorted(unnamed):
        groups = [unnamed[key][i] for i in rng.permutation(len(unnamed[key]))]
        n_test = 0 if "test" in named else min(round(len(groups) * test_fraction), len(groups) - 1)
        n_val = min(round(len(groups) * val_fraction), len(groups) - 1 - n_test)
        for i, g in enumerate(groups):
            group_split[g] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    if "val" not in named:
        # Its own stream, so the groups above are split as they would be without these.
        rng = np.random.default_rng([seed, 1])
        trained = _strata(labels, named_train)
        for key in sorted(trained):
            groups = [trained[key][i] for i in rng.permutation(len(trained[key]))]
            for g in groups[: min(round(len(groups) * val_fraction), len(groups) - 1)]:
                group_split[g] = "val"
    return {s.sample_id: group_split[s.group] for s in samples}


def _strata(labels: dict[str, set[int]], groups: set[str]) -> dict[tuple[int, ...], list[str]]:
    """Label set (``(0,)``, ``(1,)``, ``(0, 1)``) -> its groups among ``groups``, sorted."""
    strata: dict[tuple[int, ...], list[str]] = {}
    for g in sorted(groups):
        strata.setdefault(tuple(sorted(labels[g])), []).append(g)
    return strata


def write_splits(
    shard_tsvs: Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> None:
    """Split the accepted samples of ``shard_tsvs`` (:func:`assign_splits`); write ``path``."""
    samples = [s for p in shard_tsvs for s in manifest.read_samples(p)]
    splits = assign_splits(samples, val_fraction, test_fraction, seed)
    rows = [
        {"sample_id": s.sample_id, "group": s.group, "split": splits[s.sample_id]} for s in samples
    ]
    write_tsv(path, rows, COLUMNS)


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a ``splits.tsv`` (:data:`COLUMNS`); ValueError naming the file if malformed."""
    rows = read_tsv(path)
    bad = [r.get("sample_id") for r in rows if r.get("split") not in SPLITS]
    if bad or (rows and set(COLUMNS) - rows[0].keys()):
        raise ValueError(
            f"{path}: not a splits.tsv (columns {', '.join(COLUMNS)}, split one of "
            f"{', '.join(SPLITS)}); first bad rows: {bad[:5]}; delete it and rerun snakemake"
        )
    return rows


def read_splits(path: str | os.PathLike[str]) -> dict[str, str]:
    """``sample_id -> split`` of a ``splits.tsv`` (see :func:`read_rows`)."""
    return {r["sample_id"]: r["split"] for r in read_rows(path)}


def read_groups(path: str | os.PathLike[str]) -> dict[str, str]:
    """``sample_id -> group`` of a ``splits.tsv`` (see :func:`read_rows`): the evaluation's
    bootstrap clusters."""
    return {r["sample_id"]: r["group"] for r in read_rows(path)}
