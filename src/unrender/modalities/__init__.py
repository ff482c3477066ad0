"""Intrinsic-image modality backends behind one interface.

A backend takes a batch of face images and returns the five modalities of each, with
names, shapes, dtypes and ranges that are identical across backends and follow the
InverseRenderNet++ conventions (see :mod:`unrender.sh` for the frames and SH layout).

Input: ``images`` uint8 (B, H, W, 3) RGB (sRGB-encoded, as decoded from video).

Output: a dict of float32 numpy arrays, at the input's H x W:

=================  ==================  ==========================================================
key                shape               meaning, range
=================  ==================  ==========================================================
``albedo``         (B, H, W, 3)        diffuse reflectance, linear, in [0, 1]
``normal``         (B, H, W, 3)        unit camera-frame normals (x right, y up, z to viewer),
                                       components in [-1, 1]; all zeros where not estimated
``shading``        (B, H, W, 3)        SH irradiance of the normals under ``lighting``,
                                       ``clip(E, 0, 1) + 1e-4``, linear, no shadow
``shadow``         (B, H, W)           cast-shadow / visibility factor in [0, 1] (1 = unshadowed)
``lighting``       (B, 9, 3)           second-order SH lighting, 9 coefficients x RGB
``lighting_sphere``(B, 200, 200, 3)    ``lighting`` rendered on a unit sphere (IRN++'s
                                       ``lighting_render``), NaN outside the disk
=================  ==================  ==========================================================

The model ``image ~= albedo * shading * shadow`` holds in linear RGB.

On disk (see :func:`unrender.modalities.files.encode_png`), each modality of frame ``k`` is a
``{k}.png`` for viewing and training, plus ``{k}.npy`` holding the float32 array where
precision matters (normal, lighting).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

#: The five modalities, in the study's order.
MODALITIES: tuple[str, ...] = ("albedo", "normal", "shading", "shadow", "lighting")

#: Every key a backend returns.
OUTPUT_KEYS: tuple[str, ...] = (*MODALITIES[:-1], "lighting", "lighting_sphere")


class Backend(Protocol):
    """A modality estimator: uint8 (B, H, W, 3) in, dict of float32 arrays out."""

    name: str

    def decompose(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Decompose a batch; see the module docstring for the output contract."""
        ...


_REGISTRY: dict[str, Callable[..., Backend]] = {}


def register(name: str) -> Callable[[Callable[..., Backend]], Callable[..., Backend]]:
    """Class decorator: make a backend available to :func:`get_backend` under ``name``."""

    def wrap(factory: Callable[..., Backend]) -> Callable[..., Backend]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def get_backend(name: str, **options: object) -> Backend:
    """Instantiate the backend ``name`` (``classical`` or ``irn``) with its options."""
    if name == "classical":
        from unrender.modalities import classical  # noqa: F401  (registers itself)
    elif name == "irn":
        from unrender.modalities import irn  # noqa: F401
    if name not in _REGISTRY:
        raise ValueError(f"unknown modality backend {name!r}; known: classical, irn, irn-tf1")
    return _REGISTRY[name](**options)
