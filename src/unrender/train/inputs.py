"""What each model reads: one definition for the workflow, training and ``unrender predict``.

Light on purpose (no torch, no cv2): the Snakefile imports it at parse time to give each
``train`` job only the packs its model needs.

An input is named after what it shows: ``rgb`` (the frame), ``albedo``, ``normal``,
``shading``, ``shadow`` (pictures, uint8 (C, S, S) once packed, C in
:data:`PICTURE_CHANNELS`) and ``lighting`` (27 SH coefficients, float32). Inputs are packed
by the job that packs their source: ``rgb`` with the frames of a shard
(``packs/frames/{shard}``), the modalities together, as one ``decompose`` job writes them all
(``packs/modalities/{shard}``).
"""

from __future__ import annotations

import os
from pathlib import Path

from unrender.modalities import MODALITIES

#: Everything a model can take as input, in the study's order.
INPUTS: tuple[str, ...] = ("rgb", *MODALITIES)

#: Picture input -> its channels C, uint8 (C, S, S): RGB-like pictures 3, the gray ``shadow``
#: 1. Stored as they are, not all repeated to 3: the packed copy is what limits training at
#: 256 px (bench/train_loader.py), and a gray picture on 3 channels is 2/3 repeats
#: (ensemble_net's item is 17 % smaller). The model expands gray to its 3-channel stem.
PICTURE_CHANNELS: dict[str, int] = {"rgb": 3, "albedo": 3, "normal": 3, "shading": 3, "shadow": 1}

#: Inputs that are pictures; the rest (``lighting``) is a vector.
PICTURE_INPUTS: tuple[str, ...] = tuple(PICTURE_CHANNELS)

#: Length of the ``lighting`` input: 9 SH coefficients x RGB.
LIGHTING_DIM = 27


def input_shape(name: str, image_size: int) -> tuple[int, ...]:
    """Shape of one item's input ``name``: (C, S, S) for a picture, (27,) for ``lighting``."""
    if name == "lighting":
        return (LIGHTING_DIM,)
    return (PICTURE_CHANNELS[name], image_size, image_size)


#: Model name -> the inputs it takes. ``ensemble_net`` is the fusion network.
MODEL_INPUTS: dict[str, tuple[str, ...]] = {
    "rgb": ("rgb",),
    **{m: (m,) for m in MODALITIES},
    "ensemble_net": MODALITIES,
}

#: The models with one picture input (rgb and the picture modalities): those whose saliency
#: maps onto a picture (unrender.report.saliency).
PICTURE_MODELS: tuple[str, ...] = tuple(
    name
    for name, inputs in MODEL_INPUTS.items()
    if len(inputs) == 1 and inputs[0] in PICTURE_INPUTS
)

#: Training-free detectors -> what they read; each writes predictions/{name}.tsv from the
#: run's files directly (no pack, no training), e.g. :mod:`unrender.lighting_consistency`.
DETECTOR_INPUTS: dict[str, tuple[str, ...]] = {"lighting_consistency": ("rgb", "normal")}

#: Pack part (``packs/{part}/{shard}``) -> the inputs it holds.
PACK_PARTS: dict[str, tuple[str, ...]] = {"frames": ("rgb",), "modalities": MODALITIES}


def pack_parts(inputs: tuple[str, ...] | list[str]) -> list[str]:
    """The pack parts that hold ``inputs``, in :data:`PACK_PARTS` order."""
    unknown = set(inputs) - set(INPUTS)
    if unknown:
        raise ValueError(f"unknown input(s) {', '.join(sorted(unknown))}; known: {INPUTS}")
    return [part for part, held in PACK_PARTS.items() if set(held) & set(inputs)]


def input_path(
    run_dir: str | os.PathLike[str], name: str, shard: str, sample_id: str, k: int
) -> Path:
    """File that holds input ``name`` of frame ``k`` of a sample (PNG; SH .npy for lighting).

    ``rgb``: ``frames/{shard}/{sample_id}/{k}.png``; a modality:
    ``modalities/{name}/{shard}/{sample_id}/{k}.png`` (``.npy`` for ``lighting``).
    """
    if name == "rgb":
        return Path(run_dir) / "frames" / shard / sample_id / f"{k}.png"
    suffix = "npy" if name == "lighting" else "png"
    return Path(run_dir) / "modalities" / name / shard / sample_id / f"{k}.{suffix}"
