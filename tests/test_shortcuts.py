"""The shortcut audit: file features, detectors fitted on val, a planted format confound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.bad_inputs import write_clip
from unrender import manifest
from unrender.evaluate.shortcuts import (
    _STANDARD_LUMA,
    NUMERIC,
    AuditSample,
    audit,
    audit_run,
    detector_scores,
    file_features,
    jpeg_quality,
)
from unrender.io import read_tsv, write_tsv
from unrender.manifest import Sample
from unrender.train import splits


def test_file_features_of_a_video_and_of_jpeg_and_png_stills(tmp_path: Path) -> None:
    write_clip(tmp_path / "a.mp4", 12, width=64, height=48, fps=30)
    video = file_features(tmp_path / "a.mp4", "video")
    assert video["format"] == "mp4/h264" and video["resolution"] == 64 * 48
    assert video["frame_count"] == 12 and video["duration"] == pytest.approx(12 / 30)
    size = (tmp_path / "a.mp4").stat().st_size
    assert video["file_size"] == size and video["bitrate"] == pytest.approx(8 * size * 30 / 12)
    assert np.isnan(video["jpeg_quality"])
    picture = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    for quality in (30, 75, 95):
        Image.fromarray(picture).save(tmp_path / f"q{quality}.jpg", quality=quality)
        still = file_features(tmp_path / f"q{quality}.jpg", "image")
        assert still["format"] == "JPEG" and still["resolution"] == 50 * 40
        assert still["jpeg_quality"] == pytest.approx(quality, abs=2)
        assert np.isnan(still["frame_count"]) and np.isnan(still["bitrate"])
    Image.fromarray(picture).save(tmp_path / "p.png")
    png = file_features(tmp_path / "p.png", "image")
    assert png["format"] == "PNG" and np.isnan(png["jpeg_quality"])
    # Quality 50 is the standard table itself; 100 is all ones (clipped at 1: an estimate).
    assert jpeg_quality(_STANDARD_LUMA) == 50.0
    assert 98 < jpeg_quality([1] * 64) <= 100


def _sample(i: int, split: str, label: int, **features: object) -> AuditSample:
    return AuditSample(f"s{i}", split, label, f"g{i}", "image", features)


def test_detectors_are_fitted_on_val_not_on_test() -> None:
    val = [
        _sample(i, "val", i % 2, format="PNG" if i % 2 else "JPEG", size=i % 2) for i in range(8)
    ]
    val = [
        AuditSample(
            s.sample_id,
            s.split,
            s.label,
            s.group,
            s.kind,
            {"format": s.features["format"], "file_size": -float(s.label)},
        )
        for s in val
    ]
    test = [
        AuditSample(
            f"t{i}",
            "test",
            i % 2,
            f"h{i}",
            "image",
            {"format": "PNG" if i % 2 else "JPEG", "file_size": float(i % 2)},
        )
        for i in range(6)
    ]
    direction, scores = detector_scores("file_size", val, test)
    # On val smaller files are fake; on test the opposite holds: the val-fitted detector is
    # wrong on every test pair, AUC 0 (it cannot look at the test labels).
    assert direction == "lower is fake"
    labels = np.array([s.label for s in test])
    assert scores[labels == 1].max() < scores[labels == 0].min()
    direction, scores = detector_scores("format", val, test)
    assert direction == "by category"  # PNG: (4 fakes + 1) / (4 + 2) = 5/6, JPEG 1/6
    np.testing.assert_allclose(scores, np.where(labels == 1, 5 / 6, 1 / 6))
    assert (
        detector_scores("jpeg_quality", val, [_sample(0, "test", 0, jpeg_quality=np.nan)]) is None
    )


def _stills(folder: Path, n_per_class: int, confound: bool) -> list[Sample]:
    """Real and fake stills of one look; with ``confound`` reals are 64 px JPEGs and fakes
    128 px PNGs, else all are 64 px PNGs. Half the groups go to val, half to test."""
    rng = np.random.default_rng(1)
    samples = []
    for i in range(4 * n_per_class):
        label, split = i % 2, ("val", "test")[(i // 2) % 2]
        side, suffix = (128, "png") if confound and label else (64, "jpg" if confound else "png")
        picture = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        path = f"im{i}.{suffix}"
        Image.fromarray(picture).save(folder / path, quality=int(rng.integers(70, 95)))
        samples.append(Sample(f"im{i}", path, label, f"g{i // 2}", split, "image", "test"))
    return samples


def _audit(tmp_path: Path, confound: bool) -> list[dict[str, str]]:
    data = tmp_path / "data"
    data.mkdir()
    samples = _stills(data, 12, confound)
    manifest.write_samples(tmp_path / "shard.tsv", samples)
    write_tsv(
        tmp_path / "splits.tsv",
        [{"sample_id": s.sample_id, "group": s.group, "split": s.split} for s in samples],
        splits.COLUMNS,
    )
    out = tmp_path / "shortcuts.tsv"
    rows = audit_run(tmp_path / "splits.tsv", [tmp_path / "shard.tsv"], data, out, 200, 0)
    assert read_tsv(out) == [{k: str(v) for k, v in r.items()} for r in rows]
    return read_tsv(out)


def test_a_planted_format_confound_raises_the_warning(tmp_path: Path) -> None:
    rows = {r["feature"]: r for r in _audit(tmp_path, confound=True)}
    assert set(rows) == {"format", "resolution", "file_size", "jpeg_quality"}
    for feature in ("format", "resolution"):
        assert float(rows[feature]["auc"]) == 1.0 and rows[feature]["warning"] == "yes"
        assert float(rows[feature]["auc_lo"]) == 1.0  # 12 groups of each class
    assert rows["format"]["n"] == "24" and rows["format"]["n_groups"] == "12"
    assert rows["format"]["small_n"] == "no" and rows["resolution"]["direction"] == "higher is fake"


def test_balanced_files_give_no_warning(tmp_path: Path) -> None:
    rows = {r["feature"]: r for r in _audit(tmp_path, confound=False)}
    assert set(rows) == {"format", "resolution", "file_size"}  # no JPEG, no quality
    assert float(rows["format"]["auc"]) == float(rows["resolution"]["auc"]) == 0.5
    assert all(r["warning"] == "no" for r in rows.values())
    assert 0.2 < float(rows["file_size"]["auc"]) < 0.8  # noise-sized files: no signal


def test_audit_levels_follow_the_kinds_and_flag_small_n() -> None:
    samples = [
        AuditSample(
            f"v{i}",
            ("val", "test")[i % 2],
            (i // 2) % 2,
            f"g{i}",
            "video",
            {
                "format": "mp4/h264",
                **dict.fromkeys(NUMERIC, float(i)),
            },
        )
        for i in range(8)
    ]
    rows = audit(samples, 100, 0, unit="video", min_per_class=10, warning_auc=0.7)
    assert [r["feature"] for r in rows] == [
        "format",
        "resolution",
        "file_size",
        "frame_count",
        "duration",
        "bitrate",
        "jpeg_quality",
    ]
    assert {r["level"] for r in rows} == {"video"} and {r["small_n"] for r in rows} == {"yes"}
