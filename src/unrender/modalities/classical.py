"""Classical intrinsic decomposition of face crops: CPU only, no learned weights.

The estimator relies on what the pipeline provides: each image is a face crop, the face
roughly centred and filling most of the frame. Per image, at a working resolution of at
most ``work_size`` pixels on the long side:

1. **Face region.** Skin is the log-chromaticity of the frame's centre (adaptive, so skin
   tone and tinted light do not matter), contrasted with the chromaticity of the frame's
   border. The face mask is the ellipse with the second moments of the central skin
   component, kept within plausible bounds for a face crop.
2. **Shape prior.** A generic face height field, a super-ellipsoid whose silhouette is a
   little wider than the mask (steep but not vertical at the border), gives the initial
   normals.
3. **Lighting.** Per-channel least-squares SH lighting, as IRN++ estimates it, with a
   constant albedo (the lighting absorbs the skin colour until step 6), weighted by the
   skin likelihood, ridge-regularised (a face shows only the front hemisphere) and refitted
   without outliers (eyes, brows, cast shadows, highlights).
4. **Shape from shading.** Gauss-Newton sweeps move each normal to reduce ``|I - E(n)|``
   under a smoothness term and a pull towards the shape prior; normals stay unit with
   ``z > 0``. The lighting is refitted after each round.
5. **Shadow.** The luminance ratio of the image to the unshadowed prediction, scaled so that
   typical lit skin reads 1, kept where the colour is skin-like (a cast shadow darkens skin
   but keeps its colour; brows and lips change it), smoothed and clipped to [0, 1].
6. **Scale.** Albedo and lighting are known only up to one gain per colour channel. The
   gains are fixed by assuming grey light (the mean irradiance over the face is equal in
   R, G and B, so the albedo carries the colour) and a well-exposed face (the 95th
   percentile of the face's luminance irradiance is ``lighting_level``).

Then, at the input size: shading = :func:`unrender.sh.shading` of the upsampled normals,
albedo = clip(image / (shading x shadow), 0, 1). Outside the face mask: normal = 0, shading
= 1e-4 (as :func:`unrender.sh.shading` gives), shadow = 1, albedo = 0 (as IRN++ with a mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from unrender import sh
from unrender.color import srgb_to_linear
from unrender.modalities import register

#: Rec. 709 luminance weights of linear RGB.
LUMINANCE_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], np.float32)

#: Floor added to linear intensities before ratios (about 1/400 of white).
_EPS = 2.5e-3

#: Floor added before the chroma logs, about the linear value of sRGB 1/255 to 2/255.
_CHROMA_EPS = 3e-4

#: Relative ridge penalty of the SH coefficients by band (0, 1, 2): a face shows only the
#: front hemisphere, so the second band is the least constrained.
_BAND_PENALTY = np.array([0.0, 0.5, 0.5, 0.5, 2.0, 2.0, 2.0, 2.0, 2.0])


@dataclass(frozen=True)
class Ellipse:
    """A face ellipse in the pixel coordinates of an image.

    centre: float (2,), (column, row) with pixel centres at integers; axes: float (2,),
    the semi-axes in pixels; rotation: float (2, 2) whose columns are the unit directions of
    the two axes in (column, row) coordinates.
    """

    centre: np.ndarray
    axes: np.ndarray
    rotation: np.ndarray

    def local_coordinates(self, height: int, width: int) -> np.ndarray:
        """Each pixel in units of the semi-axes: float32 (H, W, 2); inside iff norm <= 1."""
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
        offset = np.stack([cols - self.centre[0], rows - self.centre[1]], -1)
        return ((offset @ self.rotation) / self.axes).astype(np.float32)

    def radius(self, height: int, width: int) -> np.ndarray:
        """Elliptical radius of each pixel: float32 (H, W), 1 on the ellipse."""
        return np.linalg.norm(self.local_coordinates(height, width), axis=-1)


def _default_ellipse(height: int, width: int) -> Ellipse:
    """The largest face a centred crop is expected to hold (also the fallback face)."""
    return Ellipse(
        centre=np.array([(width - 1) / 2, (height - 1) / 2], np.float32),
        axes=np.array([0.5 * height, 0.4 * width], np.float32),
        rotation=np.array([[0.0, 1.0], [1.0, 0.0]], np.float32),
    )


def _log_chroma(linear: np.ndarray) -> np.ndarray:
    """float32 (H, W, 2): log(R/G), log(B/G) of a linear image (H, W, 3), lightly denoised."""
    log = np.log(cv2.GaussianBlur(linear, (0, 0), 1.0) + _CHROMA_EPS)
    return np.stack([log[..., 0] - log[..., 1], log[..., 2] - log[..., 1]], -1)


def _chroma_model(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust spread (1.4826 MAD) of chroma samples (N, 2), each (2,).

    The spread is kept within [0.03, 0.15]: the floor keeps a flat-coloured region from
    rejecting everything else, the cap keeps hair in the sample from accepting everything.
    """
    centre = np.median(samples, 0)
    spread = np.clip(1.4826 * np.median(np.abs(samples - centre), 0), 0.03, 0.15)
    return centre, spread


