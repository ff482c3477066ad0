"""Second-order spherical-harmonic (SH) Lambertian lighting, in the IRN++ convention.

One definition serves the synthetic renderer, the classical backend and the IRN++ port.

Conventions (identical to InverseRenderNet++):

- Normals are camera-frame unit vectors ``(x, y, z)``: x to the right of the image,
  y up, z towards the viewer; visible surfaces have ``z > 0``.
- Lighting is float (9, 3): 9 SH coefficients per RGB channel. Flattened, it is laid out
  row-major, ``L27[3k + c]``.
- Irradiance of a normal under channel ``c`` is ``basis(n) @ L[:, c]`` with the basis row
  ``[c4, 2c2 y, 2c2 z, 2c2 x, 2c1 xy, 2c1 yz, c3 z^2 - c5, 2c1 xz, c1 (x^2 - y^2)]``
  (Ramamoorthi and Hanrahan's irradiance constants folded into the basis).

Every function accepts numpy arrays or torch tensors (same type out as in) so that the
batched GPU port and the numpy code use the same formulas.
"""

from __future__ import annotations

import sys
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

C1 = 0.429043
C2 = 0.511664
C3 = 0.743125
C4 = 0.886227
C5 = 0.247708

#: IRN++ adds this floor to every clipped shading value (so masked pixels read 1e-4).
SHADING_FLOOR = 1e-4

#: Radius in pixels of the IRN++ lighting sphere; the render is (2r, 2r, 3).
SPHERE_RADIUS = 100


def _xp(a: Any) -> Any:
    """The array module of ``a``: torch for tensors, numpy otherwise."""
    if type(a).__module__.startswith("torch"):
        return sys.modules["torch"]
    return np


def sh_basis(normals: Any) -> Any:
    """SH design rows of normals.

    normals: float (..., 3) unit vectors (x right, y up, z to the viewer).
    Returns float (..., 9), same array type and dtype.
    """
    xp = _xp(normals)
    x, y, z = normals[..., 0], normals[..., 1], normals[..., 2]
    return xp.stack(
        [
            xp.ones_like(x) * C4,
            2 * C2 * y,
            2 * C2 * z,
            2 * C2 * x,
            2 * C1 * x * y,
            2 * C1 * y * z,
            C3 * z * z - C5,
            2 * C1 * x * z,
            C1 * (x * x - y * y),
        ],
        -1,
    )


def irradiance(normals: Any, lighting: Any) -> Any:
    """Unclipped Lambertian irradiance.

    normals: float (..., H, W, 3) or (..., 3); lighting: float (9, 3), or (B, 9, 3) when
    normals are (B, H, W, 3). Returns float (..., 3): ``basis(n) @ L`` per RGB channel.
    """
    basis = sh_basis(normals)
    if lighting.ndim == 3:
        # (B, H, W, 9) x (B, 9, 3) -> (B, H, W, 3)
        b = basis.shape[0]
        flat = basis.reshape(b, -1, 9)
        return (flat @ lighting).reshape(*basis.shape[:-1], 3)
    return basis @ lighting


def shading(normals: Any, lighting: Any) -> Any:
    """IRN++ shading: ``clip(E * mask, 0, 1) + 1e-4``, no gamma.

    The mask is where the normal is non-zero (IRN++ writes zero normals outside its mask).
    Returns float (..., 3) in [1e-4, 1 + 1e-4].
    """
    xp = _xp(normals)
    e = irradiance(normals, lighting)
    mask = (normals.sum(-1) != 0)[..., None]
    e = e * (mask.astype(e.dtype) if xp is np else mask.to(e.dtype))
    return xp.clip(e, 0.0, 1.0) + SHADING_FLOOR


def fit_lighting(
    normals: np.ndarray,
    target: np.ndarray,
    scale: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Per-channel least-squares SH lighting, as IRN++ estimates it.

    Solves ``min_L || (basis(n) * scale_c) @ L_c - target_c ||`` for each channel c over the
    pixels in ``mask``.

    normals: float (H, W, 3) unit vectors; target: float (H, W, 3) linear intensity;
    scale: float (H, W, 3) per-pixel factor (albedo x shadow in IRN++), default 1;
    mask: bool (H, W), default all pixels. Returns float64 (9, 3).
    """
    basis = sh_basis(normals.astype(np.float64)).reshape(-1, 9)
    t = target.astype(np.float64).reshape(-1, 3)
    s = np.ones_like(t) if scale is None else scale.astype(np.float64).reshape(-1, 3)
    keep = np.ones(len(t), bool) if mask is None else mask.reshape(-1).astype(bool)
    if keep.sum() < 9:
        raise ValueError(f"need at least 9 pixels to fit SH lighting, got {int(keep.sum())}")
    out = np.empty((9, 3))
    for c in range(3):
        a = basis[keep] * s[keep, c : c + 1]
        out[:, c] = np.linalg.lstsq(a, t[keep, c], rcond=None)[0]
    return out


def sphere_normals(radius: int = SPHERE_RADIUS) -> np.ndarray:
    """Normals of the IRN++ lighting sphere: float32 (2r, 2r, 3), NaN outside the disk.

    Pixel (row, col) has ``x = (col + 1 - r) / r`` and ``y = (r - (row + 1)) / r``.
    """
    idx = np.arange(2 * radius, dtype=np.float64)
    x = ((idx + 1 - radius) / radius)[None, :].repeat(2 * radius, 0)
    y = ((radius - (idx + 1)) / radius)[:, None].repeat(2 * radius, 1)
    zz = 1.0 - (x * x + y * y)  # this rounding decides the rim pixels, as upstream
    inside = zz > 0
    z = np.sqrt(np.where(inside, zz, 1.0))
    n = np.stack([x, y, z], -1)
    n[~inside] = np.nan
    return n.astype(np.float32)


@cache
def _frozen_sphere_normals(radius: int) -> np.ndarray:
    n = sphere_normals(radius)
    n.flags.writeable = False  # shared between calls
    return n


def render_sphere(lighting: np.ndarray, radius: int = SPHERE_RADIUS) -> np.ndarray:
    """The lighting rendered on a unit-albedo sphere: float32 (2r, 2r, 3), NaN outside.

    lighting: float (9, 3). Same as IRN++'s ``lighting_render`` (shading, no gamma).
    """
    n = _frozen_sphere_normals(radius)
    return shading(n, lighting.astype(np.float32)).astype(np.float32)


@cache
def illumination_pca() -> tuple[np.ndarray, np.ndarray]:
    """IRN++'s outdoor illumination PCA: ``(mean (27,), vectors (18, 27))``, float64.

    Lighting vectors are flattened row-major (``L27[3k + c]``).
    """
    with resources.files("unrender.data").joinpath("illumination_pca.npz").open("rb") as f:
        data = np.load(f)
        return data["mean"].reshape(27).copy(), data["vectors"].copy()
