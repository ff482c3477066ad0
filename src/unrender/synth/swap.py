"""Face-swap compositing: paste a donor's inner face into a target image.

Both renders share the target's pose (the swap tool aligned them) but not identity, shape
or lighting, so the pasted region's shading and cast shadows disagree with the rest of the
head. Two blends, as common swap pipelines do:

- ``feather``: the donor's colour is matched to the target region (per-channel gain on the
  mean, in linear RGB), then alpha-blended with a Gaussian-feathered mask;
- ``poisson``: OpenCV's seamless cloning (gradient-domain), which matches colours at the
  seam by itself.
"""

from __future__ import annotations

import cv2
import numpy as np

from unrender.color import linear_to_srgb, srgb_to_linear
from unrender.synth.render import FaceRender

BLENDS = ("feather", "poisson")


def swap_region(target: FaceRender, donor: FaceRender) -> np.ndarray:
    """The pixels a swap replaces: bool (H, W), inner face of both renders, eroded 1 px."""
    region = (np.minimum(target.inner, donor.inner) > 0.5) & target.mask & donor.mask
    kernel = np.ones((3, 3), np.uint8)
    return cv2.erode(region.astype(np.uint8), kernel).astype(bool)


def composite(target: FaceRender, donor: FaceRender, blend: str) -> np.ndarray:
    """The swapped image: uint8 (H, W, 3) sRGB, equal to ``target.image`` off the region.

    target, donor: renders at the same size (and pose); blend: one of :data:`BLENDS`.
    """
    if blend not in BLENDS:
        raise ValueError(f"unknown blend {blend!r}; known: {', '.join(BLENDS)}")
    region = swap_region(target, donor)
    if region.sum() < 16:
        return target.image.copy()
    size = target.image.shape[0]
    if blend == "poisson":
        rows, cols = np.nonzero(region)
        # seamlessClone centres the mask's bounding box on `center`; this keeps it in place.
        top, left = rows.min(), cols.min()
        height, width = rows.max() - top + 1, cols.max() - left + 1
        center = (int(left + width // 2), int(top + height // 2))
        mask = region.astype(np.uint8) * 255
        cloned = cv2.seamlessClone(donor.image, target.image, mask, center, cv2.NORMAL_CLONE)
        # OpenCV also nudges a pixel ring around the mask; keep the target exact there.
        return np.where(region[..., None], cloned, target.image)
    # Feather inwards: blur a core shrunk by two sigmas, so alpha fades out by the region's
    # edge and nothing outside it changes.
    sigma = max(1.0, size / 96)
    reach = int(np.ceil(2 * sigma))
    core = cv2.erode(region.astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8))
    alpha = (cv2.GaussianBlur(core.astype(np.float32), (0, 0), sigma) * region)[..., None]
    target_lin = srgb_to_linear(target.image / 255.0)
    donor_lin = srgb_to_linear(donor.image / 255.0)
    weight = alpha[..., 0]
    gain = (target_lin * alpha).sum((0, 1)) / np.maximum((donor_lin * alpha).sum((0, 1)), 1e-6)
    mixed = alpha * donor_lin * gain + (1 - alpha) * target_lin
    out = np.round(linear_to_srgb(mixed) * 255).astype(np.uint8)
    return np.where((weight > 0)[..., None], out, target.image)