def skin_likelihood(linear: np.ndarray, seed: np.ndarray, border: np.ndarray) -> np.ndarray:
    """How skin-like each pixel's colour is: float32 (H, W) in [0, 1].

    linear: float32 (H, W, 3) linear RGB; seed: bool (H, W), pixels that are mostly skin;
    border: bool (H, W), pixels that are mostly background. The chroma of the seed defines
    skin; where the border's chroma differs from it, pixels nearer to the border's chroma
    are not skin.
    """
    chroma = _log_chroma(linear)
    skin_centre, skin_spread = _chroma_model(chroma[seed])
    skin_d2 = (((chroma - skin_centre) / skin_spread) ** 2).sum(-1)
    likelihood = np.exp(-skin_d2 / (2 * 2.5**2))
    back_centre, back_spread = _chroma_model(chroma[border])
    if np.linalg.norm((back_centre - skin_centre) / skin_spread) > 2.5:
        back_d2 = (((chroma - back_centre) / back_spread) ** 2).sum(-1)
        likelihood = likelihood * (skin_d2 < back_d2)
    return likelihood.astype(np.float32)


def _fill_holes(binary: np.ndarray) -> np.ndarray:
    """uint8 (H, W) of 0/1 -> the same with every 0-region not touching the border set to 1."""
    flood = np.pad(1 - binary, 1, constant_values=1)
    cv2.floodFill(flood, None, (0, 0), 2)
    return (flood[1:-1, 1:-1] != 2).astype(np.uint8)


