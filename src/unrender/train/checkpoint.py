"""Checkpoints: weights in ``model.safetensors``, everything else in a ``meta.json`` sidecar.

No pickle anywhere: loading builds the network from ``meta.json`` (model name, arch) on the
``meta`` device (no memory, no random initialisation), then takes every tensor from the
safetensors file, strictly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_model

from unrender.io import atomic_open, atomic_path
from unrender.train.models import Classifier, build_model

WEIGHTS = "model.safetensors"
META = "meta.json"


def save(model_dir: str | os.PathLike[str], model: Classifier, meta: dict[str, Any]) -> None:
    """Write ``model_dir/model.safetensors`` and ``model_dir/meta.json`` atomically.

    ``meta`` must hold at least ``model`` (a name of ``MODEL_INPUTS``) and ``arch``.
    """
    model_dir = Path(model_dir)
    with atomic_path(model_dir / WEIGHTS) as tmp:
        save_model(model, str(tmp))
    with atomic_open(model_dir / META) as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


def read_meta(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The sidecar of a checkpoint folder: a JSON object with ``model`` and ``arch`` (str)
    and ``options.image_size`` (int >= 1). ValueError naming the file otherwise."""
    path = Path(model_dir) / META
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: {model_dir} holds no trained model")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} holds a {type(meta).__name__}, not an object")
    for key in ("model", "arch"):
        if not isinstance(meta.get(key), str):
            raise ValueError(f"{path}: {key!r} is missing or not a string")
    options = meta.get("options")
    size = options.get("image_size") if isinstance(options, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"{path}: options.image_size is {size!r}, not a size in pixels >= 1")
    return meta


def load(
    model_dir: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[Classifier, dict[str, Any]]:
    """The trained classifier of ``model_dir`` (in eval mode, on ``device``) and its meta.

    ValueError naming the file for a meta.json or weights that do not describe a model.
    """
    meta = read_meta(model_dir)
    weights = Path(model_dir) / WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} does not exist beside {Path(model_dir) / META}")
    try:
        with torch.device("meta"):
            model = build_model(meta["model"], meta["arch"], pretrained="none")
    except (KeyError, ValueError) as e:
        raise ValueError(f"{Path(model_dir) / META}: {e}") from None
    try:
        model.load_state_dict(load_file(weights, device=str(device)), strict=True, assign=True)
    except RuntimeError as e:  # safetensors' and torch's error for a damaged or foreign file
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{weights} does not fit {META} ({first_line})") from None
    return model.eval(), meta
