"""Render a synthetic face: geometry by ray casting a height field, SH shading, cast shadows.

Camera: orthographic, looking down ``-z``; the image spans ``x, y`` in ``[-1, 1]`` (x right,
y up, z towards the viewer, as in :mod:`unrender.sh`). Pixel ``(row, col)`` of an ``S x S``
image sits at ``x = (col + 0.5) * 2 / S - 1``, ``y = 1 - (row + 0.5) * 2 / S``.

Image formation in linear RGB, inside the face mask::

    linear = albedo * shading * shadow,   shading = unrender.sh.shading(normal, lighting)

where ``shadow`` in [0, 1] is the fraction of irradiance that survives cast shadows of a
directional light (the nose shadow, the eye sockets). Outside the mask ``linear`` is the
background. ``image`` is ``linear`` plus sensor noise, sRGB-encoded and quantised to uint8.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from unrender import sh
from unrender.color import linear_to_srgb
from unrender.synth.face import (
    EXTENT,
    HULL_STRIDE,
    FaceMaps,
    Identity,
    face_maps,
)

#: Real SH basis constants Y_lm, in the order of :func:`unrender.sh.sh_basis`.
_Y00, _Y1, _Y2, _Y20, _Y22 = 0.282095, 0.488603, 1.092548, 0.315392, 0.546274

#: Rec. 709 luminance weights of linear RGB.
LUMINANCE = np.array([0.2126, 0.7152, 0.0722], np.float32)

#: Maps two stacked RGB lightings (9, 6) to their luminances (9, 2).
_LUMINANCE_PAIR = np.kron(np.eye(2, dtype=np.float32), LUMINANCE[:, None])

#: Background depth: far behind every face, so it never casts a shadow.
_FAR = -10.0

#: Default sensor noise: variance = shot * linear + read**2 (linear units).
DEFAULT_NOISE = (6e-4, 3e-3)


#: uint8 sRGB code of each of 2^16 + 1 evenly spaced linear levels in [0, 1].
_SRGB_TABLE = np.round(linear_to_srgb(np.linspace(0, 1, 2**16 + 1)) * 255).astype(np.uint8)


@dataclass(frozen=True)
class Pose:
    """Head pose: rotations in degrees, then scale, then a shift in image units.

    yaw > 0 turns the nose towards image right, pitch > 0 tilts it up, roll > 0 turns the
    face counter-clockwise in the image. shift: (dx, dy) in image-plane units (the image
    spans 2 units); scale: magnification of the face.
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0

    def rotation(self) -> np.ndarray:
        """float64 (3, 3) matrix taking face-frame vectors to camera-frame vectors."""
        y, p, r = np.radians([self.yaw, -self.pitch, self.roll])
        ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
        rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
        rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
        return rz @ ry @ rx


@dataclass(frozen=True)
class FaceRender:
    """One rendered face image and its ground truth, all at ``H x W``.

    image: uint8 (H, W, 3) sRGB, with sensor noise; linear: float32 (H, W, 3) noiseless
    linear RGB; albedo: float32 (H, W, 3) linear in [0, 1], zeros outside the mask;
    normal: float32 (H, W, 3) unit camera-frame normals with z > 0, zeros outside the mask;
    shading: float32 (H, W, 3) ``sh.shading(normal, lighting)`` in [1e-4, 1 + 1e-4];
    shadow: float32 (H, W) in [0, 1], 1 = lit (1 outside the mask); lighting: float32 (9, 3);
    mask: bool (H, W), the face; inner: float32 (H, W) in [0, 1], the inner-face region
    (eyes, brows, nose, mouth) that a face swap replaces.
    """

    image: np.ndarray
    linear: np.ndarray
    albedo: np.ndarray
    normal: np.ndarray
    shading: np.ndarray
    shadow: np.ndarray
    lighting: np.ndarray
    mask: np.ndarray
    inner: np.ndarray