def face_ellipse(linear: np.ndarray) -> tuple[Ellipse, np.ndarray]:
    """Fit the face ellipse of a centred face crop.

    linear: float32 (H, W, 3) linear RGB. Returns the ellipse and the skin likelihood,
    float32 (H, W) in [0, 1]. Falls back to the default ellipse when no plausible skin
    region is found.
    """
    height, width = linear.shape[:2]
    default = _default_ellipse(height, width)
    radius = default.radius(height, width)
    rows, cols = np.mgrid[0:height, 0:width]
    margin = max(2, round(0.06 * min(height, width)))
    border = (rows < margin) | (cols < margin) | (rows >= height - margin)
    border |= cols >= width - margin
    skin = skin_likelihood(linear, radius <= 0.5, border)
    # Skin within the largest plausible face (not the neck or the sides of the frame);
    # close small gaps and fill holes (eyes, brows, mouth), cut thin bridges to
    # skin-coloured background, then keep the large component nearest the centre.
    binary = ((skin > 0.5) & (radius <= 1.0)).astype(np.uint8)
    size = max(3, round(0.04 * min(height, width)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    binary = _fill_holes(cv2.morphologyEx(binary, cv2.MORPH_CLOSE, kernel))
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel, iterations=2)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(binary, connectivity=4)
    if count <= 1:
        return default, skin
    frame_centre = np.array([(width - 1) / 2, (height - 1) / 2])
    area = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    distance = np.linalg.norm(centroids[1:] - frame_centre, axis=1) / max(height, width)
    best = int(np.argmax(area * np.exp(-((distance / 0.25) ** 2))))
    if area[best] < 0.08 * height * width:
        return default, skin
    rows, cols = np.nonzero(_fill_holes((labels == best + 1).astype(np.uint8)))
    points = np.stack([cols, rows], -1).astype(np.float64)
    variance, vectors = np.linalg.eigh(np.cov(points.T))
    order = np.argsort(variance)[::-1]
    # A uniform ellipse of semi-axis a has variance a^2 / 4 along that axis.
    axes = 2.0 * np.sqrt(np.maximum(variance[order], 1.0))
    # Keep the ellipse plausible for a face crop: near the centre, between half the default
    # face and the default face, and not too elongated (skin-coloured background or a neck
    # can stretch the skin region).
    frame = np.array([width, height], np.float64)
    centre = np.clip(points.mean(0), 0.4 * frame - 0.5, 0.6 * frame - 0.5)
    axes = np.clip(axes, 0.5 * default.axes, default.axes)
    axes[1] = max(axes[1], axes[0] / 1.6)
    ellipse = Ellipse(
        centre=centre.astype(np.float32),
        axes=axes.astype(np.float32),
        rotation=vectors[:, order].astype(np.float32),
    )
    return ellipse, skin


def prior_normals(
    ellipse: Ellipse,
    height: int,
    width: int,
    silhouette_scale: float,
    depth_ratio: float,
    power: float,
) -> np.ndarray:
    """Normals of the generic face height field: float32 (H, W, 3), unit, z > 0.

    The height is ``h = D (1 - rho^p)^(1/p)`` where ``rho`` is the elliptical radius in units
    of the face ellipse's semi-axes times ``silhouette_scale`` (> 1 keeps the border of the
    mask from being vertical), ``D`` is ``depth_ratio`` times the geometric mean of those
    semi-axes and ``p = power`` (2: an ellipsoid; larger: flatter in front, like a face).
    Defined at every pixel (the slope saturates beyond the silhouette).
    """
    if power < 2:
        raise ValueError(f"face shape power must be >= 2, got {power}")
    axes = ellipse.axes * silhouette_scale
    local = ellipse.local_coordinates(height, width) / silhouette_scale
    depth = depth_ratio * float(np.sqrt(axes[0] * axes[1]))
    rho = np.sqrt((local**2).sum(-1))
    # -h'(rho) / rho, finite at rho = 0 for power >= 2.
    slope_over_rho = (
        depth * rho ** (power - 2) * np.clip(1.0 - rho**power, 1e-3, None) ** (1 / power - 1)
    )
    # Height gradient in the ellipse frame, then in pixel (column, row) coordinates; y
    # points up, so the row component changes sign.
    in_plane = (slope_over_rho[..., None] * local / axes) @ ellipse.rotation.T
    normal = np.stack([in_plane[..., 0], -in_plane[..., 1], np.ones_like(rho)], -1)
    return (normal / np.linalg.norm(normal, axis=-1, keepdims=True)).astype(np.float32)


def fit_lighting_ridge(
    normals: np.ndarray, target: np.ndarray, weights: np.ndarray, ridge: float
) -> np.ndarray:
    """Weighted, ridge-regularised least-squares SH lighting under unit albedo.

    Solves, per channel c, ``min_L sum_p w_p (basis(n_p) . L_c - I_pc)^2 + ridge * t *
    sum_k penalty_k L_kc^2``, with ``t`` the mean diagonal of the data term (so ``ridge``
    is scale-free) and the penalty growing with the SH band (``_BAND_PENALTY``).

    normals: float (P, 3) unit; target: float (P, 3) linear intensity; weights: float
    (P,) >= 0, floored at 1e-3 so that the system stays regular when they all vanish.
    Returns float64 (9, 3).
    """
    basis = sh.sh_basis(normals.astype(np.float64))
    weighted = basis * np.maximum(weights.astype(np.float64), 1e-3)[:, None]
    gram = weighted.T @ basis
    gram += ridge * max(float(np.trace(gram)) / 9.0, 1e-12) * np.diag(_BAND_PENALTY)
    return np.linalg.solve(gram, weighted.T @ target.astype(np.float64))


def typical_pixels(target: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Pixels whose luminance log-ratio to the prediction is typical: bool (P,).

    target, predicted: (P, 3) linear. Drops dark outliers (eyes, brows, cast shadows) and
    bright ones (highlights) beyond 2.5 robust sigmas.
    """
    ratio = np.log(
        (target @ LUMINANCE_WEIGHTS + _EPS)
        / (np.maximum(predicted @ LUMINANCE_WEIGHTS, 0.0) + _EPS)
    )
    centre = np.median(ratio)
    sigma = max(1.4826 * float(np.median(np.abs(ratio - centre))), 0.05)
    return np.abs(ratio - centre) < 2.5 * sigma


def _quadratic_form(lighting: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SH irradiance as ``E_c(n) = n^T Q_c n + g_c . n + k_c`` (expanding ``sh.sh_basis``).

    lighting: float (9, 3). Returns Q float32 (3, 3, 3) indexed [c, i, j], g (3, 3)
    indexed [c, i] and k (3,).
    """
    L = np.asarray(lighting, np.float64).T  # (3 channels, 9)
    q = np.empty((3, 3, 3))
    q[:, 0, 0] = sh.C1 * L[:, 8]
    q[:, 1, 1] = -sh.C1 * L[:, 8]
    q[:, 2, 2] = sh.C3 * L[:, 6]
    q[:, 0, 1] = q[:, 1, 0] = sh.C1 * L[:, 4]
    q[:, 0, 2] = q[:, 2, 0] = sh.C1 * L[:, 7]
    q[:, 1, 2] = q[:, 2, 1] = sh.C1 * L[:, 5]
    g = 2 * sh.C2 * np.stack([L[:, 3], L[:, 1], L[:, 2]], -1)
    k = sh.C4 * L[:, 0] - sh.C5 * L[:, 6]
    return q.astype(np.float32), g.astype(np.float32), k.astype(np.float32)


def _solve_symmetric3(m: list[np.ndarray], b: np.ndarray) -> np.ndarray:
    """Solve P symmetric positive-definite 3x3 systems by the adjugate.

    m: the six entries [m00, m01, m02, m11, m12, m22], each (P,); b: (P, 3). Returns (P, 3).
    """
    m00, m01, m02, m11, m12, m22 = m
    a00 = m11 * m22 - m12 * m12
    a01 = m02 * m12 - m01 * m22
    a02 = m01 * m12 - m02 * m11
    a11 = m00 * m22 - m02 * m02
    a12 = m01 * m02 - m00 * m12
    a22 = m00 * m11 - m01 * m01
    det = m00 * a00 + m01 * a01 + m02 * a02
    b0, b1, b2 = b[:, 0], b[:, 1], b[:, 2]
    x = [a00 * b0 + a01 * b1 + a02 * b2, a01 * b0 + a11 * b1 + a12 * b2]
    x.append(a02 * b0 + a12 * b1 + a22 * b2)
    return np.stack(x, -1) / det[:, None]


def _masked_blur(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``values`` (H, W) or (H, W, C) over the pixels of ``mask`` only.

    Normalised convolution: ``blur(mask * v) / blur(mask)``. Returns float32, same shape.
    """
    weight = mask.astype(np.float32)
    spread = weight[..., None] if values.ndim == 3 else weight
    num = cv2.GaussianBlur(values * spread, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    den = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    den = np.maximum(den, 1e-6)
    return num / (den[..., None] if values.ndim == 3 else den)


def refine_normals(
    normals: np.ndarray,
    prior: np.ndarray,
    target: np.ndarray,
    lighting: np.ndarray,
    weights: np.ndarray,
    mask: np.ndarray,
    smoothness: float,
    prior_weight: float,
    sweeps: int,
) -> np.ndarray:
    """Shape from shading under unit albedo: Jacobi Gauss-Newton sweeps on each normal.

    Per pixel of ``mask``, a linearised step on ``sum_c w (E_c(n) - I_c)^2 / u^2 +
    smoothness |n - mean of the neighbours|^2 + prior_weight |n - prior|^2``, where ``u``
    is the median face intensity (so the weights do not depend on exposure); then ``n`` is
    renormalised with ``z >= 0.05``.

    normals, prior: float32 (H, W, 3) unit; target: float32 (H, W, 3) linear (I);
    lighting: (9, 3); weights: float32 (H, W) >= 0 (confidence of the data term, w); mask:
    bool (H, W). Returns float32 (H, W, 3), unit inside the mask, ``normals`` outside.
    """
    q, g, k = _quadratic_form(lighting)
    observed = target[mask]
    unit = max(float(np.median(observed.mean(-1))), _EPS)
    w = weights[mask] / np.float32(unit * unit)
    n = normals[mask]
    n_prior = prior[mask]
    regulariser = np.float32(smoothness + prior_weight)
    current = normals.copy()
    for _ in range(sweeps):
        neighbours = _masked_blur(current, mask, 1.0)[mask]
        entries = [np.full(len(n), regulariser, np.float32)]
        entries += [np.zeros(len(n), np.float32) for _ in range(2)]
        entries += [entries[0].copy(), np.zeros(len(n), np.float32), entries[0].copy()]
        rhs = smoothness * (neighbours - n) + prior_weight * (n_prior - n)
        for c in range(3):
            half_gradient = n @ q[c]
            residual = (half_gradient * n).sum(-1) + n @ g[c] + k[c] - observed[:, c]
            jacobian = 2 * half_gradient + g[c]  # (P, 3): dE_c / dn
            weighted = w[:, None] * jacobian
            for e, (i, j) in enumerate(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))):
                entries[e] += weighted[:, i] * jacobian[:, j]
            rhs -= weighted * residual[:, None]
        n = n + _solve_symmetric3(entries, rhs)
        n[:, 2] = np.maximum(n[:, 2], 0.05)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        current[mask] = n
    return current


@register("classical")
@dataclass(frozen=True)
class ClassicalBackend:
    """Classical face decomposition (see the module docstring for the method).

    work_size: long side in pixels of the working resolution (larger inputs are shrunk for
    the estimate; the outputs are at the input size). iterations: rounds of shape from
    shading and lighting refit; sweeps: Gauss-Newton sweeps per round. smoothness,
    prior_weight: weights of the normal regularisers, relative to a data term in units of
    the face's median brightness. silhouette_scale, depth_ratio, shape_power: the generic
    face shape (see :func:`prior_normals`). ridge: ridge penalty of the lighting fit.
    shadow_sigma: smoothing of the shadow, as a fraction of the face's minor semi-axis.
    lighting_level: 95th percentile of the face's luminance irradiance, which fixes the
    scale of lighting against albedo.
    """

    work_size: int = 128
    iterations: int = 2
    sweeps: int = 4
    smoothness: float = 4.0
    prior_weight: float = 1.0
    silhouette_scale: float = 1.15
    depth_ratio: float = 0.8
    shape_power: float = 2.0
    ridge: float = 0.02
    shadow_sigma: float = 0.02
    lighting_level: float = 0.9
    name: str = "classical"

    def decompose(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Decompose a batch of face crops.

        images: uint8 (B, H, W, 3) sRGB, H and W >= 16. Returns float32 arrays (see
        :mod:`unrender.modalities`): albedo, normal, shading (B, H, W, 3); shadow (B, H, W);
        lighting (B, 9, 3); lighting_sphere (B, 200, 200, 3). Deterministic, and each image
        is decomposed independently of the rest of the batch.
        """
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"the classical backend wants uint8 (B, H, W, 3) RGB images, got "
                f"{images.dtype} {images.shape}"
            )
        if len(images) == 0 or min(images.shape[1:3]) < 16:
            raise ValueError(f"need at least one image of at least 16x16, got {images.shape}")
        items = [self._decompose_one(image) for image in images]
        return {key: np.stack([item[key] for item in items]) for key in items[0]}

    def _decompose_one(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """One uint8 (H, W, 3) image -> the contract's arrays without the batch axis."""
        height, width = image.shape[:2]
        linear = srgb_to_linear(image / np.float32(255.0))
        scale = min(1.0, self.work_size / max(height, width))
        work_size = (max(16, round(width * scale)), max(16, round(height * scale)))
        resized = work_size != (width, height)
        work = cv2.resize(linear, work_size, interpolation=cv2.INTER_AREA) if resized else linear
        normals, lighting, shadow = self._estimate(work)
        if resized:
            normals = cv2.resize(normals, (width, height), interpolation=cv2.INTER_LINEAR)
            length = np.linalg.norm(normals, axis=-1, keepdims=True)
            # A pixel is in the face if most of its interpolated normal came from inside.
            normals = np.where(length > 0.5, normals / np.maximum(length, 1e-6), 0.0)
            shadow = cv2.resize(shadow, (width, height), interpolation=cv2.INTER_LINEAR)
        normals = normals.astype(np.float32)
        mask = normals.any(-1)
        shadow = np.where(mask, shadow, 1.0).astype(np.float32)
        shading = sh.shading(normals, lighting.astype(np.float32)).astype(np.float32)
        albedo = np.clip(linear / (shading * shadow[..., None]), 0.0, 1.0)
        return {
            "albedo": np.where(mask[..., None], albedo, 0.0).astype(np.float32),
            "normal": normals,
            "shading": shading,
            "shadow": shadow,
            "lighting": lighting.astype(np.float32),
            "lighting_sphere": sh.render_sphere(lighting),
        }

    def _estimate(self, linear: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Steps 1-6 on a linear float32 (H, W, 3) image.

        Returns normals float32 (H, W, 3) (zero outside the face), lighting float64 (9, 3)
        and shadow float32 (H, W) in [0, 1] (1 outside the face).
        """
        height, width = linear.shape[:2]
        ellipse, skin = face_ellipse(linear)
        mask = ellipse.radius(height, width) <= 1.0
        prior = prior_normals(
            ellipse, height, width, self.silhouette_scale, self.depth_ratio, self.shape_power
        )
        observed, skin_weight = linear[mask], skin[mask]
        normals = prior
        lighting = self._fit_lighting(prior[mask], observed, skin_weight)
        # The data term of shape from shading sees a denoised image (sensor noise would
        # otherwise become normal noise).
        denoised = cv2.GaussianBlur(linear, (0, 0), 1.0)
        for _ in range(self.iterations):
            weights = np.zeros((height, width), np.float32)
            inliers = typical_pixels(observed, sh.irradiance(normals[mask], lighting))
            weights[mask] = skin_weight * inliers
            normals = refine_normals(
                normals,
                prior,
                denoised,
                lighting,
                weights,
                mask,
                self.smoothness,
                self.prior_weight,
                self.sweeps,
            )
            lighting = self._fit_lighting(normals[mask], observed, skin_weight)
        irradiance = sh.irradiance(normals[mask], lighting)
        shadow = self._shadow(observed, irradiance, skin_weight, mask, ellipse)
        lighting = self._normalise_scale(lighting, irradiance)
        return np.where(mask[..., None], normals, 0.0).astype(np.float32), lighting, shadow

    def _fit_lighting(
        self, normals: np.ndarray, observed: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """Lighting float64 (9, 3) from face pixels (P, 3), refitted on the inliers."""
        lighting = fit_lighting_ridge(normals, observed, weights, self.ridge)
        inliers = typical_pixels(observed, sh.irradiance(normals, lighting))
        if inliers.sum() < 64:
            return lighting
        return fit_lighting_ridge(normals, observed, weights * inliers, self.ridge)

    def _shadow(
        self,
        observed: np.ndarray,
        irradiance: np.ndarray,
        skin_weight: np.ndarray,
        mask: np.ndarray,
        ellipse: Ellipse,
    ) -> np.ndarray:
        """Step 5: the shadow, float32 (H, W) in [0, 1], 1 outside ``mask``.

        observed, irradiance: (P, 3) linear, the face pixels of ``mask``; skin_weight: (P,).
        """
        ratio = (observed @ LUMINANCE_WEIGHTS + _EPS) / (
            np.maximum(irradiance, 0.0) @ LUMINANCE_WEIGHTS + _EPS
        )
        typical = float(np.median(ratio[typical_pixels(observed, irradiance)]))
        darkening = np.zeros(mask.shape, np.float32)
        darkening[mask] = np.clip(1.0 - ratio / max(typical, _EPS), 0.0, 1.0) * skin_weight
        sigma = max(0.5, self.shadow_sigma * float(ellipse.axes.min()))
        darkening = _masked_blur(darkening, mask, sigma)
        return np.where(mask, 1.0 - darkening, 1.0).astype(np.float32)

    def _normalise_scale(self, lighting: np.ndarray, irradiance: np.ndarray) -> np.ndarray:
        """Step 6: the lighting (9, 3) rescaled per channel (grey, ``lighting_level`` bright).

        irradiance: (P, 3), the face's irradiance under ``lighting`` with unit albedo.
        """
        face = np.maximum(irradiance, 0.0)
        grey = np.maximum(face.mean(0), 1e-6)
        grey = grey.mean() / grey
        brightest = float(np.percentile((face * grey) @ LUMINANCE_WEIGHTS, 95))
        return lighting * grey * (self.lighting_level / max(brightest, 1e-6))
