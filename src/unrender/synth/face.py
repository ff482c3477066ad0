"""Synthetic face identities: a head-shaped height field and a linear albedo texture.

A face lives in its own *face frame*: ``u`` to the face's right as seen by the camera
(image right when unposed), ``v`` up, height ``h`` towards the viewer, in the same units as
the image plane (the image spans ``[-1, 1]`` across at scale 1). The surface is
``h = H(u, v)``: a super-ellipsoid head plus Gaussian features (eye sockets, brow ridge,
nose, cheekbones, lips, chin). Everything about one identity is in :class:`Identity`
(a few dozen numbers); :func:`face_maps` turns it into textures sampled on a grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from unrender.color import srgb_to_linear

#: Half-extent of the face-frame grid: maps cover ``u, v`` in ``[-EXTENT, EXTENT]``.
EXTENT = 1.0

#: Grid stride of :attr:`FaceMaps.hull`.
HULL_STRIDE = 4

#: Height of the surface outside the head drops with this slope, so that bilinear lookups
#: stay continuous at the silhouette (points there are masked out anyway).
_OUTSIDE_SLOPE = 3.0


@dataclass(frozen=True)
class Identity:
    """Shape and appearance parameters of one synthetic person (lengths in face-frame units).

    head: semi-axes (width, height, depth) of the head; head_power: super-ellipsoid
    exponent (2 = ellipsoid; larger = flatter front). eye: (half spacing, height) of the
    eye centres; nose: (length, protrusion, tip width); brow, cheek, chin: feature heights;
    mouth: (half width, height below the nose tip, lip fullness).
    skin, hair, iris, lips: linear RGB albedo in [0, 1]; freckles: density of skin spots
    in [0, 1]; texture_seed: seeds the identity's skin and hair noise.
    """

    head: tuple[float, float, float]
    head_power: float
    eye: tuple[float, float]
    nose: tuple[float, float, float]
    brow: float
    cheek: float
    chin: float
    mouth: tuple[float, float, float]
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    iris: tuple[float, float, float]
    lips: tuple[float, float, float]
    hairline: float
    freckles: float
    texture_seed: int

    @classmethod
    def random(cls, rng: np.random.Generator) -> Identity:
        """A random plausible identity."""
        # Skin tone: interpolate between a light and a dark sRGB tone, then jitter the hue.
        tone = rng.uniform()
        light, dark = np.array([0.95, 0.78, 0.67]), np.array([0.38, 0.25, 0.18])
        skin_srgb = (1 - tone) * light + tone * dark
        skin_srgb = skin_srgb * (1 + rng.normal(0, 0.03, 3))
        hair_choices = np.array(
            [
                [0.05, 0.04, 0.03],
                [0.20, 0.12, 0.07],
                [0.45, 0.30, 0.15],
                [0.75, 0.62, 0.40],
                [0.45, 0.18, 0.08],
                [0.55, 0.55, 0.55],
            ]
        )
        hair_srgb = hair_choices[rng.integers(len(hair_choices))] * rng.uniform(0.85, 1.1)
        iris_choices = np.array(
            [[0.30, 0.18, 0.08], [0.15, 0.10, 0.05], [0.30, 0.45, 0.65], [0.35, 0.45, 0.30]]
        )
        iris_srgb = iris_choices[rng.integers(len(iris_choices))]
        lips_srgb = skin_srgb * np.array([0.85, 0.55, 0.58]) * rng.uniform(0.9, 1.05)

        def lin(c: np.ndarray) -> tuple[float, float, float]:
            v = srgb_to_linear(np.clip(c, 0.0, 1.0))
            return (float(v[0]), float(v[1]), float(v[2]))

        u = rng.uniform
        return cls(
            head=(u(0.56, 0.66), u(0.78, 0.88), u(0.55, 0.70)),
            head_power=u(2.2, 2.9),
            eye=(u(0.20, 0.25), u(0.09, 0.15)),
            nose=(u(0.20, 0.28), u(0.14, 0.22), u(0.05, 0.075)),
            brow=u(0.025, 0.055),
            cheek=u(0.02, 0.05),
            chin=u(0.02, 0.05),
            mouth=(u(0.13, 0.18), u(0.12, 0.16), u(0.6, 1.2)),
            skin=lin(skin_srgb),
            hair=lin(hair_srgb),
            iris=lin(iris_srgb),
            lips=lin(lips_srgb),
            hairline=u(0.42, 0.58),
            freckles=float(u() ** 2),
            texture_seed=int(rng.integers(2**31)),
        )


@dataclass(frozen=True)
class FaceMaps:
    """An identity sampled on a ``G x G`` face-frame grid (row 0 is ``v = +EXTENT``).

    height: float32 (G, G), surface height, continued below zero outside the head.
    colour: float32 (G, G, 4): linear albedo RGB in [0, 1], then ``inside`` (1 on the head).
    shape: float32 (G, G, 4): unit face-frame normal xyz, then ``inner`` in [0, 1], the
    inner-face region (eyes, brows, nose, mouth) that face swaps replace.
    Both are packed in 4 channels so that one bilinear lookup fetches them.
    hull: float32 (3, N) face-frame points (u, v, height) on the head, every
    :data:`HULL_STRIDE`-th grid cell: a cheap stand-in for the head when bounding it.
    """

    height: np.ndarray
    colour: np.ndarray
    shape: np.ndarray
    hull: np.ndarray

    @property
    def resolution(self) -> int:
        return int(self.height.shape[0])

    @property
    def inside(self) -> np.ndarray:
        """float32 (G, G): 1 on the head, 0 off it."""
        return self.colour[..., 3]


def grid_coordinates(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Face-frame ``(u, v)`` of grid cell centres: two float32 (G, G), v decreasing down rows."""
    step = 2 * EXTENT / resolution
    axis = -EXTENT + step * (np.arange(resolution, dtype=np.float32) + 0.5)
    return np.meshgrid(axis, -axis)


