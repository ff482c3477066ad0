"""Training data: frame tensors, packed once per shard, read back through memory maps.

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

Tensors of one item (``FrameInputs``): picture inputs are uint8 (3, S, S) RGB with
S = ``image_size`` (``shadow`` is gray, repeated on 3 channels so every picture input fits the
same torchvision stem); ``lighting`` is float32 (27,), laid out ``L27[3 * j + c]``
(coefficient j, colour channel c). Normalisation to float happens inside the model, so the
checkpoint alone knows how to read its inputs.

Packs: decoding PNGs is what limits training (bench/train_loader.py), so the ``pack`` rule
decodes each shard once (:func:`pack_shard`) into ``packs/{part}/{shard}/``: one ``.npy``
per input holding exactly the tensors above, stacked (uint8 (N, 3, S, S), ``lighting``
float32 (N, 27)), and ``index.tsv`` naming row i (``sample_id, k, label, group, kind``).
Training reads them with :class:`PackedDataset` through memory maps, so an epoch costs a copy,
not a decode, and the tensors are the ones the PNG path gives, bit for bit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from unrender import manifest
from unrender.io import atomic_path, read_image, read_tsv, write_tsv
from unrender.train.inputs import LIGHTING_DIM, PACK_PARTS, input_path

FrameInputs = dict[str, torch.Tensor]

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
    run_dir: str | os.PathLike[str],
    shard: str,
    item: Item,
    inputs: Sequence[str],
    image_size: int,
) -> FrameInputs:
    """Decode the ``inputs`` of one item from its files in the run folder; see :func:`to_inputs`."""

    def path(name: str) -> Path:
        return input_path(run_dir, name, shard, item.sample_id, item.k)

    pictures = {n: read_image(path(n)) for n in inputs if n != "lighting"}
    lighting = np.load(path("lighting")) if "lighting" in inputs else None
    return to_inputs(pictures, lighting, image_size)


class FrameDataset(torch.utils.data.Dataset[tuple[FrameInputs, int]]):
    """Items of one shard decoded from their PNG/.npy files: ``(inputs, label)``.

    What :func:`pack_shard` reads, and the baseline of bench/train_loader.py.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        shard: str,
        items: Sequence[Item],
        inputs: Sequence[str],
        image_size: int,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.shard = shard
        self.items = list(items)
        self.inputs = tuple(inputs)
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[FrameInputs, int]:
        item = self.items[i]
        inputs = load_inputs(self.run_dir, self.shard, item, self.inputs, self.image_size)
        return inputs, item.label


def pack_shard(
    run_dir: str | os.PathLike[str],
    shard_tsv: str | os.PathLike[str],
    part: str,
    image_size: int,
    out_dir: str | os.PathLike[str],
) -> int:
    """Decode the inputs of ``part`` (a key of ``PACK_PARTS``) of one shard into ``out_dir``.

    Writes ``{input}.npy`` per input of the part (uint8 (N, 3, S, S), ``lighting`` float32
    (N, 27)) and ``index.tsv`` (row i of every array), each atomically. Returns N.
    """
    if part not in PACK_PARTS:
        raise ValueError(f"unknown pack part {part!r}; known: {', '.join(PACK_PARTS)}")
    items = shard_items(run_dir, shard_tsv)
    frames = FrameDataset(run_dir, Path(shard_tsv).stem, items, PACK_PARTS[part], image_size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        arrays = {}
        for name in frames.inputs:
            tmp = stack.enter_context(atomic_path(out / f"{name}.npy"))
            shape = (LIGHTING_DIM,) if name == "lighting" else (3, image_size, image_size)
            dtype = np.float32 if name == "lighting" else np.uint8
            arrays[name] = np.lib.format.open_memmap(tmp, "w+", dtype, (len(items), *shape))
        for i in range(len(frames)):
            for name, tensor in frames[i][0].items():
                arrays[name][i] = tensor.numpy()
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


class PackedDataset(torch.utils.data.Dataset[tuple[FrameInputs, int]]):
    """Items read from packs through memory maps: ``(inputs, label)``, tensors as documented.

    packs: :func:`open_packs`; positions: ``(pack number, row)`` of each item, in the order the
    dataset serves them. Arrays are mapped lazily in the process that reads them (each
    DataLoader worker maps its own), and a row is copied out, so batches own their memory.
    ``image_size`` is checked against the arrays: packs made at another size are an error.
    """

    def __init__(
        self, packs: Sequence[Pack], positions: Sequence[tuple[int, int]], image_size: int
    ) -> None:
        self.packs = list(packs)
        self.positions = list(positions)
        self.image_size = image_size
        self._arrays: list[dict[str, np.ndarray]] | None = None

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_arrays": None}  # workers map the files themselves

    def arrays(self) -> list[dict[str, np.ndarray]]:
        """Per pack, input -> its memory-mapped array (mapped on first use)."""
        if self._arrays is None:
            self._arrays = []
            for pack in self.packs:
                mapped = {n: np.load(f, mmap_mode="r") for n, f in pack.files.items()}
                for name, a in mapped.items():
                    size = self.image_size
                    want = (LIGHTING_DIM,) if name == "lighting" else (3, size, size)
                    if a.shape != (len(pack.items), *want):
                        raise ValueError(
                            f"{pack.files[name]} holds {a.shape}, not {len(pack.items)} items of "
                            f"train.image_size {self.image_size}; delete the packs and rerun"
                        )
                self._arrays.append(mapped)
        return self._arrays

    def item(self, i: int) -> Item:
        """The :class:`Item` served at ``i``."""
        p, row = self.positions[i]
        return self.packs[p].items[row]

    def column(self, name: str) -> torch.Tensor:
        """Input ``name`` of every item, stacked in serving order."""
        arrays = self.arrays()
        return torch.from_numpy(np.stack([arrays[p][name][row] for p, row in self.positions]))

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> tuple[FrameInputs, int]:
        p, row = self.positions[i]
        arrays = self.arrays()[p]
        inputs = {n: torch.from_numpy(np.array(a[row])) for n, a in arrays.items()}
        return inputs, self.packs[p].items[row].label

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[FrameInputs, int]]:
        """The items at ``indices``, as ``__getitem__`` gives them, read with one fancy index
        per pack and input (what a DataLoader calls for a batch: per-item copies out of the
        memory map cost more than the whole batch's)."""
        arrays = self.arrays()
        rows_of: dict[int, list[tuple[int, int]]] = {}
        for j, i in enumerate(indices):
            p, row = self.positions[i]
            rows_of.setdefault(p, []).append((j, row))
        out: list[tuple[FrameInputs, int]] = [({}, 0)] * len(indices)
        for p, entries in rows_of.items():
            rows = [row for _, row in entries]
            taken = {n: torch.from_numpy(a[rows]) for n, a in arrays[p].items()}
            labels = self.packs[p].items
            for t, (j, row) in enumerate(entries):
                out[j] = ({n: v[t] for n, v in taken.items()}, labels[row].label)
        return out