def directional_sh(direction: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """SH lighting of a distant directional light: float32 (9, 3).

    direction: (3,) unit vector towards the light (camera frame); intensity: (3,) RGB
    radiance of the light (linear). Coefficients are ``intensity_c * Y_lm(direction)``.
    """
    x, y, z = np.asarray(direction, np.float64)
    ylm = np.array(
        [
            _Y00,
            _Y1 * y,
            _Y1 * z,
            _Y1 * x,
            _Y2 * x * y,
            _Y2 * y * z,
            _Y20 * (3 * z * z - 1),
            _Y2 * x * z,
            _Y22 * (x * x - y * y),
        ]
    )
    return (ylm[:, None] * np.asarray(intensity, np.float64)[None, :]).astype(np.float32)


def dominant_direction(lighting: np.ndarray) -> np.ndarray:
    """Unit (3,) direction of the luminance-weighted first-order SH band of ``lighting``.

    lighting: (9, 3). Returns (0, 0, 1) (frontal) when that band vanishes.
    """
    band = np.asarray(lighting, np.float64)[[3, 1, 2]] @ LUMINANCE.astype(np.float64)
    norm = float(np.linalg.norm(band))
    return np.array([0.0, 0.0, 1.0]) if norm < 1e-9 else band / norm


@dataclass(frozen=True, eq=False)
class Light:
    """A lighting environment: an ambient SH part plus one directional light.

    ambient: float32 (9, 3) SH lighting; direction: float64 (3,) unit vector towards the
    light, camera frame; intensity: float32 (3,) RGB radiance of the directional light.
    """

    ambient: np.ndarray
    direction: np.ndarray
    intensity: np.ndarray

    @property
    def lighting(self) -> np.ndarray:
        """The total SH lighting, float32 (9, 3)."""
        return (self.ambient + directional_sh(self.direction, self.intensity)).astype(np.float32)

    def turned(self, direction: np.ndarray) -> Light:
        """The same light coming from another direction (unit (3,) vector)."""
        return replace(self, direction=np.asarray(direction, np.float64))


def _front_normals(n: int = 400) -> np.ndarray:
    """Fixed quasi-uniform unit normals facing the camera (z >= 0.1): float32 (n, 3)."""
    i = np.arange(n) + 0.5
    z = 0.1 + 0.9 * i / n
    phi = i * np.pi * (3 - np.sqrt(5))
    rho = np.sqrt(1 - z * z)
    return np.stack([rho * np.cos(phi), rho * np.sin(phi), z], -1).astype(np.float32)


def sample_light(
    rng: np.random.Generator,
    min_angle: float = 20.0,
    max_angle: float = 65.0,
    avoid: np.ndarray | None = None,
    min_separation: float = 0.0,
) -> Light:
    """A plausible, well-exposed lighting: IRN++ outdoor PCA ambient plus a key light.

    The ambient part is drawn from :func:`unrender.sh.illumination_pca` (mean plus a random
    combination of its directions); the key light comes from ``min_angle``..``max_angle``
    degrees off the view axis, more often from above, with a slight colour tint. The total
    is scaled so the brightest front-facing normals get irradiance 0.8-1.0 (little clipping).
    avoid: optional unit (3,) direction the key light must stay at least ``min_separation``
    degrees away from (used to light a face-swap donor differently from its target).
    """
    mean, vectors = sh.illumination_pca()
    normals = _front_normals()
    for _ in range(100):
        ambient = (mean + rng.normal(0.0, 0.5, len(vectors)) @ vectors).reshape(9, 3)
        if sh.irradiance(normals, ambient.astype(np.float32)).min() > 0.05:
            break
    else:  # pragma: no cover - the PCA mean itself is always valid
        ambient = mean.reshape(9, 3)
    for _ in range(1000):
        theta = np.radians(rng.uniform(min_angle, max_angle))
        phi = rng.uniform(0.0, 2 * np.pi)
        direction = np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), 0.0])
        if rng.uniform() < 0.7:
            direction[1] = abs(direction[1])  # key lights mostly come from above
        direction[2] = np.cos(theta)
        if avoid is None or np.degrees(np.arccos(np.clip(direction @ avoid, -1, 1))) >= (
            min_separation
        ):
            break
    tint = np.clip(1.0 + rng.normal(0.0, 0.06, 3), 0.8, 1.2)
    ambient_level = float(ambient[0] @ LUMINANCE)
    intensity = ambient_level * rng.uniform(2.0, 5.0) * tint / float(tint @ LUMINANCE)
    light = Light(ambient.astype(np.float32), direction, intensity.astype(np.float32))
    luminance = sh.irradiance(normals, light.lighting) @ LUMINANCE
    gain = rng.uniform(0.8, 1.0) / float(np.percentile(luminance, 95))
    return Light((light.ambient * gain).astype(np.float32), direction, light.intensity * gain)


