"""Convert an upstream TF1 InverseRenderNet++ checkpoint into a safetensors state dict.

TensorFlow is imported only here, only when converting (``pip install 'unrender[tf]'``);
inference needs just the converted file. Conv kernels are stored HWIO by TF and become
OIHW; every other variable is copied as is. Variables that the inference graph does not use
(optimizer slots, step counters of a training checkpoint) are ignored.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from unrender.io import atomic_path
from unrender.irn.model import InverseRenderNet, tf_variable_name

#: Upstream commit whose graph the variable names follow.
UPSTREAM_COMMIT = "69922fa494f8541dc53048c41fe9f95a5d5053d2"


def _tensorflow() -> ModuleType:
    """The tensorflow module; ModuleNotFoundError with the install hint if absent."""
    try:
        import tensorflow as tf
    except ImportError as e:
        raise ModuleNotFoundError(
            "converting a TF1 checkpoint needs TensorFlow: pip install 'unrender[tf]'"
        ) from e
    return tf


def checkpoint_prefix(path: str | Path) -> str:
    """The checkpoint prefix of ``path``: a prefix (``dir/model.ckpt``) or a folder.

    A folder must hold a ``checkpoint`` state file (as upstream's model_ckpt folders do).
    Raises FileNotFoundError naming what is missing.
    """
    path = Path(path)
    if path.is_dir():
        prefix = _tensorflow().train.latest_checkpoint(str(path))
        if prefix is None:
            raise FileNotFoundError(
                f"{path} is a folder without a TF `checkpoint` state file; "
                "give the checkpoint prefix instead (e.g. model_ckpt/model.ckpt)"
            )
        return prefix
    if not Path(f"{path}.index").is_file():
        raise FileNotFoundError(
            f"TF checkpoint not found: {path}.index (give the prefix, e.g. model_ckpt/model.ckpt, "
            "or the folder holding it)"
        )
    return str(path)


def load_tf1_checkpoint(prefix: str | Path) -> dict[str, torch.Tensor]:
    """Read the 176 IRN++ variables of a TF1 checkpoint as an :class:`InverseRenderNet` state dict.

    prefix: checkpoint prefix or folder (see :func:`checkpoint_prefix`). Returns float32
    contiguous tensors keyed like ``InverseRenderNet().state_dict()``. Raises ValueError
    listing missing variables or wrong shapes.
    """
    reader = _tensorflow().train.load_checkpoint(checkpoint_prefix(prefix))
    stored = reader.get_variable_to_shape_map()
    with torch.device("meta"):
        template = InverseRenderNet().state_dict()
    state: dict[str, torch.Tensor] = {}
    problems = []
    for key, expected in template.items():
        name = tf_variable_name(key)
        if name not in stored:
            problems.append(f"missing {name}")
            continue
        array = np.asarray(reader.get_tensor(name), np.float32)
        if array.ndim == 4:
            array = array.transpose(3, 2, 0, 1)  # HWIO -> OIHW
        if array.shape != tuple(expected.shape):
            problems.append(f"{name} has shape {array.shape}, expected {tuple(expected.shape)}")
            continue
        state[key] = torch.from_numpy(np.ascontiguousarray(array))
    if problems:
        raise ValueError(
            f"{prefix} is not an InverseRenderNet++ checkpoint ({len(problems)} problems): "
            + "; ".join(problems[:5])
            + (" ..." if len(problems) > 5 else "")
        )
    return state


def save_weights(state: dict[str, torch.Tensor], out: str | Path, source: str = "") -> None:
    """Write ``state`` to the safetensors file ``out`` atomically (metadata: source, commit)."""
    from safetensors.torch import save_file

    metadata = {"format": "unrender-irn", "upstream_commit": UPSTREAM_COMMIT, "source": source}
    with atomic_path(out) as tmp:
        save_file(state, str(tmp), metadata=metadata)


def convert(prefix: str | Path, out: str | Path) -> int:
    """Convert checkpoint ``prefix`` to the safetensors file ``out``; return the variable count."""
    state = load_tf1_checkpoint(prefix)
    save_weights(state, out, source=str(prefix))
    return len(state)
