"""The training-free lighting_consistency detector on renders with known lights."""

from __future__ import annotations

import numpy as np
import pytest

from unrender import lighting_consistency as lc
from unrender import sh
from unrender.color import linear_to_srgb
from unrender.synth.render import directional_sh

SIZE = 96


def ellipsoid_normals() -> np.ndarray:
    """Normals of a face-sized ellipsoid filling a crop: float32 (S, S, 3), 0 off the face."""
    r, c = np.indices((SIZE, SIZE))
    x, y = (c + 0.5) * 2 / SIZE - 1, 1 - (r + 0.5) * 2 / SIZE
    a, b = 0.8, 0.9
    zz = 1 - (x / a) ** 2 - (y / b) ** 2
    n = np.stack([x / a**2, y / b**2, np.sqrt(np.clip(zz, 0, None))], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    n[zz <= 0] = 0
    return n.astype(np.float32)


def light(azimuth: float) -> np.ndarray:
    """Ambient plus a key light ``azimuth`` degrees right of the view axis (slightly above)."""
    t = np.radians(azimuth)
    direction = np.array([np.sin(t), 0.2, np.cos(t)])
    ambient = np.zeros((9, 3), np.float32)
    ambient[0] = 0.35
    return ambient + directional_sh(direction / np.linalg.norm(direction), np.full(3, 0.8))


def swap_render(normals: np.ndarray, head: np.ndarray, pasted: np.ndarray) -> np.ndarray:
    """uint8 sRGB frame: the head under ``head``, its inner face (radius 0.75) under ``pasted``."""
    r, c = np.indices(normals.shape[:2])
    x, y = (c + 0.5) * 2 / SIZE - 1, 1 - (r + 0.5) * 2 / SIZE
    inner = (x / 0.8) ** 2 + (y / 0.9) ** 2 < 0.75**2
    linear = 0.6 * np.where(
        inner[..., None], sh.irradiance(normals, pasted), sh.irradiance(normals, head)
    )
    linear[~normals.any(-1)] = 0.1
    return np.round(linear_to_srgb(linear) * 255).astype(np.uint8)


def frame_score(separation: float) -> float:
    normals = ellipsoid_normals()
    image = swap_render(normals, light(-40), light(-40 + separation))
    return float(lc.sample_scores([image], [normals])[0])


def test_equal_lights_score_near_zero_and_80_degrees_high() -> None:
    same, far = frame_score(0), frame_score(80)
    assert same < 0.06  # sRGB quantisation and clipped shadows only
    assert far > 0.4 and far > 8 * same


def test_score_grows_with_the_angle_between_the_lights() -> None:
    scores = [frame_score(a) for a in (0, 10, 20, 40, 60, 80, 100)]
    assert all(b > a for a, b in zip(scores, scores[1:], strict=False)), scores


def test_shading_distance_ignores_scale_and_is_symmetric() -> None:
    a, b = light(0)[:, 1], light(60)[:, 1]
    assert lc.shading_distance(a, 3 * a) == pytest.approx(0.0, abs=1e-6)
    assert lc.shading_distance(a, b) == pytest.approx(lc.shading_distance(b, a))
    assert lc.shading_distance(a, b) > 0.3


def test_regions_split_the_face_box() -> None:
    support = ellipsoid_normals().any(-1)
    masks = lc.region_masks(support)
    assert not (masks["inner"] & masks["outer"]).any()
    assert all((m <= support).all() and m.sum() >= lc.MIN_PIXELS for m in masks.values())
    # The inner face is central: its pixels are closer to the centre than the ring's.
    rows = np.nonzero(masks["inner"])[0]
    assert abs(rows.mean() - SIZE / 2) < 2
    assert not any(m.any() for m in lc.region_masks(np.zeros_like(support)).values())


def test_a_frame_without_normals_scores_zero() -> None:
    image = np.full((SIZE, SIZE, 3), 128, np.uint8)
    assert lc.sample_scores([image], [np.zeros((SIZE, SIZE, 3), np.float32)]).tolist() == [0.0]


def test_a_video_adds_the_spread_of_its_lighting_to_every_frame() -> None:
    normals = ellipsoid_normals()
    steady = [swap_render(normals, light(-40), light(-40))] * 3
    flicker = [swap_render(normals, light(a), light(a)) for a in (-60, 0, 60)]
    assert lc.spread([None, light(0)[:, 0]]) == 0.0
    steady_scores = lc.sample_scores(steady, [normals] * 3)
    flicker_scores = lc.sample_scores(flicker, [normals] * 3)
    assert np.ptp(steady_scores) < 1e-9
    spread = lc.spread([lc.frame_lighting(i, normals).inner for i in flicker])
    assert spread > 0.2
    singles = np.array([lc.sample_scores([i], [normals])[0] for i in flicker])
    np.testing.assert_allclose(flicker_scores, singles + spread)


def test_threshold_on_val_and_probabilities() -> None:
    scores = np.array([0.05, 0.1, 0.12, 0.5, 0.6, 0.9])
    labels = np.array([0, 0, 0, 1, 1, 1])
    t = lc.choose_threshold(scores, labels)
    assert 0.12 < t <= 0.5
    p = lc.to_probability(scores, t)
    assert ((p >= 0.5) == labels.astype(bool)).all() and (p >= 0).all() and (p < 1).all()
    assert lc.to_probability(np.array([t]), t)[0] == 0.5
    with pytest.raises(ValueError, match="one class only"):
        lc.choose_threshold(scores[:3], labels[:3])


def test_calibration_round_trips(tmp_path) -> None:
    path = tmp_path / "calibration.json"
    lc.Calibration(0.25).save(path)
    assert lc.Calibration.load(path) == lc.Calibration(0.25)
