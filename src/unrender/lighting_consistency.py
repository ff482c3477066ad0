"""``lighting_consistency``: a training-free detector of faces whose lighting disagrees with itself.

A face swap pastes an inner face lit elsewhere into a head lit here (Johnson and Farid's
composites, in second-order SH); this detector looks for that, frame by frame, with no
learned weights. Per frame (a face crop, its sRGB image and the modality backend's normals):

1. **Regions** (:func:`region_masks`), from the face box: the support is where the normals
   are estimated (non-zero); ``u, v`` are coordinates relative to the support's bounding box
   (centre 0, edges +-1). ``inner`` is the ellipse ``u^2 + v^2 < 0.5^2`` (eyes, nose, mouth:
   what swap tools replace); ``outer`` is the ring ``u^2 + v^2 > 0.9^2`` (forehead, temples,
   jaw line: what they keep), leaving the blend seam out.
2. **Lighting per region** (:func:`region_lighting`): second-order SH of the luminance of the
   linear image under unit albedo (the classical backend's ridge-regularised least squares,
   refitted on its typical pixels, so eyes, brows and cast shadows do not count). A region
   with fewer than :data:`MIN_PIXELS` pixels has no lighting.
3. **Distance** (:func:`shading_distance`): both lightings rendered, unclipped, on a set of
   normals, each render divided by its mean (so a region's albedo and exposure do not
   count), then the RMS difference of the two renders. 0 for equal lights; for one
   directional light plus ambient it grows with the angle between the lights.
4. **Frame disagreement** (:func:`disagreement`): the distance of the inner and outer
   lightings rendered on the frame's own normals (every third face pixel): how differently
   the two lights shade *this* face. Rendering on the whole lighting sphere instead would
   weigh directions the face does not show, where a region's fit only extrapolates. 0 when
   a region has no lighting.

A video's frames are scored together (:func:`sample_scores`): each frame's score is its
disagreement plus the video's **lighting spread**, the mean distance of its frames' inner-face
lightings to their mean (luminance SH normalised by the DC term, rendered on the visible half
of the IRN++ lighting sphere, :func:`unrender.sh.sphere_normals`), since a pasted face's light
need not follow the head's from frame to frame. A still image has spread 0. The evaluation's
video level (the mean of frame probabilities) is then the mean disagreement plus the spread.

Scores are >= 0; :func:`to_probability` maps them to ``s / (s + t)`` with the threshold ``t``
chosen on the val frames (:func:`choose_threshold`), so ACC@0.5 is ACC at ``t``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from unrender import sh
from unrender.color import srgb_to_linear
from unrender.evaluate import predictions
from unrender.io import atomic_open, read_image
from unrender.modalities.classical import LUMINANCE_WEIGHTS, fit_lighting_ridge, typical_pixels
from unrender.train.inputs import input_path
from unrender.train.packs import Item, shard_items
from unrender.train.splits import read_splits

log = logging.getLogger(__name__)

#: The model name in predictions/ and metrics.tsv.
NAME = "lighting_consistency"

#: Region radii in face-box units (see the module docstring): inner face, start of the ring.
INNER_RADIUS = 0.5
OUTER_RADIUS = 0.9
#: Every how many face pixels a frame's disagreement renders the two lightings on.
FACE_STRIDE = 3
#: Fewest pixels a region needs for its 9 coefficients.
MIN_PIXELS = 50
#: Ridge penalty of the region fits (relative, as in the classical backend): a region sees
#: fewer normal directions than the whole face, so more than its 0.02.
RIDGE = 0.1
#: Radius in pixels of the sphere a video's lightings are compared on.
SPHERE_RADIUS = 24


def region_masks(support: np.ndarray) -> dict[str, np.ndarray]:
    """The regions of a face crop: ``inner``, ``outer`` -> bool (H, W), inside ``support``
    (bool (H, W)); both empty when the support is."""
    if not support.any():
        return {name: support.copy() for name in ("inner", "outer")}
    rows, cols = np.nonzero(support)
    cy, cx = (rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2
    half_h = max((rows.max() - rows.min()) / 2, 1.0)
    half_w = max((cols.max() - cols.min()) / 2, 1.0)
    r, c = np.indices(support.shape)
    u, v = (c - cx) / half_w, (r - cy) / half_h
    radius2 = u * u + v * v
    return {
        "inner": support & (radius2 < INNER_RADIUS**2),
        "outer": support & (radius2 > OUTER_RADIUS**2),
    }


def region_lighting(normals: np.ndarray, linear: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Luminance SH lighting of one region, float64 (9,), or None below MIN_PIXELS pixels.

    normals: float (H, W, 3) unit camera-frame normals; linear: float (H, W, 3) linear RGB in
    [0, 1]; mask: bool (H, W).
    """
    if mask.sum() < MIN_PIXELS:
        return None
    n = normals[mask].astype(np.float64)
    luminance = (linear[mask] @ LUMINANCE_WEIGHTS).astype(np.float64)
    # Grey observations, so that the classical fit and its inlier test apply unchanged.
    observed = np.repeat(luminance[:, None], 3, axis=1)
    weights = np.ones(len(n))
    lighting = fit_lighting_ridge(n, observed, weights, RIDGE)
    typical = typical_pixels(observed, sh.irradiance(n, lighting))
    if typical.sum() >= MIN_PIXELS:
        lighting = fit_lighting_ridge(n, observed, weights * typical, RIDGE)
    return lighting[:, 0]