def _gauss(u: np.ndarray, v: np.ndarray, cu: float, cv: float, su: float, sv: float) -> np.ndarray:
    """Unit-peak anisotropic Gaussian centred on (cu, cv) with spreads (su, sv)."""
    return np.exp(-0.5 * (((u - cu) / su) ** 2 + ((v - cv) / sv) ** 2))


def _mirrored(
    u: np.ndarray, v: np.ndarray, cu: float, cv: float, su: float, sv: float
) -> np.ndarray:
    """A Gaussian pair at (+cu, cv) and (-cu, cv)."""
    return _gauss(u, v, cu, cv, su, sv) + _gauss(u, v, -cu, cv, su, sv)


def _landmarks(identity: Identity) -> dict[str, float]:
    """Feature positions derived from the identity: eye and nose-tip heights, mouth height."""
    eye_dx, eye_y = identity.eye
    nose_len = identity.nose[0]
    tip_y = eye_y - nose_len
    return {"eye_dx": eye_dx, "eye_y": eye_y, "tip_y": tip_y, "mouth_y": tip_y - identity.mouth[1]}


def face_height(identity: Identity, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Surface height and head mask at face-frame points.

    u, v: float32 arrays of one shape. Returns ``(height float32, inside bool)``.
    """
    a, b, c = identity.head
    p = identity.head_power
    lm = _landmarks(identity)
    r = (np.abs(u / a) ** p + np.abs(v / b) ** p) ** (1 / p)
    inside = r < 1.0
    head = np.where(
        inside,
        c * np.clip(1.0 - r**p, 0.0, 1.0) ** (1 / p),
        -_OUTSIDE_SLOPE * (r - 1.0),
    )
    eye_dx, eye_y, tip_y, mouth_y = lm["eye_dx"], lm["eye_y"], lm["tip_y"], lm["mouth_y"]
    nose_len, nose_h, nose_w = identity.nose
    # Nose: a ridge rising from the bridge to the tip, narrow at the bridge, plus a tip bulb
    # and two nostril wings. It is the main caster of shadows.
    along = np.clip((eye_y - v) / nose_len, 0.0, 1.0)
    below_tip = np.clip((tip_y - v) / 0.045, 0.0, None)
    ridge_w = 0.025 + (nose_w - 0.025) * along
    ridge = nose_h * (0.25 + 0.75 * along**1.5) * np.exp(-0.5 * (u / ridge_w) ** 2)
    ridge = ridge * np.exp(-(below_tip**2)) * (v < eye_y + 0.02)
    nose = (
        ridge
        + 0.25 * nose_h * _gauss(u, v, 0.0, tip_y + 0.01, nose_w * 0.8, 0.035)
        + 0.22 * nose_h * _mirrored(u, v, nose_w * 1.05, tip_y + 0.015, 0.032, 0.028)
    )
    lip = identity.mouth[2]
    face = (
        -0.06 * _mirrored(u, v, eye_dx, eye_y, 0.085, 0.055)  # eye sockets
        + 0.025 * _mirrored(u, v, eye_dx, eye_y, 0.04, 0.028)  # eyeballs
        + identity.brow * _gauss(u, v, 0.0, eye_y + 0.1, 0.28, 0.04)
        + identity.cheek * _mirrored(u, v, eye_dx + 0.05, eye_y - 0.17, 0.11, 0.09)
        + 0.02 * lip * _gauss(u, v, 0.0, mouth_y + 0.022, identity.mouth[0] * 0.7, 0.02)
        + 0.022 * lip * _gauss(u, v, 0.0, mouth_y - 0.025, identity.mouth[0] * 0.65, 0.024)
        - 0.012 * _gauss(u, v, 0.0, mouth_y, identity.mouth[0] * 0.8, 0.006)  # mouth line
        + identity.chin * _gauss(u, v, 0.0, -0.85 * b + 0.1, 0.12, 0.07)
        + nose
    )
    # Fade the features out towards the rim so they never break the silhouette.
    fade = np.clip((1.0 - r) / 0.25, 0.0, 1.0)
    return (head + face * fade).astype(np.float32), inside


def _smooth_noise(
    rng: np.random.Generator, resolution: int, sigma_px: float, channels: int = 1
) -> np.ndarray:
    """Gaussian-blurred white noise, normalised to unit std: float32 (G, G) or (G, G, C)."""
    shape = (resolution, resolution) if channels == 1 else (resolution, resolution, channels)
    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma_px)
    return noise / max(float(noise.std()), 1e-6)


def _face_albedo(identity: Identity, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Linear albedo texture of the identity on the grid: float32 (G, G, 3) in [0, 1]."""
    g = u.shape[0]
    px = 2 * EXTENT / g  # face-frame units per grid cell
    rng = np.random.default_rng(identity.texture_seed)
    lm = _landmarks(identity)
    eye_dx, eye_y, mouth_y = lm["eye_dx"], lm["eye_y"], lm["mouth_y"]
    skin = np.array(identity.skin, np.float32)

    # Skin: blotchy low-frequency variation, redder cheeks, fine pores and freckles.
    blotch = 1.0 + 0.06 * _smooth_noise(rng, g, 0.08 / px)
    pores = 1.0 + 0.035 * _smooth_noise(rng, g, 0.6)
    albedo = skin * (blotch * pores)[..., None]
    flush = _mirrored(u, v, eye_dx + 0.04, eye_y - 0.2, 0.1, 0.08)[..., None]
    albedo = albedo * (1.0 + flush * np.array([0.08, -0.06, -0.05], np.float32))
    spots = cv2.GaussianBlur(
        (rng.uniform(size=(g, g)) < 0.012 * identity.freckles).astype(np.float32), (0, 0), 0.9
    )
    albedo = albedo * (1.0 - 2.5 * spots[..., None] * np.array([0.6, 0.75, 0.85], np.float32))

    def paint(weight: np.ndarray, colour: np.ndarray) -> None:
        nonlocal albedo
        w = np.clip(weight, 0.0, 1.0)[..., None]
        albedo = albedo * (1 - w) + colour * w

    def ellipse(cu: float, cv: float, ru: float, rv: float, soft: float) -> np.ndarray:
        d = np.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2)
        return np.clip((1.0 - d) / soft, 0.0, 1.0)

    hair = np.array(identity.hair, np.float32)
    strands = 1.0 + 0.25 * cv2.GaussianBlur(
        rng.standard_normal((g, g)).astype(np.float32), (0, 0), sigmaX=0.6, sigmaY=4.0
    )
    # Hair above a hairline that curves down at the temples.
    hairline = identity.hairline + 0.05 - 0.6 * np.clip(np.abs(u) - 0.18, 0.0, None) ** 1.5
    hair_w = np.clip((v - hairline) / 0.03, 0.0, 1.0)
    paint(hair_w, hair * strands[..., None])

    # Lips: upper and lower, a little darker at the mouth line.
    mw, lip = identity.mouth[0], identity.mouth[2]
    lips = np.array(identity.lips, np.float32)
    lip_w = np.maximum(
        ellipse(0.0, mouth_y + 0.018, mw, 0.022 * lip + 0.008, 0.3),
        ellipse(0.0, mouth_y - 0.022, mw * 0.85, 0.026 * lip + 0.008, 0.3),
    )
    paint(lip_w, lips)
    paint(ellipse(0.0, mouth_y, mw * 0.9, 0.004, 0.6), lips * 0.35)

    for side in (-1.0, 1.0):
        cx = side * eye_dx
        paint(ellipse(cx, eye_y, 0.065, 0.026, 0.25), np.array([0.62, 0.6, 0.58], np.float32))
        paint(ellipse(cx, eye_y, 0.024, 0.024, 0.2), np.array(identity.iris, np.float32))
        paint(ellipse(cx, eye_y, 0.010, 0.010, 0.3), np.array([0.01, 0.01, 0.01], np.float32))
        paint(0.8 * ellipse(cx, eye_y + 0.026, 0.07, 0.007, 0.5), hair * 0.4)  # lashes
        # Brows: an arc above the eye, thicker towards the nose.
        arc_y = eye_y + 0.085 + 0.02 * (1.0 - ((u - cx) / 0.09) ** 2)
        thick = 0.012 + 0.006 * np.clip(-side * (u - cx) / 0.09, -1.0, 1.0)
        brow_w = np.clip(1.0 - np.abs(v - arc_y) / thick, 0.0, 1.0) * (np.abs(u - cx) < 0.095)
        paint(0.9 * brow_w, hair * strands[..., None])
    return np.clip(albedo, 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=64)
