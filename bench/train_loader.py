"""Items/s of the training loader: PNG decoding (the old path) vs the packed memory maps.

Builds one shard of a run folder the way the workflow lays it out (frames and modality PNGs
of ``--source`` px, lighting .npy), then, for ``rgb`` and ``ensemble_net`` at each
``--sizes`` and each ``--workers`` count, iterates a shuffled ``DataLoader`` (batch
``--batch``) over ``FrameDataset`` (decode every PNG of an item, resize) and over
``PackedDataset`` (packs made once by ``pack_shard``; their one-off cost is reported too).
Both paths run in the same process, alternating pass by pass, and each rate is items / median
pass time, so load from other processes hits both alike and cannot decide the ratio. As in
training, the process calls ``reuse_freed_memory``. Workers persist between passes (training
starts them each epoch, so that its shuffle does not depend on them): the first pass
(starting the workers, first calls) is not in the rates, and the packed path's is reported
on its own, as what an epoch adds once.

Pictures are smoothed noise plus a gradient, which PNG compresses about as well as faces
(random noise would make decoding look slower than it is).

    python bench/train_loader.py [--items 400] [--source 256] [--sizes 64 128 256]
        [--workers 0 2] [--batch 32] [--passes 3]

Prints Markdown; BENCHMARKS.md quotes it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from unrender import manifest
from unrender.io import write_array, write_image
from unrender.manifest import Sample
from unrender.modalities import MODALITIES
from unrender.train.data import FrameDataset, PackedDataset, packed_loader, reuse_freed_memory
from unrender.train.inputs import MODEL_INPUTS, PACK_PARTS, pack_parts
from unrender.train.packs import open_packs, pack_shard, shard_items

FRAMES = 5


def _picture(rng: np.random.Generator, size: int, gray: bool) -> np.ndarray:
    """uint8 (size, size[, 3]): blurred noise on a left-to-right gradient."""
    noise = rng.normal(0, 40, (size, size) if gray else (size, size, 3))
    gradient = np.linspace(64, 192, size)[None, :]
    smooth = cv2.GaussianBlur(noise, (0, 0), 3) + (gradient if gray else gradient[..., None])
    return np.clip(smooth, 0, 255).astype(np.uint8)


def make_shard(run_dir: Path, n_items: int, source: int) -> Path:
    """One shard of ``n_items`` frames (videos of 5 frames): frames, modality PNGs, lighting."""
    rng = np.random.default_rng(0)
    samples = [
        Sample(f"v{i}", f"v{i}.mp4", i % 2, f"g{i // 2}", "", "video", "bench")
        for i in range(-(-n_items // FRAMES))
    ]
    for s in samples:
        for k in range(FRAMES):
            write_image(
                run_dir / "frames/s0000" / s.sample_id / f"{k}.png", _picture(rng, source, False)
            )
            for m in MODALITIES:
                base = run_dir / "modalities" / m / "s0000" / s.sample_id / str(k)
                if m == "lighting":
                    write_array(
                        base.with_suffix(".npy"), rng.normal(size=(9, 3)).astype(np.float32)
                    )
                    write_image(base.with_suffix(".png"), _picture(rng, 200, False))
                else:
                    write_image(base.with_suffix(".png"), _picture(rng, source, m == "shadow"))
    shard = run_dir / "shards" / "s0000.tsv"
    manifest.write_samples(shard, samples)
    return shard


def _loader(dataset: Dataset, batch: int, workers: int) -> DataLoader:
    """A shuffled loader as training builds one (unrender.train.loop): packs through
    ``packed_loader`` (with workers, a ``BatchRing``), PNG items stacked by ``default_collate``
    as before; workers kept between passes."""
    options = {
        "shuffle": True,
        "generator": torch.Generator().manual_seed(0),
        "num_workers": workers,
        "persistent_workers": workers > 0,
    }
    if isinstance(dataset, PackedDataset):
        return packed_loader(dataset, batch, **options)
    return DataLoader(dataset, batch_size=batch, **options)


def _pass(loader: DataLoader) -> float:
    """Seconds to iterate ``loader`` once."""
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--source", type=int, default=256, help="px of the PNGs on disk")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reuse_freed_memory()  # as training does before it reads
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        shard = make_shard(run_dir, args.items, args.source)
        items = shard_items(run_dir, shard)
        print(
            f"{len(items)} items, PNGs of {args.source} px, batch {args.batch}, "
            f"{args.threads} threads, {os.cpu_count()} cores, {platform.machine()}, "
            f"torch {torch.__version__}, load average at start {os.getloadavg()[0]:.1f}\n"
        )
        print(
            "| model | px | workers | PNG items/s | packed items/s | ratio | "
            "packed first pass s | pack s (once) |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for size in args.sizes:
            pack_seconds = {}
            for part in PACK_PARTS:
                start = time.perf_counter()
                pack_shard(run_dir, shard, part, size, run_dir / "packs" / part / "s0000")
                pack_seconds[part] = time.perf_counter() - start
            for model in ("rgb", "ensemble_net"):
                inputs = MODEL_INPUTS[model]
                parts = pack_parts(inputs)
                packs = open_packs([run_dir / "packs" / p / "s0000" for p in parts], inputs)
                packed = PackedDataset(packs, [(0, i) for i in range(len(items))], size)
                decoded = FrameDataset(run_dir, "s0000", items, inputs, size)
                for workers in args.workers:
                    loaders = {
                        "png": _loader(decoded, args.batch, workers),
                        "packed": _loader(packed, args.batch, workers),
                    }
                    # The first pass starts the workers, fills the page cache and makes the
                    # first calls: a long training run pays that once, so it is left out.
                    first = {k: _pass(loader) for k, loader in loaders.items()}
                    times: dict[str, list[float]] = {k: [] for k in loaders}
                    for _ in range(args.passes):
                        for k, loader in loaders.items():
                            times[k].append(_pass(loader))
                    png, fast = (len(items) / statistics.median(times[k]) for k in loaders)
                    once = sum(pack_seconds[p] for p in parts)
                    print(
                        f"| {model} | {size} | {workers} | {png:,.0f} | {fast:,.0f} | "
                        f"{fast / png:,.0f}x | {first['packed']:.2f} | {once:.1f} |"
                    )
                    del loaders  # stops the workers


if __name__ == "__main__":
    main()