@cache
def _visible_sphere() -> np.ndarray:
    """SH basis rows of the lighting sphere's pixels: float64 (P, 9)."""
    n = sh.sphere_normals(SPHERE_RADIUS).reshape(-1, 3)
    return sh.sh_basis(n[~np.isnan(n[:, 0])].astype(np.float64))


def shading_distance(a: np.ndarray, b: np.ndarray, basis: np.ndarray | None = None) -> float:
    """RMS difference of two luminance lightings (9,) rendered on normals, each / its mean.

    basis: float (P, 9) SH rows of the normals (:func:`unrender.sh.sh_basis`); default the
    visible half of the lighting sphere. >= 0, scale-free (``a`` and ``2 a`` are at 0); a
    render whose mean is not positive (not a plausible light) is floored at 1e-6 and so lies
    far from every plausible one.
    """
    rows = _visible_sphere() if basis is None else basis
    renders = [rows @ np.asarray(x, np.float64) for x in (a, b)]
    ea, eb = (e / max(float(e.mean()), 1e-6) for e in renders)
    return float(np.sqrt(np.mean((ea - eb) ** 2)))


@dataclass(frozen=True)
class FrameLighting:
    """One frame's region lightings (luminance SH (9,), None if too few pixels) and the SH
    rows float (P, 9) of its face normals (every :data:`FACE_STRIDE`-th face pixel)."""

    inner: np.ndarray | None
    outer: np.ndarray | None
    face_basis: np.ndarray


