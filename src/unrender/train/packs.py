"""Packs: a shard's training inputs decoded once into memory-mappable arrays (numpy only).

One item is one frame ``k`` of one sample (a video gives ``frames.per_video`` items, an image
one). Its inputs (see :mod:`unrender.train.inputs`) are read from the run folder:

- ``rgb``: the frame, ``results/{run}/frames/{shard}/{sample_id}/{k}.png``.
- ``albedo``, ``normal``, ``shading``, ``shadow``: the modality PNG
  (:mod:`unrender.modalities.files` encoding), a picture like the frame.
- ``lighting``: the 27 SH coefficients of ``lighting/{shard}/{sample_id}/{k}.npy``.

Why the coefficients and not the sphere render for ``lighting``: the 200 x 200 sphere PNG is a
deterministic picture of exactly these 27 numbers, clipped to [0, 1], quantised to 8 bits and
blanked outside the disk, so it holds strictly less information; and a CNN would have to
spend its capacity learning to invert a smooth rendering that we can skip. The coefficients go
through a small MLP (:class:`unrender.train.models.LightingEncoder`).

Arrays of one item (:func:`frame_arrays`): picture inputs are uint8 (C, S, S) with
S = ``image_size`` and C = 3 (RGB) or 1 for the gray ``shadow``
(:data:`unrender.train.inputs.PICTURE_CHANNELS`; the model expands it to its 3-channel
stem); ``lighting`` is float32 (27,), laid out ``L27[3 * j + c]`` (coefficient j, colour
channel c). Normalisation to float happens inside the model, so the checkpoint alone knows
how to read its inputs.

Decoding PNGs is what limits training (bench/train_loader.py), so the ``pack`` rule decodes
each shard once (:func:`pack_shard`) into ``packs/{part}/{shard}/``: one ``.npy`` per input
holding exactly the arrays above, stacked (uint8 (N, C, S, S), ``lighting`` float32
(N, 27)), and ``index.tsv`` naming row i (``sample_id, k, label, group, kind``). Training
reads them through memory maps (:class:`unrender.train.data.PackedDataset`), so an epoch costs
a copy, not a decode. Nothing here imports torch: a pack job starts in under a second instead
of the ~5 s torch's import costs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from unrender import manifest
from unrender.io import atomic_path, read_image, read_tsv, write_tsv
from unrender.train.inputs import (
    LIGHTING_DIM,
    PACK_PARTS,
    PICTURE_CHANNELS,
    input_path,
    input_shape,
)

#: Columns of a pack's ``index.tsv``.
INDEX_COLUMNS: tuple[str, ...] = ("sample_id", "k", "label", "group", "kind")


@dataclass(frozen=True)
class Item:
    """One frame ``k`` of one accepted sample: a row of a pack index. label: 0 real, 1 fake."""

    sample_id: str
    k: int
    label: int
    group: str
    kind: str


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


def shard_items(run_dir: str | os.PathLike[str], shard_tsv: str | os.PathLike[str]) -> list[Item]:
    """Every frame of every accepted sample of a shard, in manifest/frame order."""
    shard = Path(shard_tsv).stem
    return [
        Item(s.sample_id, k, s.label, s.group, s.kind)
        for s in manifest.read_samples(shard_tsv)
        for k in frame_ids(run_dir, shard, s.sample_id)
    ]


def frame_arrays(
    pictures: Mapping[str, np.ndarray], lighting: np.ndarray | None, image_size: int
) -> dict[str, np.ndarray]:
    """Arrays of one frame from its decoded files (or from a live decomposition).

    pictures: name -> uint8 (H, W, 3) RGB or (H, W) gray (``shadow`` is gray; a gray picture
    of an RGB input is repeated on 3 channels); lighting: float (9, 3) SH coefficients or
    None. Pictures are resized to ``image_size`` with area averaging. Returns name -> uint8
    :func:`unrender.train.inputs.input_shape` (C, S, S) and ``lighting`` -> float32 (27,).
    A colour picture of a gray input is a ValueError.
    """
    out = {}
    for name, picture in pictures.items():
        if picture.shape[:2] != (image_size, image_size):
            # cv2 returns (h, w) for an (H, W, 1) picture, hence gray stays (H, W) until here.
            picture = cv2.resize(picture, (image_size, image_size), interpolation=cv2.INTER_AREA)
        channels = PICTURE_CHANNELS[name]
        if picture.ndim == 2:
            picture = np.repeat(picture[None], channels, axis=0)
        elif picture.shape[2] == channels:
            picture = np.ascontiguousarray(picture.transpose(2, 0, 1))
        else:
            raise ValueError(f"{name} is a picture of {channels} channel(s), not {picture.shape}")
        out[name] = picture
    if lighting is not None:
        out["lighting"] = np.asarray(lighting, np.float32).reshape(LIGHTING_DIM)
    return out


def read_frame_arrays(
    run_dir: str | os.PathLike[str],
    shard: str,
    item: Item,
    inputs: Sequence[str],
    image_size: int,
) -> dict[str, np.ndarray]:
    """Decode the ``inputs`` of one item from its files in the run folder; see
    :func:`frame_arrays`."""

    def path(name: str) -> Path:
        return input_path(run_dir, name, shard, item.sample_id, item.k)

    pictures = {
        n: read_image(path(n), gray=PICTURE_CHANNELS[n] == 1) for n in inputs if n != "lighting"
    }
    lighting = np.load(path("lighting")) if "lighting" in inputs else None
    return frame_arrays(pictures, lighting, image_size)


def pack_shard(
    run_dir: str | os.PathLike[str],
    shard_tsv: str | os.PathLike[str],
    part: str,
    image_size: int,
    out_dir: str | os.PathLike[str],
) -> int:
    """Decode the inputs of ``part`` (a key of ``PACK_PARTS``) of one shard into ``out_dir``.

    Writes ``{input}.npy`` per input of the part (uint8 (N, C, S, S), ``lighting`` float32
    (N, 27)) and ``index.tsv`` (row i of every array), each atomically. Returns N.
    """
    if part not in PACK_PARTS:
        raise ValueError(f"unknown pack part {part!r}; known: {', '.join(PACK_PARTS)}")
    items = shard_items(run_dir, shard_tsv)
    shard, inputs = Path(shard_tsv).stem, PACK_PARTS[part]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        arrays = {}
        for name in inputs:
            tmp = stack.enter_context(atomic_path(out / f"{name}.npy"))
            dtype = np.float32 if name == "lighting" else np.uint8
            shape = (len(items), *input_shape(name, image_size))
            arrays[name] = np.lib.format.open_memmap(tmp, "w+", dtype, shape)
        for i, item in enumerate(items):
            for name, array in read_frame_arrays(run_dir, shard, item, inputs, image_size).items():
                arrays[name][i] = array
        for array in arrays.values():
            array.flush()
        del arrays
    rows = [{c: getattr(it, c) for c in INDEX_COLUMNS} for it in items]
    write_tsv(out / "index.tsv", rows, INDEX_COLUMNS)
    return len(items)


@dataclass(frozen=True)
class Pack:
    """The packed inputs of one shard: its items and, per input, the ``.npy`` holding them."""

    shard: str
    items: tuple[Item, ...]
    files: Mapping[str, Path]


def open_packs(pack_dirs: Sequence[str | os.PathLike[str]], inputs: Sequence[str]) -> list[Pack]:
    """The packs of ``inputs`` in ``packs/{part}/{shard}`` folders, one per shard.

    Shards come in the order of their first folder in ``pack_dirs``. The folders of one shard
    (one per part) must index the same items, and every input must be in one of them; a
    ValueError names the folder otherwise.
    """
    by_shard: dict[str, list[Path]] = {}
    for d in map(Path, pack_dirs):
        by_shard.setdefault(d.name, []).append(d)
    packs = []
    for shard, dirs in by_shard.items():
        indexes = {d: _read_index(d / "index.tsv") for d in dirs}
        first = next(iter(indexes.values()))
        differ = [str(d) for d, items in indexes.items() if items != first]
        if differ:
            raise ValueError(
                f"packs of shard {shard} index different items ({', '.join(differ)} vs "
                f"{dirs[0]}); delete them and rerun snakemake"
            )
        files = {}
        for name in inputs:
            found = [d / f"{name}.npy" for d in dirs if (d / f"{name}.npy").is_file()]
            if not found:
                raise ValueError(f"no pack of input {name} for shard {shard} in {dirs}")
            files[name] = found[0]
        packs.append(Pack(shard, first, files))
    return packs


def _read_index(path: Path) -> tuple[Item, ...]:
    return tuple(
        Item(r["sample_id"], int(r["k"]), int(r["label"]), r["group"], r["kind"])
        for r in read_tsv(path)
    )
