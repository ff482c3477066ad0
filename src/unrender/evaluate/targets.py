"""Targets of ``evaluate.cross``: checked when the workflow starts, so no torch, no numpy.

A target is named by its run name: target ``T`` is the folder ``results/T/`` that ``snakemake
data`` with T's own config made. The protocol itself: :mod:`unrender.evaluate.cross`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from unrender.modalities import MODALITIES


class TargetNotReady(ValueError):
    """A target of ``evaluate.cross`` lacks the frames or modalities it is scored on."""


def check_targets(run: str, targets: Sequence[str]) -> None:
    """ValueError naming the key when ``evaluate.cross`` lists the run itself or a target twice."""
    if run in targets:
        raise ValueError(
            f"evaluate.cross lists the run itself ({run!r}); its own test split is in metrics.tsv"
        )
    twice = sorted({t for t in targets if list(targets).count(t) > 1})
    if twice:
        raise ValueError(f"evaluate.cross lists {', '.join(twice)} more than once")


def target_shards(results_dir: str | os.PathLike[str], target: str) -> list[Path]:
    """The shard TSVs (accepted samples) of target run ``results_dir/target``, sorted.

    Only lists files (cheap enough for the workflow's start). Raises :class:`TargetNotReady`,
    one line naming the target, what it lacks and the command that makes it, unless the
    target's data stage has finished: ``data_summary.tsv``, and every shard's frames and
    modality folders.
    """
    run_dir = Path(results_dir) / target
    shards = sorted((run_dir / "shards").glob("*.tsv"))
    lacking = ""
    if not shards or not (run_dir / "data_summary.tsv").is_file():
        lacking = "frames"
    else:
        for shard in (s.stem for s in shards):
            if not (run_dir / "frames" / shard).is_dir():
                lacking = f"frames of shard {shard}"
            elif not all((run_dir / "modalities" / m / shard).is_dir() for m in MODALITIES):
                lacking = f"modalities of shard {shard}"
            if lacking:
                break
    if lacking:
        raise TargetNotReady(
            f"evaluate.cross: target run {target!r} has no {lacking} under {run_dir}; make them "
            f"first with `snakemake data --configfile <the config with run: {target}>`"
        )
    return shards


def target_inputs(results_dir: str | os.PathLike[str], target: str) -> dict[str, list[str]]:
    """What target run ``target`` is scored on, for the workflow: ``shards`` (its shard
    TSVs), ``frames`` (a folder per shard) and ``modalities`` (a folder per modality and
    shard), paths under ``results_dir/target``. :class:`TargetNotReady` as
    :func:`target_shards`."""
    shards = target_shards(results_dir, target)
    run_dir = Path(results_dir) / target
    return {
        "shards": [str(s) for s in shards],
        "frames": [str(run_dir / "frames" / s.stem) for s in shards],
        "modalities": [
            str(run_dir / "modalities" / m / s.stem) for m in MODALITIES for s in shards
        ],
    }
