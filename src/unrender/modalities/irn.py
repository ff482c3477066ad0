"""The ``irn`` modality backend: the PyTorch port of InverseRenderNet++, batched.

Runs upstream's preprocessing (``mode``: demo, iiw or diode), network, lighting estimate
and renders at the network size (short side 200), then maps the maps onto the modality
contract at the input size, as upstream's post-processing does but without the display
normalisations: bilinear resize (``align_corners=False``, like cv2 ``INTER_LINEAR``) of
albedo, normal, shading and shadow; albedo and shadow clipped to [0, 1] (no min-max);
normals rescaled to unit length after the resize (zero normals stay zero). Lighting (9, 3)
and the 200 x 200 lighting sphere are independent of the input size.

The legacy TF1 path (``containers/irn-tf1/run_shard.py``) maps upstream's outputs the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from unrender.devices import resolve_device
from unrender.irn import inference
from unrender.modalities import register


def _resize(maps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of float (B, h, w, C) maps to (B, height, width, C)."""
    if maps.shape[1:3] == (height, width):
        return maps
    nchw = F.interpolate(
        maps.permute(0, 3, 1, 2), size=(height, width), mode="bilinear", align_corners=False
    )
    return nchw.permute(0, 2, 3, 1)


def to_contract(net: dict[str, torch.Tensor], height: int, width: int) -> dict[str, np.ndarray]:
    """Map :func:`unrender.irn.inference.infer` outputs onto the contract at ``height x width``.

    Returns float32 numpy: albedo (B, H, W, 3) in [0, 1], normal (B, H, W, 3) unit or zero,
    shading (B, H, W, 3), shadow (B, H, W) in [0, 1], lighting (B, 9, 3),
    lighting_sphere (B, 200, 200, 3) (NaN outside the disk).
    """
    normal = _resize(net["normal"], height, width)
    length = normal.norm(dim=-1, keepdim=True)
    out = {
        "albedo": _resize(net["albedo"], height, width).clamp(0.0, 1.0),
        "normal": torch.where(length > 0, normal / length.clamp_min(1e-12), 0.0),
        "shading": _resize(net["shading"], height, width),
        "shadow": _resize(net["shadow"][..., None], height, width)[..., 0].clamp(0.0, 1.0),
        "lighting": net["lighting"],
        "lighting_sphere": net["lighting_render"],
    }
    return {k: v.float().cpu().numpy() for k, v in out.items()}


#: Images per network call on CPU: per-image time grows by about a third from batch 2 to
#: batch 16 there (the activations leave the caches; see bench/irn_speed.md).
CPU_BATCH = 2

#: Images per network call on GPUs.
GPU_BATCH = 16


@register("irn")
class IrnBackend:
    """InverseRenderNet++ (PyTorch port) on uint8 (B, H, W, 3) RGB batches.

    weights: converted safetensors file (``unrender irn convert``); mode: ``demo`` (the
    outdoor model), ``iiw`` or ``diode`` -- use the weights of the matching upstream
    checkpoint; device: ``auto``, ``cpu``, ``cuda``, ``cuda:1`` ...; batch_size: images per
    network call, default :data:`CPU_BATCH` on CPU and :data:`GPU_BATCH` otherwise;
    precision: the network's compute dtype, a key of :data:`unrender.irn.inference.PRECISIONS`
    (float32, the parity-tested default, on every device).
    """

    name = "irn"

    def __init__(
        self,
        weights: str | Path | None = None,
        mode: str = "demo",
        device: str = "auto",
        batch_size: int | None = None,
        precision: str = "float32",
    ) -> None:
        if weights is None:
            raise ValueError(f"the irn backend needs irn.weights. {inference.WEIGHTS_HELP}")
        if mode not in inference.MODES:
            raise ValueError(f"irn.mode must be one of {', '.join(inference.MODES)}, got {mode!r}")
        if precision not in inference.PRECISIONS:
            raise ValueError(
                f"irn.precision must be one of {', '.join(inference.PRECISIONS)}, got {precision!r}"
            )
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        torch_device = resolve_device(device)
        self.mode = mode
        self.precision = precision
        self.batch_size = batch_size or (CPU_BATCH if torch_device.type == "cpu" else GPU_BATCH)
        self.model = inference.load(weights, torch_device)

    def decompose(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Decompose uint8 (B, H, W, 3) RGB; see :mod:`unrender.modalities` for the outputs."""
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"irn backend wants uint8 (B, H, W, 3), got {images.dtype} {images.shape}"
            )
        height, width = images.shape[1:3]
        if len(images) == 0:
            shapes = {
                "albedo": (height, width, 3),
                "normal": (height, width, 3),
                "shading": (height, width, 3),
                "shadow": (height, width),
                "lighting": (9, 3),
                "lighting_sphere": (200, 200, 3),
            }
            return {k: np.zeros((0, *s), np.float32) for k, s in shapes.items()}
        parts = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                net = inference.decompose_batch(
                    self.model, images[start : start + self.batch_size], self.mode, self.precision
                )
                parts.append(to_contract(net, height, width))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
