"""Training data: the run's samples, their group-aware splits, and frame tensors.

One item is one frame ``k`` of one sample (a video gives ``frames.per_video`` items, an image
one). An item's inputs are named after what they show:

- ``rgb``: the frame, ``results/{run}/frames/{shard}/{sample_id}/{k}.png``.
- ``albedo``, ``normal``, ``shading``, ``shadow``: the modality PNG
  (:mod:`unrender.modalities.files` encoding), a picture like the frame.
- ``lighting``: the 27 SH coefficients of ``lighting/{shard}/{sample_id}/{k}.npy``.

Why the coefficients and not the sphere render for ``lighting``: the 200 x 200 sphere PNG is a
deterministic picture of exactly these 27 numbers, clipped to [0, 1], quantised to 8 bits and
blanked outside the disk, so it holds strictly less information; and a CNN would have to
spend its capacity learning to invert a smooth rendering that we can skip. The coefficients go
through a small MLP (:class:`unrender.train.models.LightingEncoder`).

Tensors of one item (``FrameInputs``): picture inputs are uint8 (3, S, S) RGB with
S = ``image_size`` (``shadow`` is gray, repeated on 3 channels so every picture input fits the
same torchvision stem); ``lighting`` is float32 (27,), laid out ``L27[3 * j + c]``
(coefficient j, colour channel c). Normalisation to float happens inside the model, so the
checkpoint alone knows how to read its inputs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from unrender import manifest
from unrender.io import read_image
from unrender.manifest import Sample
from unrender.modalities import MODALITIES

#: Everything a model can take as input, in the study's order.
INPUTS: tuple[str, ...] = ("rgb", *MODALITIES)

#: Inputs that are pictures (uint8 (3, S, S)); the rest (``lighting``) is a vector.
PICTURE_INPUTS: tuple[str, ...] = ("rgb", "albedo", "normal", "shading", "shadow")

#: Length of the ``lighting`` input: 9 SH coefficients x RGB.
LIGHTING_DIM = 27

SPLITS: tuple[str, ...] = ("train", "val", "test")

FrameInputs = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Item:
    """One frame of one accepted sample, with the split its group fell in."""

    shard: str
    sample: Sample
    k: int
    split: str


def read_run_samples(shard_tsvs: Sequence[str | os.PathLike[str]]) -> list[tuple[str, Sample]]:
    """The accepted samples of a run as ``(shard, sample)``; the shard id is the TSV's stem."""
    return [(Path(p).stem, s) for p in shard_tsvs for s in manifest.read_samples(p)]