def face_maps(identity: Identity, resolution: int) -> FaceMaps:
    """The identity's height, normal, albedo and region maps on a ``G x G`` grid (cached)."""
    u, v = grid_coordinates(resolution)
    height, inside = face_height(identity, u, v)
    step = 2 * EXTENT / resolution
    # Gradient of the analytic height by central differences of the function itself (not
    # of the grid), so normals stay accurate where the surface is steep.
    eps = 0.25 * step
    dh_du = (face_height(identity, u + eps, v)[0] - face_height(identity, u - eps, v)[0]) / (
        2 * eps
    )
    dh_dv = (face_height(identity, u, v + eps)[0] - face_height(identity, u, v - eps)[0]) / (
        2 * eps
    )
    normal = np.stack([-dh_du, -dh_dv, np.ones_like(dh_du)], -1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    lm = _landmarks(identity)
    # Inner face, as face-swap tools replace it: from the brows to the chin, across the
    # cheeks (about half of the visible face).
    centre_v = 0.5 * (lm["eye_y"] + 0.16 + lm["mouth_y"] - 0.2)
    half_v = 0.5 * (lm["eye_y"] + 0.16 - (lm["mouth_y"] - 0.2))
    half_u = lm["eye_dx"] + 0.22
    d = np.sqrt((u / half_u) ** 2 + ((v - centre_v) / half_v) ** 2)
    inner = np.clip((1.0 - d) / 0.08, 0.0, 1.0).astype(np.float32)
    on_head = inside[::HULL_STRIDE, ::HULL_STRIDE]
    hull = np.stack([a[::HULL_STRIDE, ::HULL_STRIDE][on_head] for a in (u, v, height)])
    return FaceMaps(
        hull=hull.astype(np.float32),
        height=height,
        colour=np.dstack([_face_albedo(identity, u, v), inside.astype(np.float32)]),
        shape=np.dstack([normal.astype(np.float32), inner]),
    )
