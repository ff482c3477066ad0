"""The laundering perturbations of evaluate.perturb: names, JPEG and resize round trips."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from unrender import perturb
from unrender.config import ConfigError, section
from unrender.perturb import Perturbation


def _face_like(size: int = 64) -> np.ndarray:
    """A smooth gradient with fine stripes: JPEG and downscaling both lose the stripes."""
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 3, y * 3, (x + y) * 2], axis=-1).astype(np.float64)
    stripes = 40.0 * (x % 2)[..., None]
    return np.clip(base + stripes, 0, 255).astype(np.uint8)


def test_names_round_trip_and_match_the_wildcard() -> None:
    chosen = perturb.from_config({"jpeg": [95, 30], "resize": [0.5, 2.0]})
    assert [p.name for p in chosen] == ["jpeg95", "jpeg30", "resize0.5", "resize2"]
    for p in chosen:
        assert re.fullmatch(perturb.NAME_PATTERN, p.name)
        assert perturb.parse(p.name) == p
    assert perturb.from_config(section("evaluate")["perturb"]) == []  # the default: off
    with pytest.raises(ValueError, match="names no perturbation"):
        perturb.parse("blur3")


def test_config_rejects_out_of_range_values() -> None:
    with pytest.raises(ConfigError, match="perturb"):
        section("evaluate", {"perturb": {"jpeg": [0]}})
    with pytest.raises(ConfigError, match="perturb"):
        section("evaluate", {"perturb": {"resize": [0]}})
    with pytest.raises(ConfigError, match="perturb"):
        section("evaluate", {"perturb": {"blur": [1]}})


def test_jpeg_is_pillows_encoder_at_that_quality_and_worse_when_lower() -> None:
    frame = _face_like()
    errors = []
    for quality in (95, 50, 10):
        out = Perturbation("jpeg", quality).apply(frame)
        assert out.shape == frame.shape and out.dtype == np.uint8
        # The same bytes as Pillow's own 4:2:0 encoder at that quality, decoded.
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, "JPEG", quality=quality, subsampling=2)
        assert np.array_equal(out, np.asarray(Image.open(buffer).convert("RGB")))
        errors.append(np.abs(out.astype(int) - frame).mean())
    assert 0 < errors[0] < errors[1] < errors[2]


def test_resize_returns_the_frame_size_and_loses_detail_only_when_shrinking() -> None:
    frame = _face_like()
    half = Perturbation("resize", 0.5).apply(frame)
    double = Perturbation("resize", 2.0).apply(frame)
    assert half.shape == double.shape == frame.shape and half.dtype == np.uint8
    # The 1 px stripes cannot survive 32 px: their contrast is gone; 128 px keeps most of it.
    contrast = lambda a: np.abs(np.diff(a[..., 0].astype(int), axis=1)).mean()  # noqa: E731
    assert contrast(half) < 0.3 * contrast(frame)
    assert np.abs(double.astype(int) - frame).mean() < np.abs(half.astype(int) - frame).mean()
    # A flat frame stays flat: the filter keeps the mean.
    flat = np.full((40, 30, 3), 120, np.uint8)
    assert np.array_equal(Perturbation("resize", 0.5).apply(flat), flat)
