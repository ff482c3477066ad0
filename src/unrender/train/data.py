"""Training data as tensors: a frame's inputs, and datasets over PNGs or packs.

What an item is, and the arrays of its inputs, are in :mod:`unrender.train.packs`; here they
become ``FrameInputs``, name -> tensor (uint8 (C, S, S) pictures, float32 (27,) ``lighting``).
:class:`PackedDataset` reads the packs through memory maps, so the tensors are the ones the
PNG path (:class:`FrameDataset`) gives, bit for bit.
"""

from __future__ import annotations

import copy
import ctypes
import itertools
import math
import os
import platform
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from unrender.train.inputs import input_shape
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
    their memory (a batch from a worker of :func:`packed_loader`: a slot of its
    :class:`BatchRing`, until the batch is gone).
    ``image_size`` is checked against the arrays: packs made at another size are an error.
    """

    def __init__(
        self, packs: Sequence[Pack], positions: Sequence[tuple[int, int]], image_size: int
    ) -> None:
        self.packs = list(packs)
        self.positions = list(positions)
        self.image_size = image_size
        self.ring: BatchRing | None = None
        self._arrays: list[dict[str, np.ndarray]] | None = None

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_arrays": None}  # workers map the files themselves

    def arrays(self) -> list[dict[str, np.ndarray]]:
        """Per pack, input -> its memory-mapped array (mapped on first use)."""
        if self._arrays is None:
            self._arrays = []
            for pack in self.packs:
                # Plain arrays over the maps: indexing an np.memmap makes a memmap object per
                # row (ensemble_net at 256 px: 7 % more items/s without).
                mapped = {n: np.asarray(np.load(f, mmap_mode="r")) for n, f in pack.files.items()}
                for name, a in mapped.items():
                    want = input_shape(name, self.image_size)
                    if a.shape != (len(pack.items), *want):
                        raise ValueError(
                            f"{pack.files[name]} holds {a.shape}, not {len(pack.items)} items of "
                            f"{want}, train.image_size {self.image_size}; packs of another size "
                            "or an older layout: delete the packs and rerun"
                        )
                self._arrays.append(mapped)
        return self._arrays

    def item_layout(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Input name -> (shape, dtype) of one item, in the order batches hold them."""
        return {
            name: (a.shape[1:], torch.from_numpy(np.empty(0, a.dtype)).dtype)
            for name, a in self.arrays()[0].items()
        }

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

    def __getitems__(self, indices: Sequence[int]) -> PackedBatch | RingBatch:
        """The batch of the items at ``indices``, collated: what ``default_collate`` makes of
        their ``__getitem__`` items, but copied once, row by row out of the memory maps
        into the batch's tensors (a copy per item and then a stack cost twice that; the
        copy is most of a batch's time at 256 px). In a worker of a loader with a
        :class:`BatchRing` (:func:`packed_loader`) the batch goes into a slot of the ring
        and a :class:`RingBatch` stands for it. DataLoaders over this dataset take
        ``collate_fn=collate_packed``."""
        arrays = self.arrays()
        where = [self.positions[i] for i in indices]
        # A worker's batch goes to the main process through shared memory: a ring's slot,
        # or else a batch allocated there.
        shared = torch.utils.data.get_worker_info() is not None
        claimed = self.ring.claim(len(where)) if shared and self.ring is not None else None
        batch: FrameInputs = {}
        for name, (shape, dtype) in self.item_layout().items():
            if claimed is not None:
                out = claimed[1][name]
            else:
                out = _batch_tensor((len(where), *shape), dtype, shared)
            # Row by row on one thread: a parallel copy (torch.stack(out=)) was slower as
            # soon as another process wanted a core.
            view = out.numpy()
            for j, (p, row) in enumerate(where):
                view[j] = arrays[p][name][row]
            batch[name] = out
        labels = [self.packs[p].items[row].label for p, row in where]
        if claimed is not None:
            token, in_slot = claimed
            in_slot[LABELS].numpy()[:] = labels
            return token
        return PackedBatch(batch, torch.tensor(labels))


