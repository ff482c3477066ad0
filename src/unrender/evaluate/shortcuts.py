"""The shortcut audit: can a trivial property of the *file* tell the fakes from the reals?

Real datasets are full of confounds a classifier learns instead of the fake (reals as small
JPEGs, fakes as large PNGs; fakes re-encoded at another bitrate). Each sample's file gives a
few numbers that carry no face evidence (:func:`file_features`, read from headers and the
demuxer, nothing decoded):

- ``format``: image format, or container/codec of a video (a category);
- ``resolution``: width x height of the original, in pixels;
- ``file_size``: bytes;
- videos: ``frame_count``, ``duration`` (s) and ``bitrate`` (bits/s of the whole file);
- JPEG images: ``jpeg_quality``, the libjpeg quality 1-100 that would produce the file's
  luminance quantisation table (other images: none).

Each feature is a one-feature detector, *fitted on the val split* and scored on the test
split so a feature that means nothing comes out near 0.5: a number is used in the direction
(higher or lower means fake) in which it separates val; a category scores the fraction of
fakes among the val samples of that category (smoothed, 0.5 when unseen). Test AUCs get CIs
from the same cluster bootstrap as the models (:mod:`unrender.evaluate.bootstrap`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unrender import manifest
from unrender.config import default
from unrender.evaluate.bootstrap import Level, bootstrap, interval
from unrender.evaluate.metrics import binary_metrics, midranks
from unrender.evaluate.run import MIN_PER_CLASS, level_size
from unrender.io import write_tsv
from unrender.train import splits
from unrender.video import image_header_size, probe_video

#: Default of ``evaluate.shortcut_warning_auc`` (the schema's): a feature at or above it
#: gets a warning.
WARNING_AUC: float = default("evaluate", "shortcut_warning_auc")
#: Numeric features, in the row order of shortcuts.tsv (``format`` comes first).
NUMERIC: tuple[str, ...] = (
    "resolution",
    "file_size",
    "frame_count",
    "duration",
    "bitrate",
    "jpeg_quality",
)
FEATURES: tuple[str, ...] = ("format", *NUMERIC)
COLUMNS: tuple[str, ...] = (
    "level",
    "feature",
    "n",
    "n_groups",
    "bootstrap_unit",
    "clusters_real",
    "clusters_fake",
    "small_n",
    "direction",
    "auc",
    "auc_lo",
    "auc_hi",
    "warning",
)

#: The luminance quantisation table of the JPEG standard (Annex K), at quality 50, row by
#: row (natural order, as Pillow reports tables).
_STANDARD_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    np.float64,
).ravel()


def jpeg_quality(luma_table: Sequence[int]) -> float:
    """The libjpeg quality (1-100) whose scaling of the standard table best gives this one.

    libjpeg scales the standard table by ``s = 5000 / q`` (q < 50) or ``200 - 2 q`` percent;
    ``s`` is estimated as the mean ratio of the two tables (an estimate: tables clipped at 1
    or 255, and custom tables, are not exactly invertible).
    """
    scale = 100.0 * float(np.mean(np.asarray(luma_table, np.float64) / _STANDARD_LUMA))
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return float(min(max(quality, 1.0), 100.0))


def file_features(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """The audit features of one sample's file (kind ``video`` or ``image``).

    Returns FEATURES -> value: ``format`` a str; the others float, NaN where they do not
    apply (``jpeg_quality`` of a PNG, ``bitrate`` of an image).
    """
    path = Path(path)
    out: dict[str, Any] = {f: math.nan for f in NUMERIC}
    out["file_size"] = float(path.stat().st_size)
    if kind == "video":
        import av

        index = probe_video(path)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            codec = stream.codec_context.name if stream.codec_context else "unknown"
            rate = float(stream.average_rate or 0) or math.nan
        duration = index.n_frames / rate
        out.update(
            format=f"{path.suffix.lower().lstrip('.')}/{codec}",
            resolution=float(index.width * index.height),
            frame_count=float(index.n_frames),
            duration=duration,
            bitrate=8 * out["file_size"] / duration,
        )
        return out
    image_format, width, height = image_header_size(path)
    out.update(format=image_format, resolution=float(width * height))
    if image_format == "JPEG":
        from PIL import Image

        with Image.open(path) as image:
            tables = getattr(image, "quantization", None) or {}
        if 0 in tables:
            out["jpeg_quality"] = jpeg_quality(tables[0])
    return out


@dataclass(frozen=True)
class AuditSample:
    """One val or test sample of the audit: its split, label (0/1), group, kind, features."""

    sample_id: str
    split: str
    label: int
    group: str
    kind: str
    features: Mapping[str, Any]


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    return binary_metrics(labels, scores)["auc"]


def detector_scores(
    feature: str, val: Sequence[AuditSample], test: Sequence[AuditSample]
) -> tuple[str, np.ndarray] | None:
    """The detector of ``feature`` fitted on ``val``: (direction, float (T,) test scores in
    [0, 1]); None when the feature is undefined on every test sample.

    direction: ``higher is fake``, ``lower is fake`` or ``by category``.
    """
    if feature == "format":
        counts: dict[str, list[int]] = {}
        for s in val:
            counts.setdefault(s.features["format"], []).append(s.label)
        rate = {c: (sum(v) + 1) / (len(v) + 2) for c, v in counts.items()}
        return "by category", np.array([rate.get(s.features["format"], 0.5) for s in test])
    values = np.array([s.features[feature] for s in test], np.float64)
    if np.isnan(values).all():
        return None
    val_values = np.array([s.features[feature] for s in val], np.float64)
    val_labels = np.array([s.label for s in val])
    sign = 1.0
    defined = ~np.isnan(val_values)
    if defined.any() and len(np.unique(val_labels[defined])) == 2:
        low = np.nanmin(np.concatenate([values, val_values])) - 1
        fitted = _auc(val_labels, midranks(np.where(defined, val_values, low)) / len(val_values))
        sign = -1.0 if fitted < 0.5 else 1.0
    # A missing value (a PNG has no JPEG quality) ranks below every defined one; ranks keep
    # the order and bring any scale into [0, 1], as the metrics expect of probabilities.
    filled = np.where(np.isnan(values), np.nanmin(values) - 1, values)
    direction = "higher is fake" if sign > 0 else "lower is fake"
    return direction, midranks(sign * filled) / len(filled)


def audit(
    samples: Sequence[AuditSample],
    n_resamples: int,
    seed: int,
    unit: str = "group",
    min_per_class: int = MIN_PER_CLASS,
    warning_auc: float = WARNING_AUC,
) -> list[dict[str, Any]]:
    """shortcuts.tsv rows: every feature at every level (test videos, test images).

    The detectors are fitted on the val samples of the level's kind; the test AUC's 95% CI
    is a cluster bootstrap over ``unit`` (group or video); ``warning`` is ``yes`` when the
    test AUC reaches ``warning_auc``.
    """
    rows: list[dict[str, Any]] = []
    for kind in ("video", "image"):
        test = [s for s in samples if s.kind == kind and s.split == "test"]
        if not test:
            continue
        val = [s for s in samples if s.kind == kind and s.split == "val"]
        labels = np.array([s.label for s in test])
        group = np.unique([s.group for s in test], return_inverse=True)[1]
        scores: dict[str, tuple[str, np.ndarray]] = {}
        for feature in FEATURES:
            fitted = detector_scores(feature, val, test)
            if fitted is not None:
                scores[feature] = fitted
        level = Level(
            kind, labels, np.arange(len(test)), group, {f: s for f, (_, s) in scores.items()}
        )
        boot = bootstrap(level, n_resamples, seed, unit)
        size = level_size(level, unit, min_per_class)
        for feature, (direction, feature_scores) in scores.items():
            auc = _auc(labels, feature_scores)
            lo, hi = interval(boot[feature]["auc"])
            rows.append(
                {
                    "level": kind,
                    "feature": feature,
                    **{k: size[k] for k in COLUMNS if k in size},
                    "direction": direction,
                    "auc": f"{auc:.6f}",
                    "auc_lo": f"{lo:.6f}",
                    "auc_hi": f"{hi:.6f}",
                    "warning": "yes" if auc >= warning_auc else "no",
                }
            )
    return rows


def audit_run(
    splits_tsv: str | os.PathLike[str],
    shard_tsvs: Sequence[str | os.PathLike[str]],
    dataset_root: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    n_resamples: int = 1000,
    seed: int = 0,
    unit: str = "group",
    min_per_class: int = MIN_PER_CLASS,
    warning_auc: float = WARNING_AUC,
) -> list[dict[str, Any]]:
    """Audit a run: write ``shortcuts.tsv`` (:data:`COLUMNS`) and return its rows.

    splits_tsv: the run's ``splits.tsv`` (which samples are val and test, their groups);
    shard_tsvs: the run's accepted samples (label, kind, path relative to ``dataset_root``).
    """
    rows = splits.read_rows(splits_tsv)
    split = {r["sample_id"]: r["split"] for r in rows}
    group = {r["sample_id"]: r["group"] for r in rows}
    samples = [
        AuditSample(
            s.sample_id,
            split[s.sample_id],
            s.label,
            group[s.sample_id],
            s.kind,
            file_features(manifest.resolve(dataset_root, s.path), s.kind),
        )
        for p in shard_tsvs
        for s in manifest.read_samples(p)
        if split.get(s.sample_id) in ("val", "test")
    ]
    audit_rows = audit(samples, n_resamples, seed, unit, min_per_class, warning_auc)
    write_tsv(out_path, audit_rows, COLUMNS)
    return audit_rows