def frame_lighting(image: np.ndarray, normals: np.ndarray) -> FrameLighting:
    """The region lightings of one frame: uint8 (H, W, 3) sRGB and float (H', W', 3) normals,
    zero where not estimated (resized to the image if their size differs)."""
    if normals.shape[:2] != image.shape[:2]:
        import cv2

        normals = cv2.resize(normals, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    linear = srgb_to_linear(image / 255.0)
    support = np.any(normals != 0, axis=-1)
    masks = region_masks(support)
    return FrameLighting(
        inner=region_lighting(normals, linear, masks["inner"]),
        outer=region_lighting(normals, linear, masks["outer"]),
        face_basis=sh.sh_basis(normals[support][::FACE_STRIDE].astype(np.float64)),
    )


def disagreement(frame: FrameLighting) -> float:
    """:func:`shading_distance` of the inner and outer lightings on the frame's face; 0 if
    either is missing."""
    if frame.inner is None or frame.outer is None:
        return 0.0
    return shading_distance(frame.inner, frame.outer, frame.face_basis)


def spread(lightings: Sequence[np.ndarray | None]) -> float:
    """Mean :func:`shading_distance` (on the sphere) of a sample's lightings to their mean.

    lightings: each (9,) or None. Each is divided by its DC term first; 0 with fewer than
    two lightings.
    """
    kept = [x / x[0] for x in lightings if x is not None and x[0] > 0]
    if len(kept) < 2:
        return 0.0
    mean = np.mean(kept, axis=0)
    return float(np.mean([shading_distance(x, mean) for x in kept]))


def sample_scores(images: Sequence[np.ndarray], normals: Sequence[np.ndarray]) -> np.ndarray:
    """Scores >= 0 of a sample's frames, float64 (F,): disagreement + the sample's spread.

    images: F uint8 (H, W, 3) sRGB frames; normals: F float (H, W, 3) normal maps.
    """
    lightings = [frame_lighting(i, n) for i, n in zip(images, normals, strict=True)]
    video_spread = spread([x.inner for x in lightings])
    return np.array([disagreement(x) + video_spread for x in lightings])


def choose_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold with the best balanced accuracy on (val) frames; > 0.

    scores: float (N,) >= 0; labels: int (N,) 0 real, 1 fake, both present (ValueError
    otherwise). A frame is called fake when its score is >= the threshold; ties go to the
    smallest threshold, which lies halfway between two neighbouring scores.
    """
    if len(np.unique(labels)) < 2:
        raise ValueError(
            f"the val split has {len(labels)} frames of one class only; {NAME} chooses its "
            "threshold on real and fake val samples (enlarge train.split.val or the dataset)"
        )
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] / 2], (values[:-1] + values[1:]) / 2, [values[-1] * 2]])
    candidates = np.maximum(candidates, 1e-9)
    fake = labels == 1
    called = scores[None, :] >= candidates[:, None]
    balanced = (called[:, fake].mean(1) + (~called[:, ~fake]).mean(1)) / 2
    return float(candidates[int(np.argmax(balanced))])


def to_probability(scores: np.ndarray, threshold: float) -> np.ndarray:
    """``s / (s + t)``: float64 (N,) in [0, 1), 0.5 exactly at the threshold ``t`` > 0."""
    s = np.asarray(scores, np.float64)
    return s / (s + threshold)


@dataclass(frozen=True)
class Calibration:
    """What ``unrender predict`` needs to score a file: the threshold chosen on val."""

    threshold: float

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``{"model", "threshold", "chosen_on"}`` as JSON, atomically."""
        record = {
            "model": NAME,
            "threshold": self.threshold,
            "chosen_on": "val frames, best balanced accuracy",
        }
        with atomic_open(path) as f:
            json.dump(record, f, indent=2)
            f.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        return cls(float(json.loads(Path(path).read_text())["threshold"]))


def score_items(run_dir: str | os.PathLike[str], shard: str, items: Sequence[Item]) -> np.ndarray:
    """Scores float64 (N,) of frames of one shard of a run folder (``frames/`` and
    ``modalities/normal/`` .npy), each sample's frames together (:func:`sample_scores`)."""
    by_sample: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_sample.setdefault(it.sample_id, []).append(i)
    out = np.zeros(len(items))
    no_face = 0
    for sample_id, rows in by_sample.items():
        ks = [items[i].k for i in rows]
        images = [read_image(input_path(run_dir, "rgb", shard, sample_id, k)) for k in ks]
        normals = [
            np.load(input_path(run_dir, "normal", shard, sample_id, k).with_suffix(".npy"))
            for k in ks
        ]
        no_face += sum(not np.any(n) for n in normals)
        out[rows] = sample_scores(images, normals)
    if no_face:
        log.warning("%d frame(s) have no estimated normals; they score 0 (no evidence)", no_face)
    return out


def rescore(
    run_dir: str | os.PathLike[str],
    shards: Sequence[tuple[str, Sequence[Item]]],
    rows: predictions.Predictions,
    calibration_path: str | os.PathLike[str],
) -> predictions.Predictions:
    """The detector's table on another run-like folder (a cross target, a perturbed test
    split), with the threshold the run chose on its own val split.

    shards: (shard, its items) in the order of ``rows``, a trained model's table of the same
    frames whose probabilities are replaced.
    """
    threshold = Calibration.load(calibration_path).threshold
    scores = np.concatenate([score_items(run_dir, shard, items) for shard, items in shards])
    return rows.with_prob(to_probability(scores, threshold))


def score_run(
    run_dir: str | os.PathLike[str],
    shard_tsvs: Sequence[str | os.PathLike[str]],
    splits_tsv: str | os.PathLike[str],
    predictions_path: str | os.PathLike[str],
    calibration_path: str | os.PathLike[str],
) -> Calibration:
    """Score every val and test frame of a run; write its predictions table and threshold.

    Reads ``frames/`` and ``modalities/normal/`` (.npy) of the run folder; rows are in the
    trained models' order (val, then test; shard, sample and frame order within each).
    """
    splits = read_splits(splits_tsv)
    rows = []  # (item, split, score)
    for shard_tsv in shard_tsvs:
        items = [it for it in shard_items(run_dir, shard_tsv) if splits[it.sample_id] != "train"]
        scores = score_items(run_dir, Path(shard_tsv).stem, items)
        rows += [(it, splits[it.sample_id], s) for it, s in zip(items, scores, strict=True)]
    ordered = [r for split in ("val", "test") for r in rows if r[1] == split]
    scores = np.array([s for _, _, s in ordered])
    labels = np.array([it.label for it, _, _ in ordered])
    val = np.array([sp == "val" for _, sp, _ in ordered], bool)
    calibration = Calibration(choose_threshold(scores[val], labels[val]))
    log.info(
        "%s: %d frames, threshold %.4f chosen on val", NAME, len(ordered), calibration.threshold
    )
    calibration.save(calibration_path)
    predictions.write(
        predictions_path,
        predictions.from_rows(
            [it.sample_id for it, _, _ in ordered],
            [it.k for it, _, _ in ordered],
            [sp for _, sp, _ in ordered],
            labels,
            to_probability(scores, calibration.threshold),
            [it.kind for it, _, _ in ordered],
        ),
    )
    return calibration