def reuse_freed_memory(keep_bytes: int = 1 << 30) -> bool:
    """Have glibc's malloc hand freed blocks of up to 32 MiB to the next allocation instead
    of returning them to the kernel; the process keeps up to ``keep_bytes`` of freed memory.

    Why: a batch is a set of fresh tensors (ensemble_net at 256 px, batch 32: three of 6 MiB,
    one of 2 MiB). With glibc's defaults a block that size is unmapped, or trimmed off the
    heap, when the batch is freed, so every batch's pages are faulted in and zeroed again by
    the kernel before the rows are copied into them, which costs about as much as the copy
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


def collate_packed(batch: PackedBatch | RingBatch | list[tuple[FrameInputs, int]]) -> Any:
    """A DataLoader's ``collate_fn`` for :class:`PackedDataset`: its batches come collated
    (``(inputs, labels)``, or a :class:`RingBatch` that becomes them in the main process);
    anything else goes through ``default_collate``."""
    if isinstance(batch, RingBatch):
        return batch
    if isinstance(batch, PackedBatch):
        return tuple(batch)
    return torch.utils.data.default_collate(batch)


# The labels' entry in a BatchRing's slot; no input is called so.
LABELS = "labels"
_ALIGN = 64  # bytes: each tensor of a slot starts on a cache line
_RINGS: weakref.WeakValueDictionary[int, BatchRing] = weakref.WeakValueDictionary()
_RING_KEYS = itertools.count()


class BatchRing:
    """Batch buffers in shared memory that the workers of a DataLoader fill and reuse (or
    of several, iterated one at a time: :func:`packed_loader`).

    Without it a worker's batch crosses to the main process in fresh shared memory: a new
    segment per tensor, every page of it faulted in and zeroed by the kernel, and a file
    descriptor passed for each (bench/train_loader.py, BENCHMARKS.md "Training loader").
    Here ``slots_per_worker`` slots per worker, each holding one batch of every input and
    its labels, are made once in the main process before the workers start. A worker copies
    its batch into its first free slot and sends only the slot's number (:class:`RingBatch`);
    the main process hands out tensors viewing the slot. A slot is free again when the last
    tensor viewing it is gone (a flag in shared memory, cleared by a finalizer), so a
    consumer that keeps its batches (``list(loader)``) still gets correct ones: a worker that
    finds its slots all taken allocates fresh shared memory, as without a ring.

    layout: input name -> (shape of one item, dtype), in the order batches hold them.
    Memory: ``workers * slots_per_worker`` batches of ``batch_size`` items, held while a
    loader using the ring lives; an OSError says so in one line if ``/dev/shm`` cannot
    hold them.
    """

    def __init__(
        self,
        layout: Mapping[str, tuple[tuple[int, ...], torch.dtype]],
        batch_size: int,
        workers: int,
        slots_per_worker: int,
    ) -> None:
        self.item_layout = dict(layout)
        self.layout = {**layout, LABELS: ((), torch.int64)}
        self.batch_size = batch_size
        self.slots_per_worker = slots_per_worker
        self.spans: dict[str, tuple[int, int]] = {}  # name -> (first byte, bytes) in a slot
        size = 0
        for name, (shape, dtype) in self.layout.items():
            nbytes = batch_size * math.prod(shape) * dtype.itemsize
            self.spans[name] = (size, nbytes)
            size += -(-nbytes // _ALIGN) * _ALIGN
        slots = workers * slots_per_worker
        _check_shared_memory(slots * size, f"{slots} batch slots ({workers} workers)")
        self.buffer = _batch_tensor((slots, size), torch.uint8, shared=True)
        self.busy = _batch_tensor((slots,), torch.uint8, shared=True).zero_()
        self.key = next(_RING_KEYS)
        _RINGS[self.key] = self

    def _views(self, flat: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
        """Tensors of the first ``n`` items of a slot whose bytes are ``flat``, by name (the
        inputs and ``LABELS``)."""
        out = {}
        for name, (shape, dtype) in self.layout.items():
            start, nbytes = self.spans[name]
            whole = flat[start : start + nbytes].view(dtype).view(self.batch_size, *shape)
            out[name] = whole[:n]
        return out

    def claim(self, n: int) -> tuple[RingBatch, dict[str, torch.Tensor]] | None:
        """In a worker: the first of its slots that no batch occupies, marked occupied, for a
        batch of ``n`` items: the :class:`RingBatch` standing for it and the tensors to fill
        (the inputs and ``LABELS``). None if all its slots are occupied.

        First, not next in turn: a worker then keeps refilling the few slots that free up
        soonest, whose memory is still in the CPU's cache; cycling through all its slots made
        ensemble_net's 2-worker loader at 256 px ~11 % slower (BENCHMARKS.md "Training
        loader")."""
        info = torch.utils.data.get_worker_info()
        assert info is not None, "BatchRing.claim runs in a DataLoader worker"
        busy = self.busy.numpy()
        first = info.id * self.slots_per_worker
        for slot in range(first, first + self.slots_per_worker):
            if not busy[slot]:
                busy[slot] = 1
                return RingBatch(self.key, slot, n), self._views(self.buffer[slot], n)
        return None

    def batch(self, slot: int, n: int) -> tuple[FrameInputs, torch.Tensor]:
        """In the main process: the batch a worker wrote into ``slot``, ``(inputs, labels)``,
        as tensors viewing the slot; the slot is freed when the last of them is gone."""
        # All the tensors share the storage of one array made here; its finalizer runs when
        # that storage is released, i.e. after every view of the batch.
        owner = self.buffer.numpy()[slot]
        weakref.finalize(owner, _free_slot, self.busy.numpy(), slot)
        views = self._views(torch.from_numpy(owner), n)
        labels = views.pop(LABELS)
        return views, labels


