"""The ``irn`` modality backend: contract, batching, weight errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from unrender.irn import inference
from unrender.irn.convert import save_weights
from unrender.irn.model import InverseRenderNet
from unrender.modalities import OUTPUT_KEYS, get_backend
from unrender.modalities.irn import to_contract


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weights of a randomly initialised network, written as the converter writes them."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("irn") / "random.safetensors"
    save_weights(InverseRenderNet().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Three 40 x 40 uint8 RGB images (network size 200 x 200)."""
    return np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)


def test_backend_follows_the_modality_contract(random_weights: Path, images: np.ndarray) -> None:
    # Batches of 2 and 1: chunking and batching must not change the numbers.
    backend = get_backend("irn", weights=str(random_weights), device="cpu", batch_size=2)
    assert backend.name == "irn"
    out = backend.decompose(images)
    assert set(out) == set(OUTPUT_KEYS)
    shapes = {
        "albedo": (3, 40, 40, 3),
        "normal": (3, 40, 40, 3),
        "shading": (3, 40, 40, 3),
        "shadow": (3, 40, 40),
        "lighting": (3, 9, 3),
        "lighting_sphere": (3, 200, 200, 3),
    }
    for key, shape in shapes.items():
        assert out[key].shape == shape and out[key].dtype == np.float32, key
    np.testing.assert_allclose(np.linalg.norm(out["normal"], axis=-1), 1, atol=1e-5)
    for key in ("albedo", "shadow"):
        assert out[key].min() >= 0 and out[key].max() <= 1
    assert out["shading"].min() >= 1e-4 - 1e-7 and out["shading"].max() <= 1 + 1e-4 + 1e-6
    assert np.isnan(out["lighting_sphere"]).sum() == 3 * 8603 * 3

    # The same numbers as the parity-tested single-image path, resized to the input size.
    for i in (0, 2):
        single = inference.decompose(backend.model, images[i])
        np.testing.assert_allclose(out["lighting"][i], single["lighting"][0], rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(
            out["lighting_sphere"][i], single["lighting_render"], atol=1e-4, equal_nan=True
        )
        for key in ("albedo", "shading", "shadow"):
            want = cv2.resize(single[key], (40, 40))
            np.testing.assert_allclose(out[key][i], want, atol=1e-4, err_msg=key)
        normal = cv2.resize(single["normal"], (40, 40))
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        np.testing.assert_allclose(out["normal"][i], normal, atol=1e-4)


def test_to_contract_resizes_like_cv2_and_renormalises_normals() -> None:
    rng = np.random.default_rng(2)
    normal = rng.normal(size=(1, 20, 30, 3)).astype(np.float32)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    normal[0, :4] = 0  # masked rows
    net = {
        "albedo": rng.uniform(0, 1, (1, 20, 30, 3)).astype(np.float32),
        "normal": normal,
        "shading": rng.uniform(0, 1, (1, 20, 30, 3)).astype(np.float32),
        "shadow": rng.uniform(0, 1, (1, 20, 30)).astype(np.float32),
        "lighting": rng.normal(size=(1, 9, 3)).astype(np.float32),
        "lighting_render": rng.uniform(0, 1, (1, 200, 200, 3)).astype(np.float32),
    }
    out = to_contract({k: torch.from_numpy(v) for k, v in net.items()}, 50, 70)
    np.testing.assert_allclose(out["albedo"][0], cv2.resize(net["albedo"][0], (70, 50)), atol=1e-5)
    np.testing.assert_allclose(out["shadow"][0], cv2.resize(net["shadow"][0], (70, 50)), atol=1e-5)
    resized = cv2.resize(normal[0], (70, 50))
    length = np.linalg.norm(resized, axis=-1, keepdims=True)
    unit = np.divide(resized, length, out=np.zeros_like(resized), where=length > 0)
    np.testing.assert_allclose(out["normal"][0], unit, atol=1e-5)
    assert (out["normal"][0, :8] == 0).all()


def test_missing_or_unreadable_weights_say_where_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Google Drive.*unrender irn convert") as missing:
        get_backend("irn", weights=str(tmp_path / "irn.safetensors"), device="cpu")
    assert str(tmp_path / "irn.safetensors") in str(missing.value)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="cannot read IRN.. weights .*garbage.*Google Drive"):
        get_backend("irn", weights=garbage, device="cpu")
    other = tmp_path / "other.safetensors"
    save_weights({"conv.weight": torch.zeros(1)}, other)
    with pytest.raises(ValueError, match="does not hold InverseRenderNet.. weights"):
        get_backend("irn", weights=other, device="cpu")
    with pytest.raises(ValueError, match="needs irn.weights"):
        get_backend("irn", device="cpu")


def test_backend_rejects_bad_options_and_inputs(random_weights: Path) -> None:
    with pytest.raises(ValueError, match="irn.mode must be one of demo, iiw, diode"):
        get_backend("irn", weights=random_weights, mode="indoor")
    backend = get_backend("irn", weights=random_weights, device="cpu")
    with pytest.raises(ValueError, match="uint8 \\(B, H, W, 3\\)"):
        backend.decompose(np.zeros((1, 8, 8, 3), np.float32))
    empty = backend.decompose(np.zeros((0, 8, 9, 3), np.uint8))
    assert empty["albedo"].shape == (0, 8, 9, 3) and empty["lighting"].shape == (0, 9, 3)


def test_modalities_batch_size_is_the_irn_backends_batch(random_weights: Path) -> None:
    from unrender.config import backend_options, validate

    def configured(batch_size: int | None) -> object:
        cfg = validate(
            {
                "run": "b",
                "dataset": {"kind": "synth"},
                "modalities": {"backend": "irn", "batch_size": batch_size},
                "irn": {"weights": str(random_weights), "device": "cpu"},
            }
        )
        return get_backend("irn", **backend_options(cfg))

    assert configured(5).batch_size == 5
    assert configured(None).batch_size == 2  # the backend's own CPU batch


def test_decompose_command_takes_the_irn_options(
    random_weights: Path, images: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `unrender decompose --backend irn` takes the irn config keys as --irn-* options.
    from unrender import cli
    from unrender.io import write_image

    image = tmp_path / "face.png"
    write_image(image, images[0])
    irn = ["--backend", "irn", "--irn-weights", str(random_weights), "--irn-device", "cpu"]
    normals = {}
    for precision in ("float32", "bfloat16"):
        out = tmp_path / precision
        argv = ["decompose", str(image), "--out", str(out), *irn, "--irn-precision", precision]
        assert cli.main(argv) == 0, capsys.readouterr().err
        normals[precision] = np.load(out / "normal" / "face.npy")
    # The half precision reached the network: other numbers, within its stated error.
    assert not np.array_equal(normals["float32"], normals["bfloat16"])
    np.testing.assert_allclose(normals["bfloat16"], normals["float32"], atol=0.8)
    capsys.readouterr()

    bad_device = ["decompose", str(image), "--out", str(tmp_path / "x"), *irn[:-1], "cuda:x"]
    assert cli.main(bad_device) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "irn.device" in err and "cuda:x" in err, err
    classical = [
        "decompose",
        str(image),
        "--out",
        str(tmp_path / "y"),
        "--irn-precision",
        "float16",
    ]
    assert cli.main(classical) == 2
    assert "--irn-precision: only with --backend irn" in capsys.readouterr().err
