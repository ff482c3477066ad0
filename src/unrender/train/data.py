"""Training data as tensors: a frame's inputs, and datasets over PNGs or packs.

What an item is, and the arrays of its inputs, are in :mod:`unrender.train.packs`; here they
become ``FrameInputs``, name -> tensor (uint8 (3, S, S) pictures, float32 (27,) ``lighting``).
:class:`PackedDataset` reads the packs through memory maps, so the tensors are the ones the
PNG path (:class:`FrameDataset`) gives, bit for bit.
"""

from __future__ import annotations

import ctypes
import math
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from unrender.train.inputs import LIGHTING_DIM
from unrender.train.packs import Item, Pack, frame_arrays, read_frame_arrays

# glibc's mallopt parameters (malloc.h) and the largest mmap threshold it accepts on 64 bits.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 << 20

FrameInputs = dict[str, torch.Tensor]


def to_inputs(
    pictures: Mapping[str, np.ndarray], lighting: np.ndarray | None, image_size: int
) -> FrameInputs:
    """Tensors of one frame from its decoded files (or from a live decomposition); the arrays
    of :func:`unrender.train.packs.frame_arrays`."""
    return {n: torch.from_numpy(a) for n, a in frame_arrays(pictures, lighting, image_size).items()}


def load_inputs(
    run_dir: str | os.PathLike[str],
    shard: str,
    item: Item,
    inputs: Sequence[str],
    image_size: int,
) -> FrameInputs:
    """Tensors of the ``inputs`` of one item, decoded from its files in the run folder."""
    arrays = read_frame_arrays(run_dir, shard, item, inputs, image_size)
    return {n: torch.from_numpy(a) for n, a in arrays.items()}


class FrameDataset(torch.utils.data.Dataset[tuple[FrameInputs, int]]):
    """Items of one shard decoded from their PNG/.npy files: ``(inputs, label)``.

    What :func:`unrender.train.packs.pack_shard` reads, and the baseline of bench/train_loader.py.
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


class PackedDataset(torch.utils.data.Dataset[tuple[FrameInputs, int]]):
    """Items read from packs through memory maps: ``(inputs, label)``, tensors as documented.

    packs: :func:`unrender.train.packs.open_packs`; positions: ``(pack number, row)`` of each
    item, in the order the dataset serves them. Arrays are mapped lazily in the process that
    reads them (each DataLoader worker maps its own), and a row is copied out, so batches own
    their memory.
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

    def __getitems__(self, indices: Sequence[int]) -> PackedBatch:
        """The batch of the items at ``indices``, collated: what ``default_collate`` makes of
        their ``__getitem__`` items, but copied once, row by row out of the memory maps
        into the batch's tensors (a copy per item and then a stack cost twice that; the
        copy is most of a batch's time at 256 px). DataLoaders over this dataset take
        ``collate_fn=collate_packed``."""
        arrays = self.arrays()
        where = [self.positions[i] for i in indices]
        # A worker's batch goes to the main process through shared memory: allocate it there.
        shared = torch.utils.data.get_worker_info() is not None
        batch: FrameInputs = {}
        for name, first in arrays[0].items():
            dtype = torch.from_numpy(np.empty(0, first.dtype)).dtype
            out = _batch_tensor((len(where), *first.shape[1:]), dtype, shared)
            # Row by row on one thread: a parallel copy (torch.stack(out=)) was slower as
            # soon as another process wanted a core.
            view = out.numpy()
            for j, (p, row) in enumerate(where):
                view[j] = arrays[p][name][row]
            batch[name] = out
        labels = torch.tensor([self.packs[p].items[row].label for p, row in where])
        return PackedBatch(batch, labels)


def reuse_freed_memory(keep_bytes: int = 1 << 30) -> bool:
    """Have glibc's malloc hand freed blocks of up to 32 MiB to the next allocation instead
    of returning them to the kernel; the process keeps up to ``keep_bytes`` of freed memory.

    Why: a batch is a set of fresh tensors (ensemble_net at 256 px, batch 32: four of 6 MiB).
    With glibc's defaults a block that size is unmapped, or trimmed off the heap, when the
    batch is freed, so every batch's pages are faulted in and zeroed again by the kernel
    before the rows are copied into them, which costs about as much as the copy
    (bench/train_loader.py). Values and allocation are unchanged: only where the memory
    comes from. Process-wide, for the process that reads the packs; a no-op returning False
    where the C library is not glibc.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        and libc.mallopt(_M_TRIM_THRESHOLD, keep_bytes)
    )


def _batch_tensor(shape: tuple[int, ...], dtype: torch.dtype, shared: bool) -> torch.Tensor:
    """An uninitialised tensor for a batch; in shared memory if ``shared``, allocated there
    directly as ``default_collate`` does (``share_memory_()`` of a new tensor would allocate
    twice and copy once)."""
    if not shared:
        return torch.empty(shape, dtype=dtype)
    like = torch.empty(0, dtype=dtype)
    storage = like._typed_storage()._new_shared(math.prod(shape))
    return like.new(storage).view(shape)


class PackedBatch(NamedTuple):
    """A batch of :class:`PackedDataset`: inputs (name -> (B, ...) tensor) and int64 (B,)
    labels, as ``default_collate`` stacks ``(inputs, label)`` items."""

    inputs: FrameInputs
    labels: torch.Tensor


def collate_packed(batch: PackedBatch | list[tuple[FrameInputs, int]]) -> Any:
    """A DataLoader's ``collate_fn`` for :class:`PackedDataset`: its batches come collated
    (``(inputs, labels)``); anything else goes through ``default_collate``."""
    if isinstance(batch, PackedBatch):
        return tuple(batch)
    return torch.utils.data.default_collate(batch)
