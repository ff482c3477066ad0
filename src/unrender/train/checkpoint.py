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
    """The sidecar of a checkpoint folder."""
    path = Path(model_dir) / META
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: {model_dir} holds no trained model")
    return json.loads(path.read_text())


def load(
    model_dir: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[Classifier, dict[str, Any]]:
    """The trained classifier of ``model_dir`` (in eval mode, on ``device``) and its meta."""
    meta = read_meta(model_dir)
    weights = Path(model_dir) / WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} does not exist beside {Path(model_dir) / META}")
    with torch.device("meta"):
        model = build_model(meta["model"], meta["arch"], pretrained="none")
    model.load_state_dict(load_file(weights, device=str(device)), strict=True, assign=True)
    return model.eval(), meta
