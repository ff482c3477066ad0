"""One frame of one sample and its five modalities, side by side, as a PNG for the report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from unrender import manifest
from unrender.io import atomic_path, read_image
from unrender.modalities import MODALITIES
from unrender.train.inputs import input_path


def pick_sample(shard_tsvs: Sequence[str | os.PathLike[str]]) -> tuple[str, manifest.Sample]:
    """The first fake video of the run in shard order (else its first sample), with its shard."""
    samples = [(Path(p).stem, s) for p in shard_tsvs for s in manifest.read_samples(p)]
    if not samples:
        raise ValueError(f"no accepted samples in {', '.join(map(str, shard_tsvs))}")
    fakes = [(shard, s) for shard, s in samples if s.label == 1 and s.kind == "video"]
    return (fakes or samples)[0]


def write_montage(
    run_dir: str | os.PathLike[str],
    shard: str,
    sample: manifest.Sample,
    out_png: str | os.PathLike[str],
) -> None:
    """Frame 0 of ``sample`` and its modality PNGs (lighting: the sphere render) in one row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ("rgb", *MODALITIES)
    fig, axes = plt.subplots(1, len(names), figsize=(2.4 * len(names), 2.8))
    for ax, name in zip(axes, names, strict=True):
        # The lighting PNG beside the .npy is the IRN++ sphere render of the SH coefficients.
        ax.imshow(
            read_image(input_path(run_dir, name, shard, sample.sample_id, 0).with_suffix(".png"))
        )
        ax.set_title(name)
        ax.axis("off")
    label = "fake" if sample.label else "real"
    fig.suptitle(f"{sample.sample_id} ({label}, {sample.source}), frame 0")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
