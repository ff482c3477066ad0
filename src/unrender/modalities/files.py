"""On-disk form of the modalities: a PNG per modality and frame, plus .npy where precision matters.

Layout: ``{root}/{modality}/{shard}/{sample_id}/{k}.png`` (and ``{k}.npy`` for ``normal``
and ``lighting``). PNG encodings, all uint8:

- ``albedo``, ``shading``: ``round(255 * clip(x, 0, 1))`` per channel, (H, W, 3).
- ``normal``: ``round(255 * (n + 1) / 2)``, (H, W, 3); the .npy keeps float32 (H, W, 3).
- ``shadow``: ``round(255 * clip(s, 0, 1))``, (H, W) gray.
- ``lighting``: the lighting sphere ``round(255 * clip(sphere, 0, 1))`` with 0 outside the
  disk, (200, 200, 3); the .npy keeps the float32 (9, 3) SH coefficients.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unrender.io import write_array, write_image
from unrender.modalities import MODALITIES

#: Modalities whose float array is also stored as .npy.
NPY_MODALITIES: tuple[str, ...] = ("normal", "lighting")


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.round(255.0 * np.clip(np.nan_to_num(x, nan=0.0), 0.0, 1.0)).astype(np.uint8)


def encode_png(modality: str, decomposition: dict[str, np.ndarray], i: int) -> np.ndarray:
    """The uint8 picture of item ``i`` of a batch ``decomposition`` for ``modality``."""
    if modality == "normal":
        return _to_u8((decomposition["normal"][i] + 1.0) / 2.0)
    if modality == "lighting":
        return _to_u8(decomposition["lighting_sphere"][i])
    if modality in ("albedo", "shading", "shadow"):
        return _to_u8(decomposition[modality][i])
    raise ValueError(f"unknown modality {modality!r}")


def frame_path(root: str | Path, modality: str, shard: str, sample_id: str, k: int) -> Path:
    """Path of the PNG of frame ``k`` of ``sample_id`` for ``modality`` (no suffix change)."""
    return Path(root) / modality / shard / sample_id / f"{k}.png"


def write_decomposition(
    root: str | Path,
    shard: str,
    sample_id: str,
    frame_ids: list[int],
    decomposition: dict[str, np.ndarray],
) -> None:
    """Write every modality of a batch that holds the frames ``frame_ids`` of one sample."""
    for i, k in enumerate(frame_ids):
        for m in MODALITIES:
            png = frame_path(root, m, shard, sample_id, k)
            write_image(png, encode_png(m, decomposition, i))
            if m in NPY_MODALITIES:
                write_array(png.with_suffix(".npy"), decomposition[m][i].astype(np.float32))