#: Where torch's shared memory lives on Linux (shm_open's tmpfs).
SHARED_MEMORY_DIR = Path("/dev/shm")


def _check_shared_memory(nbytes: int, what: str) -> None:
    """Raise a one-line OSError if ``nbytes`` exceed what :data:`SHARED_MEMORY_DIR` has free.

    Why: torch reserves a segment's pages when it makes it, so a ``/dev/shm`` too small
    fails there with "unable to allocate shared memory(shm) for file </torch_...>: No space
    left on device", which names neither what needed the memory nor how to get more.
    Docker gives containers 64 MiB by default. No check where the folder does not exist
    (not Linux).
    """
    if not SHARED_MEMORY_DIR.is_dir():
        return
    stat = os.statvfs(SHARED_MEMORY_DIR)
    free = stat.f_bavail * stat.f_frsize
    if nbytes > free:
        raise OSError(
            f"the training loader's {what} need {nbytes / 2**20:,.0f} MiB of shared memory "
            f"and {SHARED_MEMORY_DIR} has {free / 2**20:,.0f} MiB free: run the container with "
            "a larger --shm-size (Docker; Apptainer uses the host's), or lower "
            "train.batch_size or the train job's threads (--set-threads train=N; one worker "
            "each)"
        )


def _free_slot(busy: np.ndarray, slot: int) -> None:
    busy[slot] = 0


class RingBatch(NamedTuple):
    """A batch a worker wrote into slot ``slot`` of the :class:`BatchRing` numbered ``key``:
    pickled as these three numbers, unpickled in the main process as ``(inputs, labels)``."""

    key: int
    slot: int
    n: int

    def __reduce__(self) -> tuple[Any, tuple[int, int, int]]:
        return _ring_batch, (self.key, self.slot, self.n)


def _ring_batch(key: int, slot: int, n: int) -> tuple[FrameInputs, torch.Tensor]:
    return _RINGS[key].batch(slot, n)


def batch_ring(
    dataset: PackedDataset, batch_size: int, workers: int, prefetch_factor: int = 2
) -> BatchRing:
    """A :class:`BatchRing` for loaders over ``dataset`` (or over datasets of the same
    inputs and image size) with ``workers`` workers: ``prefetch_factor`` + 2 slots per
    worker, for the batches in flight, the one received and the one still in use. (Two, not
    one: when a persistent loader starts its next epoch, the last batch of the one before
    and the first of the new one can come from the same worker.)"""
    return BatchRing(dataset.item_layout(), batch_size, workers, prefetch_factor + 2)


def packed_loader(
    dataset: PackedDataset, batch_size: int, ring: BatchRing | None = None, **options: Any
) -> torch.utils.data.DataLoader:
    """A DataLoader over ``dataset`` (``collate_fn=collate_packed``); ``options`` are the
    DataLoader's other keywords. With workers, their batches come through ``ring``, or a
    :func:`batch_ring` of the loader's own. Loaders may share a ring if they are iterated
    one at a time, each to its end (as training does): workers of two loaders claiming slots
    at once could take the same one."""
    workers = options.get("num_workers", 0)
    if workers:
        if ring is None:
            ring = batch_ring(dataset, batch_size, workers, options.get("prefetch_factor") or 2)
        elif ring.batch_size < batch_size or ring.item_layout != dataset.item_layout():
            raise ValueError(
                f"a ring for batches of {ring.batch_size} items of {sorted(ring.item_layout)} "
                f"cannot hold batches of {batch_size} of {sorted(dataset.item_layout())}"
            )
        dataset = copy.copy(dataset)
        dataset.ring = ring
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, collate_fn=collate_packed, **options
    )
