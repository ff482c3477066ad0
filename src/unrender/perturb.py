"""Laundering perturbations of the test frames (``evaluate.perturb``), and their names.

A perturbation is applied to every stored frame (``frames/{shard}/{sample_id}/{k}.png``: the
face crop at ``frames.size``, before any resizing to ``train.image_size``) of every test
sample, videos and images alike; the decomposition and every model are then re-run on the
perturbed frames (rules/perturb.smk). Both kinds go through Pillow:

- ``jpeg{Q}``: one JPEG round trip at quality Q (1-100), 4:2:0 chroma subsampling, baseline,
  no ``optimize``, Pillow's standard quantisation tables scaled by Q (libjpeg-turbo, as
  bundled with Pillow's wheels).
- ``resize{F}``: the frame of W x H px resized to ``round(W * F) x round(H * F)`` px and
  back to W x H, both steps with Pillow's bicubic filter (``Image.Resampling.BICUBIC``, which
  widens its support when shrinking, so it anti-aliases), so the decomposition and the
  networks get frames of the size they were trained on, with the detail of the other size.

Light on purpose (no torch): the Snakefile imports the names at parse time, and the
``perturb_frames`` jobs start fast.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unrender import manifest
from unrender.io import read_image, write_image

#: Regex of a perturbation's name (the ``perturbation`` wildcard).
NAME_PATTERN = r"jpeg\d+|resize\d+(?:\.\d+)?"
#: The ``perturbation`` column of the unperturbed test split in robustness.tsv.
CLEAN = "none"


@dataclass(frozen=True)
class Perturbation:
    """One laundering step: ``kind`` ``jpeg`` (``amount``: quality 1-100) or ``resize``
    (``amount``: scale factor > 0)."""

    kind: str
    amount: float

    @property
    def name(self) -> str:
        """``jpeg75``, ``resize0.5``, ``resize2``: the wildcard and the robustness.tsv key."""
        if self.kind == "jpeg":
            return f"jpeg{int(self.amount)}"
        return f"resize{self.amount:g}"

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """The perturbed copy of a uint8 (H, W, 3) RGB frame, uint8 (H, W, 3)."""
        if self.kind == "jpeg":
            return jpeg_round_trip(rgb, int(self.amount))
        if self.kind == "resize":
            return resize_round_trip(rgb, self.amount)
        raise ValueError(f"unknown perturbation kind {self.kind!r}")


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """uint8 (H, W, 3) RGB encoded as JPEG at ``quality`` (1-100, 4:2:0) and decoded again."""
    from PIL import Image

    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality {quality} is not in 1-100")
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(
        buffer, "JPEG", quality=quality, subsampling="4:2:0", optimize=False
    )
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8)


def resize_round_trip(rgb: np.ndarray, factor: float) -> np.ndarray:
    """uint8 (H, W, 3) RGB resized by ``factor`` (> 0; at least 1 px a side) and back to
    (H, W), bicubic both ways."""
    from PIL import Image

    if factor <= 0:
        raise ValueError(f"resize factor {factor} is not above 0")
    height, width = rgb.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    bicubic = Image.Resampling.BICUBIC
    image = Image.fromarray(rgb, "RGB").resize(size, bicubic).resize((width, height), bicubic)
    return np.asarray(image, dtype=np.uint8)


def from_config(perturb: Mapping[str, Sequence[float]]) -> list[Perturbation]:
    """The perturbations of an ``evaluate.perturb`` section (``jpeg``: qualities, ``resize``:
    factors), in that order; empty lists (the default): none."""
    return [Perturbation("jpeg", int(q)) for q in perturb.get("jpeg", [])] + [
        Perturbation("resize", float(f)) for f in perturb.get("resize", [])
    ]


def parse(name: str) -> Perturbation:
    """The perturbation named ``name`` (:attr:`Perturbation.name`); ValueError otherwise."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(f"{name!r} names no perturbation (jpeg<quality> or resize<factor>)")
    if name.startswith("jpeg"):
        return Perturbation("jpeg", int(name[4:]))
    return Perturbation("resize", float(name[6:]))


def perturb_shard(
    shard_tsv: str | os.PathLike[str],
    frames_dir: str | os.PathLike[str],
    splits_tsv: str | os.PathLike[str],
    perturbation: Perturbation,
    out_shard_tsv: str | os.PathLike[str],
    out_frames_dir: str | os.PathLike[str],
) -> int:
    """Write the test samples of one shard and their perturbed frames; return the frame count.

    ``out_shard_tsv`` lists the shard's test samples (split from ``splits_tsv``);
    ``out_frames_dir`` gets ``{sample_id}/{k}.png`` for each of their frames in
    ``frames_dir`` (uint8 RGB, the frame's size), perturbed.
    """
    from unrender.train.splits import read_splits

    splits = read_splits(splits_tsv)
    test = [s for s in manifest.read_samples(shard_tsv) if splits.get(s.sample_id) == "test"]
    out = Path(out_frames_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for sample in test:
        (out / sample.sample_id).mkdir(exist_ok=True)
        for frame in sorted((Path(frames_dir) / sample.sample_id).glob("*.png")):
            write_image(out / sample.sample_id / frame.name, perturbation.apply(read_image(frame)))
            n += 1
    manifest.write_samples(out_shard_tsv, test)
    return n
