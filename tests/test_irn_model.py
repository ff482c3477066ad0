"""IRN++ network structure: variable mapping, TF1 legacy resize, GroupNorm grouping, pooling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from unrender.irn.model import ConvBlock, InverseRenderNet, tf_variable_name
from unrender.irn.resize import resize_bilinear_legacy

VARIABLES = Path(__file__).resolve().parent / "fixtures" / "irn" / "variables.json"


def test_parameters_map_one_to_one_onto_tf_variables() -> None:
    spec = json.loads(VARIABLES.read_text())
    tf_shapes = {v["name"]: tuple(v["shape"]) for v in spec["variables"]}
    state = InverseRenderNet().state_dict()
    names = {tf_variable_name(k): k for k in state}
    assert len(names) == len(state) == spec["num_variables"] == 176
    assert set(names) == set(tf_shapes)
    for name, key in names.items():
        shape = tf_shapes[name]
        if len(shape) == 4:  # HWIO -> OIHW
            shape = (shape[3], shape[2], shape[0], shape[1])
        assert tuple(state[key].shape) == shape, name
    assert sum(v.numel() for v in state.values()) == spec["total_parameters"]


def _legacy_reference(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1 legacy bilinear, pixel by pixel: x (H, W) -> (out_h, out_w).

    Source positions in float32 as TF computes them, interpolation in float64.
    """
    in_h, in_w = x.shape
    out = np.empty((out_h, out_w))
    for r in range(out_h):
        sy = float(np.float32(r) * (np.float32(in_h) / np.float32(out_h)))
        y0, y1 = int(np.floor(sy)), min(int(np.ceil(sy)), in_h - 1)
        for c in range(out_w):
            sx = float(np.float32(c) * (np.float32(in_w) / np.float32(out_w)))
            x0, x1 = int(np.floor(sx)), min(int(np.ceil(sx)), in_w - 1)
            top = x[y0, x0] + (x[y0, x1] - x[y0, x0]) * (sx - x0)
            bottom = x[y1, x0] + (x[y1, x1] - x[y1, x0]) * (sx - x0)
            out[r, c] = top + (bottom - top) * (sy - y0)
    return out


@pytest.mark.parametrize(
    ("size_in", "size_out"), [((13, 17), (25, 34)), ((67, 50), (133, 100)), ((9, 8), (4, 5))]
)
def test_legacy_resize_matches_the_tf1_rule(
    size_in: tuple[int, int], size_out: tuple[int, int]
) -> None:
    x = np.random.default_rng(0).standard_normal(size_in)
    got = resize_bilinear_legacy(torch.from_numpy(x).float()[None, None], size_out)[0, 0]
    np.testing.assert_allclose(got.numpy(), _legacy_reference(x, *size_out), atol=1e-5)


def test_legacy_resize_2x_keeps_even_pixels_and_averages_odd_ones() -> None:
    x = torch.arange(12.0).reshape(1, 1, 3, 4) ** 2
    y = resize_bilinear_legacy(x, (6, 8))
    torch.testing.assert_close(y[..., ::2, ::2], x)
    torch.testing.assert_close(y[..., 0, 1:-1:2], (x[..., 0, :-1] + x[..., 0, 1:]) / 2)
    torch.testing.assert_close(y[..., -1, -1], x[..., -1, -1])  # the upper tap is clamped
    # The trap: half-pixel-centre interpolation (torch's default) is a different resize.
    assert not torch.allclose(F.interpolate(x, (6, 8), mode="bilinear", align_corners=False), y)


def test_legacy_resize_agrees_with_tensorflow() -> None:
    tf = pytest.importorskip(
        "tensorflow", reason="comparison with TF's own resize needs TensorFlow"
    )
    x = np.random.default_rng(1).standard_normal((2, 13, 17, 5)).astype(np.float32)
    want = tf.compat.v1.image.resize_bilinear(
        x, (25, 34), align_corners=False, half_pixel_centers=False
    )
    got = resize_bilinear_legacy(torch.from_numpy(x).permute(0, 3, 1, 2), (25, 34)).permute(
        0, 2, 3, 1
    )
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=2e-6)


def test_group_norm_uses_32_contiguous_groups_and_eps_1e5() -> None:
    torch.manual_seed(0)
    block = ConvBlock(8, 64)
    with torch.no_grad():
        block.norm.weight.uniform_(0.5, 1.5)
        block.norm.bias.uniform_(-0.5, 0.5)
        x = torch.randn(2, 8, 9, 11)
        conv = block.conv(x)
        # Upstream: reshape C into [32, C/32], moments over H, W and the group's channels.
        groups = conv.reshape(2, 32, 2, 9, 11)
        mean = groups.mean((2, 3, 4), keepdim=True)
        var = groups.var((2, 3, 4), unbiased=False, keepdim=True)
        normed = ((groups - mean) / torch.sqrt(var + 1e-5)).reshape(conv.shape)
        want = torch.relu(
            normed * block.norm.weight[:, None, None] + block.norm.bias[:, None, None]
        )
        torch.testing.assert_close(block(x), want, atol=1e-5, rtol=1e-5)


def test_odd_sizes_pool_with_ceil_and_heads_have_input_size() -> None:
    model = InverseRenderNet().eval()
    with torch.inference_mode():
        bottleneck, skips = model.encoder(torch.zeros(1, 3, 37, 50))
        assert [tuple(s.shape[1:]) for s in skips] == [
            (32, 37, 50),
            (64, 19, 25),
            (128, 10, 13),
            (256, 5, 7),
        ]
        assert tuple(bottleneck.shape[1:]) == (512, 3, 4)
        albedo, normal, shadow = model(torch.zeros(2, 3, 37, 50))
    assert (
        albedo.shape == (2, 3, 37, 50)
        and normal.shape == (2, 2, 37, 50)
        and shadow.shape == (2, 1, 37, 50)
    )


def test_legacy_resize_gives_the_same_values_in_both_memory_formats() -> None:
    x = torch.randn(2, 5, 13, 17)
    plain = resize_bilinear_legacy(x, (25, 34))
    channels_last = resize_bilinear_legacy(x.to(memory_format=torch.channels_last), (25, 34))
    assert channels_last.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(channels_last, plain, rtol=0, atol=0)


def test_test_checkpoint_values_follow_their_spec() -> None:
    from tests.irn_checkpoint import variable_values

    spec = json.loads(VARIABLES.read_text())
    values = variable_values(0)
    assert list(values) == [v["name"] for v in spec["variables"]]
    assert sum(v.size for v in values.values()) == spec["total_parameters"]
    assert all(v.dtype == np.float32 for v in values.values())
    again, other = variable_values(0), variable_values(1)
    assert all(np.array_equal(values[k], again[k]) for k in values)
    assert not np.array_equal(
        values["inverserendernet/conv1/weights"], other["inverserendernet/conv1/weights"]
    )
    for name, v in values.items():
        if name.endswith("/weights"):
            cin = v.shape[2]
            if v.size > 10_000:  # enough draws for the spread to show
                assert v.mean() == pytest.approx(0, abs=0.05 * np.sqrt(2 / (9 * cin)))
                assert v.std() == pytest.approx(np.sqrt(2 / (9 * cin)), rel=0.05)
        elif name.endswith("/scale"):
            assert v.min() >= 0.9 and v.max() <= 1.1
        else:
            assert v.min() >= -0.1 and v.max() <= 0.1
