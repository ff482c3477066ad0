"""SH lighting formulas: IRN++ basis layout, least-squares recovery, sphere render, torch parity."""

import numpy as np
import pytest
import torch

from unrender import sh


def test_basis_row_matches_irn_layout() -> None:
    n = np.array([0.36, 0.48, 0.8])
    x, y, z = n
    expected = [
        sh.C4,
        2 * sh.C2 * y,
        2 * sh.C2 * z,
        2 * sh.C2 * x,
        2 * sh.C1 * x * y,
        2 * sh.C1 * y * z,
        sh.C3 * z * z - sh.C5,
        2 * sh.C1 * x * z,
        sh.C1 * (x * x - y * y),
    ]
    np.testing.assert_allclose(sh.sh_basis(n), expected, rtol=1e-12)


def test_fit_recovers_lighting_from_noiseless_render() -> None:
    rng = np.random.default_rng(0)
    n = sh.sphere_normals(20)
    inside = ~np.isnan(n[..., 0])
    n = np.nan_to_num(n)
    light = rng.normal(size=(9, 3))
    albedo = rng.uniform(0.2, 0.9, size=n.shape)
    target = albedo * sh.irradiance(n, light)
    got = sh.fit_lighting(n, target, scale=albedo, mask=inside)
    np.testing.assert_allclose(got, light, atol=1e-6)  # float32 normals


def test_fit_needs_nine_pixels() -> None:
    n = np.tile([0.0, 0.0, 1.0], (2, 2, 1))
    with pytest.raises(ValueError, match="at least 9 pixels"):
        sh.fit_lighting(n, np.ones((2, 2, 3)))


def test_sphere_matches_irn_geometry() -> None:
    n = sh.sphere_normals(100)
    assert n.shape == (200, 200, 3) and n.dtype == np.float32
    # IRN++ leaves 8,603 pixels per channel outside the disk.
    assert int(np.isnan(n[..., 0]).sum()) == 8603
    np.testing.assert_allclose(n[99, 99], [0.0, 0.0, 1.0], atol=1e-6)  # x=(c+1-r)/r, y=(r-(r+1))/r
    inside = ~np.isnan(n[..., 0])
    np.testing.assert_allclose(np.linalg.norm(n[inside], axis=-1), 1.0, atol=1e-6)


def test_shading_floor_mask_and_torch_parity() -> None:
    light = np.zeros((9, 3), np.float32)
    light[0] = 2.0  # ambient far above 1 clips to 1
    n = np.nan_to_num(sh.sphere_normals(10))
    s = sh.shading(n, light)
    inside = n.sum(-1) != 0
    np.testing.assert_allclose(s[inside], 1.0 + sh.SHADING_FLOOR, rtol=1e-6)
    np.testing.assert_allclose(s[~inside], sh.SHADING_FLOOR)
    light = np.random.default_rng(1).normal(size=(9, 3)).astype(np.float32)
    t = sh.shading(torch.from_numpy(n), torch.from_numpy(light))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), sh.shading(n, light), atol=1e-6)


def test_batched_irradiance_uses_each_items_light() -> None:
    rng = np.random.default_rng(2)
    n = np.nan_to_num(sh.sphere_normals(8))[None].repeat(2, 0)
    lights = rng.normal(size=(2, 9, 3))
    got = sh.irradiance(n, lights)
    for b in range(2):
        np.testing.assert_allclose(got[b], sh.irradiance(n[b], lights[b]), atol=1e-12)


def test_illumination_pca_shapes() -> None:
    mean, vectors = sh.illumination_pca()
    assert mean.shape == (27,) and vectors.shape == (18, 27)
    # light comes from above on average: the y coefficient (k=1) is positive in every channel
    assert (mean.reshape(9, 3)[1] > 0).all()
