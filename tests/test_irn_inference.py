"""IRN++ pipeline around the network: modes, lighting least squares, heads, post-processing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from unrender import sh
from unrender.irn import inference
from unrender.irn.model import InverseRenderNet


@pytest.mark.parametrize(
    ("size", "mode", "expected"),
    [
        ((300, 400), "demo", (200, 266)),
        ((180, 150), "demo", (240, 200)),
        ((256, 256), "demo", (200, 200)),
        ((200, 333), "diode", (200, 333)),
        ((300, 400), "iiw", (200, 200)),
    ],
)
def test_network_size_truncates_the_long_side(
    size: tuple[int, int], mode: str, expected: tuple[int, int]
) -> None:
    assert inference.network_size(*size, mode) == expected


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown IRN.. mode 'outdoor'"):
        inference.network_size(200, 200, "outdoor")


def test_demo_linearises_srgb_and_iiw_does_not() -> None:
    image = np.full((200, 200, 3), 128, np.uint8)
    demo = inference.prepare(image, mode="demo").input_net
    iiw = inference.prepare(image, mode="iiw").input_net
    linear = ((128 / 255 + 0.055) / 1.055) ** 2.4
    np.testing.assert_allclose(demo, 2 * linear - 1, atol=1e-6)
    np.testing.assert_allclose(iiw, 2 * 128 / 255 - 1, atol=1e-6)


def test_diode_resizes_the_float_image_not_the_uint8_one() -> None:
    image = np.random.default_rng(0).integers(0, 256, (256, 300, 3), dtype=np.uint8)
    diode = inference.prepare(image, mode="diode")
    assert diode.input_net.shape == (200, 234, 3)
    want = cv2.resize(np.float32(image) / 255 * 2 - 1, (234, 200))
    np.testing.assert_allclose(diode.input_net, want, atol=1e-6)
    via_uint8 = np.float32(diode.input_resized) / 255 * 2 - 1
    gap = np.abs(diode.input_net - via_uint8).max()
    assert 0 < gap <= 2 / 255  # up to 1 LSB of uint8 rounding after resizing, which diode skips


def test_demo_mask_keeps_only_pixels_still_255_after_bilinear_resize() -> None:
    image = np.full((256, 256, 3), 200, np.uint8)
    mask = np.full((256, 256), 255, np.uint8)
    mask[100:110, 100:110] = 0
    demo = inference.prepare(image, mask, "demo")
    # Upstream passes INTER_NEAREST as `dst`: the resize is bilinear and bleeds the hole
    # into its neighbours, dropping 64 pixels where nearest-neighbour would drop 49.
    dropped = demo.mask == 0
    assert dropped.sum() == 64
    assert (cv2.resize(mask, (200, 200), interpolation=cv2.INTER_NEAREST) == 0).sum() == 49
    assert (demo.input_net[dropped] == 0).all() and (demo.input_net[~dropped] != 0).all()
    diode = inference.prepare(image, mask, "diode")
    # DIODE keeps any pixel with a non-zero resized mask and leaves the input unmasked.
    assert (diode.mask == 0).sum() < dropped.sum()
    assert (diode.input_net != 0).all()
    with pytest.raises(ValueError, match="iiw mode takes no mask"):
        inference.prepare(image, mask, "iiw")


def test_pinv_solve_clamps_small_singular_values_instead_of_dropping_them() -> None:
    a = torch.tensor([[2.0, 0.0], [0.0, 1e-9], [0.0, 0.0]], dtype=torch.float64)
    got = inference.pinv_solve(a, torch.eye(3, dtype=torch.float64))
    # 1e-9 is raised to 1e-6 * 2: its inverse is 5e5, neither 1e9 (exact) nor 0 (numpy's rcond).
    torch.testing.assert_close(got, torch.tensor([[0.5, 0, 0], [0, 5e5, 0]], dtype=torch.float64))
    wide = inference.pinv_solve(a.mT, torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(wide, got.mT)  # pinv(a^T) = pinv(a)^T, with the same floor
    full_rank = torch.randn(50, 9, dtype=torch.float64)
    eye = torch.eye(50, dtype=torch.float64)
    torch.testing.assert_close(inference.pinv_solve(full_rank, eye), torch.linalg.pinv(full_rank))


def test_pca_pinv_is_a_left_inverse_of_the_pca_vectors() -> None:
    vectors = sh.illumination_pca()[1]
    np.testing.assert_allclose(vectors @ inference.pca_pinv(), np.eye(18), atol=1e-8)


def test_lighting_fit_inverts_the_gamma_2_2_image_formation() -> None:
    rng = np.random.default_rng(3)
    normals = sh.sphere_normals(20)
    mask = np.float32(np.isfinite(normals[..., 2]))[..., None]
    normals = np.nan_to_num(normals) * mask
    lighting = sh.illumination_pca()[0].reshape(9, 3)
    albedo_raw = rng.uniform(-0.6, 0.9, normals.shape).astype(np.float32) * mask
    shadow_raw = rng.uniform(0.0, 0.9, (*normals.shape[:2], 1)).astype(np.float32) * mask
    linear = (albedo_raw / 2 + 0.5) * (shadow_raw / 2 + 0.5) * sh.irradiance(normals, lighting)
    # The input the network sees, gamma-encoded with 2.2 and mapped to [-1, 1].
    input_net = (np.clip(linear, 0, None) ** (1 / 2.2) * 2 - 1) * mask
    assert (linear[mask[..., 0] > 0] > 0).all()
    tensors = [
        torch.from_numpy(np.float32(a))[None]
        for a in (input_net, albedo_raw, shadow_raw, normals, mask)
    ]
    fitted = inference.fit_lighting(*tensors)
    np.testing.assert_allclose(fitted.numpy().reshape(9, 3), lighting, atol=2e-4)


def test_infer_heads_ranges_and_masking() -> None:
    torch.manual_seed(0)
    model = InverseRenderNet().eval()
    x = torch.rand(2, 24, 30, 3) * 2 - 1
    mask = torch.ones(2, 24, 30)
    mask[:, :5] = 0
    with torch.inference_mode():
        net = inference.infer(model, x * mask[..., None], mask)
    keep, drop = mask > 0, mask == 0
    normal = net["normal"]
    torch.testing.assert_close(normal[keep].norm(dim=-1), torch.ones(int(keep.sum())))
    assert (normal[keep][:, 2] > 0).all() and (normal[drop] == 0).all()
    albedo = net["albedo"][keep]
    assert albedo.min() >= 0.5 - 0.9999 / 2 - 1e-7 and albedo.max() <= 0.5 + 0.9999 / 2 + 1e-7
    assert (net["albedo"][drop] == 0).all() and (net["shadow"][drop] == 0.5).all()
    assert torch.allclose(net["shading"][drop], torch.tensor(1e-4))
    assert net["lighting"].shape == (2, 9, 3) and net["lighting_pca"].shape == (2, 18)
    render = net["lighting_render"]
    assert render.shape == (2, 200, 200, 3) and int(torch.isnan(render).sum()) == 2 * 8603 * 3
    # lighting is the PCA projection of the least-squares lighting.
    mean, vectors = sh.illumination_pca()
    projected = net["lighting_pca"].double() @ torch.from_numpy(vectors) + torch.from_numpy(mean)
    torch.testing.assert_close(net["lighting"].reshape(2, 27), projected.float())


def _net_maps(h: int, w: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    normal = rng.normal(size=(h, w, 3)).astype(np.float32)
    return {
        "albedo": rng.uniform(0.1, 0.6, (h, w, 3)).astype(np.float32),
        "shading": rng.uniform(0, 1, (h, w, 3)).astype(np.float32),
        "shadow": rng.uniform(0, 1, (h, w)).astype(np.float32),
        "normal": normal / np.linalg.norm(normal, axis=-1, keepdims=True),
        "lighting_render": np.full((200, 200, 3), 0.999, np.float32),
    }


def test_postprocess_differs_by_mode_as_upstream() -> None:
    net = _net_maps(20, 30)
    demo = inference.postprocess(net, (40, 60), "demo")
    assert demo["post_albedo"].shape == (40, 60, 3)
    assert demo["post_albedo"].min() == 0 and demo["post_albedo"].max() == 1  # min-max
    np.testing.assert_array_equal(demo["post_shadow"], cv2.resize(net["shadow"], (60, 40)))
    np.testing.assert_allclose(demo["post_normal"], (cv2.resize(net["normal"], (60, 40)) + 1) / 2)

    iiw = inference.postprocess(net, (40, 60), "iiw")
    resized = {k: cv2.resize(net[k], (60, 40)) for k in ("albedo", "shading", "shadow")}
    np.testing.assert_allclose(iiw["post_albedo"], resized["albedo"] ** (1 / 2.2), rtol=1e-6)
    np.testing.assert_allclose(
        iiw["post_shading"], resized["shading"] * resized["shadow"][..., None]
    )

    diode = inference.postprocess(net, (40, 60), "diode")
    np.testing.assert_array_equal(diode["post_albedo"], net["albedo"])  # network size, as is
    # Saved PNGs truncate like np.uint8(x * 255): 0.999 -> 254, not 255.
    assert (demo["png_lighting"] == 254).all()
    np.testing.assert_array_equal(diode["png_shadow"], np.uint8(net["shadow"] * 255))


def test_decompose_sizes_follow_the_mode() -> None:
    torch.manual_seed(0)
    model = InverseRenderNet().eval()
    image = np.random.default_rng(6).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    iiw = inference.decompose(model, image, mode="iiw")
    assert iiw["albedo"].shape == (200, 200, 3) and iiw["png_albedo"].shape == (30, 40, 3)
    diode = inference.decompose(model, image, mode="diode")
    assert diode["albedo"].shape == (200, 266, 3) and diode["png_albedo"].shape == (200, 266, 3)
    assert diode["lighting"].shape == (1, 9, 3) and diode["pca_pinv"].shape == (27, 18)