def assign_splits(
    samples: Sequence[Sample], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """``sample_id -> train|val|test``, keeping every group on one side.

    A group takes the split its manifest rows name (rows of the group with an empty split
    follow it); naming two splits in one group is an error, since it would leak the source
    across the boundary. Groups with no split named are shuffled with ``seed`` within strata
    of equal label sets (real-only, fake-only, both), and each stratum gives
    ``round(n * test_fraction)`` groups to test and ``round(n * val_fraction)`` to val, so both
    classes reach val and test whenever the data allow it; train keeps at least one group.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"split fractions val={val_fraction}, test={test_fraction} must be >= 0 and sum < 1"
        )
    named: dict[str, set[str]] = {}
    labels: dict[str, set[int]] = {}
    for s in samples:
        labels.setdefault(s.group, set()).add(s.label)
        if s.split:
            named.setdefault(s.group, set()).add(s.split)
    clashes = {g: sorted(sp) for g, sp in named.items() if len(sp) > 1}
    if clashes:
        shown = ", ".join(f"{g}: {sp}" for g, sp in sorted(clashes.items())[:5])
        raise ValueError(
            f"{len(clashes)} group(s) have rows in more than one split ({shown}); give every "
            "row of a group the same split in the manifest, or leave them all empty"
        )
    group_split = {g: next(iter(sp)) for g, sp in named.items()}
    strata: dict[tuple[int, ...], list[str]] = {}
    for g in sorted(labels.keys() - named.keys()):
        strata.setdefault(tuple(sorted(labels[g])), []).append(g)
    rng = np.random.default_rng(seed)
    for key in sorted(strata):
        groups = [strata[key][i] for i in rng.permutation(len(strata[key]))]
        n_test = min(round(len(groups) * test_fraction), len(groups) - 1)
        n_val = min(round(len(groups) * val_fraction), len(groups) - 1 - n_test)
        for i, g in enumerate(groups):
            group_split[g] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return {s.sample_id: group_split[s.group] for s in samples}


def frame_ids(run_dir: str | os.PathLike[str], shard: str, sample_id: str) -> list[int]:
    """The frame numbers ``k`` extracted for a sample (sorted); error if there are none."""
    folder = Path(run_dir) / "frames" / shard / sample_id
    ks = sorted(int(p.stem) for p in folder.glob("*.png"))
    if not ks:
        raise FileNotFoundError(
            f"no frames in {folder}: the sample is in shards/{shard}.tsv, so extract_frames "
            "should have written them; rerun snakemake on that shard"
        )
    return ks


def list_items(
    run_dir: str | os.PathLike[str],
    shard_samples: Sequence[tuple[str, Sample]],
    splits: Mapping[str, str],
) -> list[Item]:
    """Every frame of every sample as an :class:`Item`, in shard/manifest/frame order."""
    return [
        Item(shard, s, k, splits[s.sample_id])
        for shard, s in shard_samples
        for k in frame_ids(run_dir, shard, s.sample_id)
    ]


def input_path(run_dir: str | os.PathLike[str], name: str, item: Item) -> Path:
    """File that holds input ``name`` of ``item`` (PNG, or the SH .npy for ``lighting``)."""
    sid = item.sample.sample_id
    if name == "rgb":
        return Path(run_dir) / "frames" / item.shard / sid / f"{item.k}.png"
    suffix = "npy" if name == "lighting" else "png"
    return Path(run_dir) / "modalities" / name / item.shard / sid / f"{item.k}.{suffix}"


def to_inputs(
    pictures: Mapping[str, np.ndarray], lighting: np.ndarray | None, image_size: int
) -> FrameInputs:
    """Tensors of one frame from its decoded files (or from a live decomposition).

    pictures: name -> uint8 (H, W, 3) RGB, or (H, W) gray for ``shadow``; lighting: float
    (9, 3) SH coefficients or None. Pictures are resized to ``image_size`` with area
    averaging. Returns name -> uint8 (3, S, S) and ``lighting`` -> float32 (27,).
    """
    out: FrameInputs = {}
    for name, picture in pictures.items():
        if picture.ndim == 2:
            picture = np.repeat(picture[..., None], 3, axis=2)
        if picture.shape[:2] != (image_size, image_size):
            picture = cv2.resize(picture, (image_size, image_size), interpolation=cv2.INTER_AREA)
        out[name] = torch.from_numpy(np.ascontiguousarray(picture.transpose(2, 0, 1)))
    if lighting is not None:
        out["lighting"] = torch.from_numpy(np.asarray(lighting, np.float32).reshape(LIGHTING_DIM))
    return out


def load_inputs(
    run_dir: str | os.PathLike[str], item: Item, inputs: Sequence[str], image_size: int
) -> FrameInputs:
    """Read the ``inputs`` of one item from the run folder; see :func:`to_inputs`."""
    pictures = {n: read_image(input_path(run_dir, n, item)) for n in inputs if n != "lighting"}
    lighting = np.load(input_path(run_dir, "lighting", item)) if "lighting" in inputs else None
    return to_inputs(pictures, lighting, image_size)


class FrameDataset(torch.utils.data.Dataset[tuple[FrameInputs, int]]):
    """Items of a run read lazily from disk: ``(inputs, label)`` with label 0 real / 1 fake."""

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        items: Sequence[Item],
        inputs: Sequence[str],
        image_size: int,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.items = list(items)
        self.inputs = tuple(inputs)
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[FrameInputs, int]:
        item = self.items[i]
        return load_inputs(self.run_dir, item, self.inputs, self.image_size), item.sample.label