def random_lighting(rng: np.random.Generator) -> np.ndarray:
    """A plausible, well-exposed SH lighting, float32 (9, 3) (see :func:`sample_light`)."""
    return sample_light(rng).lighting


def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Image-plane ``(x, y)`` of pixel centres: two float32 (size, size)."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) * 2 / size - 1
    return np.meshgrid(axis, -axis)


def _lookup(texture: np.ndarray, u: np.ndarray, v: np.ndarray, border: float) -> np.ndarray:
    """Bilinear samples of a face-frame grid map at face-frame points (any 2-D shape)."""
    g = texture.shape[0]
    scale = g / (2 * EXTENT)
    col = ((u + EXTENT) * scale - 0.5).astype(np.float32, copy=False)
    row = ((EXTENT - v) * scale - 0.5).astype(np.float32, copy=False)
    return cv2.remap(
        texture, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border
    )


def _cast_rays(
    maps: FaceMaps, rotation: np.ndarray, pose: Pose, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Intersect the camera rays with the posed height field.

    Returns ``(u, v, depth, hit)``: float32 (S, S) face-frame coordinates and camera-frame
    depth z of the first hit, and bool (S, S) where a ray hits the head.
    """
    u = np.zeros((size, size), np.float32)
    v = np.zeros_like(u)
    depth = np.full_like(u, _FAR)
    hit = np.zeros((size, size), bool)
    if maps.hull.shape[1] == 0:
        return u, v, depth, hit
    # Bound the work by the posed head: its pixel bounding box and its depth range, from
    # hull points spaced `gap` apart (so widened by a gap).
    posed = (rotation.astype(np.float32) @ maps.hull) * pose.scale
    gap = pose.scale * HULL_STRIDE * 2 * EXTENT / maps.resolution
    px = 2.0 / size
    lo_x, hi_x = posed[0].min() + pose.shift[0] - gap, posed[0].max() + pose.shift[0] + gap
    lo_y, hi_y = posed[1].min() + pose.shift[1] - gap, posed[1].max() + pose.shift[1] + gap
    c0, c1 = max(0, int((lo_x + 1) / px)), min(size, int((hi_x + 1) / px) + 1)
    r0, r1 = max(0, int((1 - hi_y) / px)), min(size, int((1 - lo_y) / px) + 1)
    if c0 >= c1 or r0 >= r1:
        return u, v, depth, hit
    t_hi, t_lo = float(posed[2].max()) + gap, float(posed[2].min()) - gap

    x, y = _pixel_grid(size)
    x, y = x[r0:r1, c0:c1] - pose.shift[0], y[r0:r1, c0:c1] - pose.shift[1]
    inv = (rotation.T / pose.scale).astype(np.float32)  # camera -> face frame
    # Face-frame ray of camera point (x, y, t): q(t) = origin + t * inv[:, 2].
    origin = [inv[i, 0] * x + inv[i, 1] * y for i in range(3)]
    ray = inv[:, 2]
    n_steps = max(8, int(np.ceil((t_hi - t_lo) / 0.06)))
    steps = np.linspace(t_hi, t_lo, n_steps + 1, dtype=np.float32)
    shape = x.shape

    def above(t: np.ndarray) -> np.ndarray:
        """q_z(t) - H(q_xy(t)): positive while the ray is in front of the surface."""
        qu, qv, qz = (origin[i] + t * ray[i] for i in range(3))
        flat = (-1, shape[1])
        h = _lookup(maps.height, qu.reshape(flat), qv.reshape(flat), _FAR)
        return qz - h.reshape(qz.shape)

    # March all steps at once (one remap over a stacked map), then bisect the bracket.
    f = above(steps[:, None, None])
    below = f <= 0
    found = below.any(0) & ~below[0]
    k = np.where(found, np.argmax(below, 0), 1)
    lo, hi = steps[k - 1], steps[k]
    f_lo = np.take_along_axis(f, (k - 1)[None], 0)[0]
    f_hi = np.take_along_axis(f, k[None], 0)[0]
    for _ in range(4):
        mid = 0.5 * (lo + hi)
        f_mid = above(mid)
        front = f_mid > 0
        lo, f_lo = np.where(front, mid, lo), np.where(front, f_mid, f_lo)
        hi, f_hi = np.where(front, hi, mid), np.where(front, f_hi, f_mid)
    # Final secant step inside the bracket.
    t = lo + (hi - lo) * f_lo / np.maximum(f_lo - f_hi, 1e-9)
    u[r0:r1, c0:c1] = origin[0] + t * ray[0]
    v[r0:r1, c0:c1] = origin[1] + t * ray[1]
    depth[r0:r1, c0:c1] = np.where(found, t, _FAR)
    hit[r0:r1, c0:c1] = found
    return u, v, depth, hit


def _cast_shadow(depth: np.ndarray, mask: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Occlusion of a directional light by the visible surface: float32 (S, S) in [0, 1].

    Marches from each surface point towards the light over the depth map (screen-space
    shadow test); a point is occluded where the surface rises above the ray. 0 = visible.
    """
    size = depth.shape[0]
    occlusion = np.zeros_like(depth)
    spread = float(np.hypot(direction[0], direction[1]))
    rows, cols = np.nonzero(mask)
    if spread < 1e-3 or len(rows) == 0:
        return occlusion  # a frontal light: every visible point sees it
    px = 2.0 / size
    reach = 0.4  # longest cast shadow considered, image units
    step = max(px, reach / 26)  # fine enough not to step over the nose
    dist = np.arange(1, int(reach / step) + 1, dtype=np.float32) * np.float32(step / spread)
    light = direction.astype(np.float32)
    surface = np.where(mask, depth, _FAR).astype(np.float32)
    # One (steps, pixels) lookup of the depth map along every face pixel's ray to the light.
    col = cols.astype(np.float32) + dist[:, None] * (light[0] / px)
    row = rows.astype(np.float32) - dist[:, None] * (light[1] / px)
    sampled = cv2.remap(
        surface, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=_FAR
    )
    ray_z = surface[rows, cols] + dist[:, None] * light[2]
    # Soft threshold (penumbra) with a small bias against self-shadowing of smooth slopes.
    bias, soft = np.float32(0.5 * px + 0.004), np.float32(0.02)
    occlusion[rows, cols] = np.clip((sampled - ray_z - bias) / soft, 0.0, 1.0).max(0)
    occlusion = cv2.GaussianBlur(occlusion, (0, 0), max(0.8, size / 160))  # soften step bands
    return np.where(mask, occlusion, 0.0).astype(np.float32)


def expose(
    linear: np.ndarray, rng: np.random.Generator | None, noise: tuple[float, float] = DEFAULT_NOISE
) -> np.ndarray:
    """Sensor output of a linear image: uint8 (H, W, 3) sRGB.

    linear: float (H, W, 3) linear RGB; rng: draws Gaussian sensor noise of variance
    ``shot * linear + read**2`` (noise = (shot, read)), none when None.
    """
    observed = np.asarray(linear, np.float32)
    if rng is not None:
        shot, read = noise
        sigma = np.sqrt(shot * np.clip(observed, 0.0, None) + read * read)
        observed = observed + sigma * rng.standard_normal(observed.shape, dtype=np.float32)
    # Encode through a table over 2^16 linear levels: far finer than 8-bit sRGB steps.
    levels = len(_SRGB_TABLE) - 1
    index = np.clip(observed * levels + 0.5, 0, levels).astype(np.int32)
    return _SRGB_TABLE[index]


def keep_in_mask(normal: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normals whose in-mask pixels never sum to exactly 0 (same shape and dtype).

    IRN++ (and :func:`unrender.sh.shading`) treat a pixel whose normal components sum to 0
    as outside the mask; a genuine normal can do that by chance (more often in float16),
    so such normals get their z nudged by one unit in the last place.
    """
    z = normal[..., 2]
    clash = mask & (normal.astype(np.float32).sum(-1) == 0)
    if not clash.any():
        return normal
    nudged = normal.copy()
    nudged[..., 2] = np.where(clash, np.nextafter(z, z.dtype.type(2)), z)
    return nudged


def render_face(
    identity: Identity,
    pose: Pose,
    lighting: np.ndarray,
    size: int,
    light_dir: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    background: np.ndarray | None = None,
    noise: tuple[float, float] = DEFAULT_NOISE,
) -> FaceRender:
    """Render ``identity`` at ``pose`` under SH ``lighting`` (float (9, 3)) as an S x S image.

    light_dir: unit (3,) camera-frame direction of the light that casts shadows; default the
    dominant direction of ``lighting``. The shadow removes, where the surface occludes that
    direction, the strongest directional light along it that the lighting's first-order band
    allows. rng: draws sensor noise (none when None); background: float (S, S, 3) linear RGB
    behind the face (default mid grey); noise: (shot, read) noise parameters.
    """
    lighting = np.asarray(lighting, np.float32)
    if lighting.shape != (9, 3):
        raise ValueError(f"lighting must be (9, 3), got {lighting.shape}")
    maps = face_maps(identity, max(256, 2 * size))
    rotation = pose.rotation()
    u, v, depth, hit = _cast_rays(maps, rotation, pose, size)
    look_a = _lookup(maps.colour, u, v, 0.0)
    look_n = _lookup(maps.shape, u, v, 0.0)
    normal = look_n[..., :3] @ rotation.T.astype(np.float32)
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-6)
    mask = hit & (look_a[..., 3] > 0.5) & (normal[..., 2] > 0.02)
    normal = keep_in_mask(np.where(mask[..., None], normal, 0.0).astype(np.float32), mask)
    albedo = np.where(mask[..., None], look_a[..., :3], 0.0).astype(np.float32)
    inner = np.where(mask, look_n[..., 3], 0.0).astype(np.float32)
    shading = sh.shading(normal, lighting).astype(np.float32)

    direction = dominant_direction(lighting) if light_dir is None else np.asarray(light_dir)
    direction = direction / np.linalg.norm(direction)
    band = lighting[[3, 1, 2]].astype(np.float64)  # (x, y, z) x RGB
    key = directional_sh(direction, np.clip(direction @ band, 0.0, None) / _Y1)
    # Luminance irradiance of the key light and of all light, in one pass over the basis.
    both = sh.irradiance(normal, np.concatenate([key, lighting], 1) @ _LUMINANCE_PAIR)
    key_fraction = np.clip(both[..., 0] / np.clip(both[..., 1], 1e-6, None), 0.0, 1.0)
    occlusion = _cast_shadow(depth, mask, direction)
    shadow = np.where(mask, 1.0 - occlusion * key_fraction, 1.0).astype(np.float32)

    if background is None:
        background = np.full((size, size, 3), 0.18, np.float32)
    face = albedo * shading * shadow[..., None]
    linear = np.where(mask[..., None], face, background).astype(np.float32)
    return FaceRender(
        image=expose(linear, rng, noise),
        linear=linear,
        albedo=albedo,
        normal=normal,
        shading=shading,
        shadow=shadow,
        lighting=lighting,
        mask=mask,
        inner=inner,
    )
