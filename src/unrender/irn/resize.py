"""TensorFlow 1's legacy bilinear resize (``tf.image.resize_images`` defaults), by hand.

IRN++ upsamples its decoder features with ``tf.image.resize_images(x, size)``, i.e.
``resize_bilinear`` with ``align_corners=False`` and ``half_pixel_centers=False``. Output
pixel ``d`` samples the source at ``d * (in / out)`` (no half-pixel offset, scale in
float32); the lower neighbour is ``floor`` of that, the upper one ``min(ceil, in - 1)``.
``torch.nn.functional.interpolate`` uses half-pixel centres, so it does not match.
"""

from __future__ import annotations

import numpy as np
import torch


def _source_taps(
    in_size: int, out_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lower index, upper index (int64, (out,)) and lerp weight (float32, (out,)) per output."""
    # TF computes the scale as a float32 division and the source position in float32.
    scale = np.float32(in_size) / np.float32(out_size)
    position = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(position)
    upper = np.minimum(np.ceil(position), in_size - 1)
    weight = position - lower
    return (
        torch.from_numpy(lower.astype(np.int64)).to(device),
        torch.from_numpy(upper.astype(np.int64)).to(device),
        torch.from_numpy(weight).to(device),
    )


def _lerp_along(x: torch.Tensor, dim: int, out_size: int) -> torch.Tensor:
    """Legacy-bilinear interpolation of ``x`` along ``dim`` to ``out_size`` samples."""
    lower, upper, weight = _source_taps(x.shape[dim], out_size, x.device)
    shape = [1] * x.dim()
    shape[dim] = out_size
    start = x.index_select(dim, lower)
    # TF's order of operations: start + (end - start) * weight.
    return (x.index_select(dim, upper) - start).mul_(weight.to(x.dtype).view(shape)).add_(start)


def resize_bilinear_legacy(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``x`` float (N, C, H, W) to ``size`` = (H', W') like TF1's legacy bilinear.

    Returns float (N, C, H', W'), same dtype; channels-last in memory when ``x`` is.
    TF's kernel computes ``top = tl + (tr - tl) * wx``, ``bottom`` likewise, then
    ``top + (bottom - top) * wy``; interpolating along W first, then along H, performs
    exactly these operations.
    """
    # Gathers along H and W of the physical NHWC layout copy whole channel rows (fast).
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    nhwc = x.permute(0, 2, 3, 1) if channels_last else x
    h_dim, w_dim = (1, 2) if channels_last else (2, 3)
    resized = _lerp_along(_lerp_along(nhwc, w_dim, size[1]), h_dim, size[0])
    return resized.permute(0, 3, 1, 2) if channels_last else resized
