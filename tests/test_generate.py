"""StyleGAN2-ADA generation: seed specs, seed → z → file semantics, uint8 conversion, resume.

No NVIDIA code runs here: a tiny stand-in generator goes through the same loop, and the
loader is tested against stand-in ``dnnlib``/``torch_utils``/``legacy`` modules.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from unrender import cli
from unrender.commands import generate as generate_command
from unrender.devices import resolve_device
from unrender.generate import network, stylegan
from unrender.generate.seeds import image_name, parse_seeds, seed_blocks
from unrender.io import read_image, write_image

Z_DIM = 6
RESOLUTION = 4


class StandIn(torch.nn.Module):
    """A generator whose image is a function of its own z only, recording every call.

    Image b: channel ch at (y, x) is tanh(z[b, ch] * 2 + (x - y) / 2) * 1.2, float32
    (B, 3, R, R) with values beyond [-1, 1] so the clamp matters.
    """

    def __init__(self, c_dim: int = 0) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.img_resolution = Z_DIM, c_dim, RESOLUTION
        self.calls: list[dict[str, object]] = []

    def forward(
        self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1, noise_mode: str = ""
    ) -> torch.Tensor:
        self.calls.append(
            {"z": z.clone(), "c": c.clone(), "psi": truncation_psi, "noise": noise_mode}
        )
        ramp = torch.arange(RESOLUTION, dtype=torch.float32)
        offset = (ramp[None, :] - ramp[:, None]) / 2  # (y, x)
        base = z[:, :3].to(torch.float32)[:, :, None, None] * 2
        return torch.tanh(base + offset) * 1.2


@pytest.fixture
def generator() -> StandIn:
    return StandIn()


def _run(generator: StandIn, seeds: list[int], outdir: Path, **kwargs: object) -> tuple[int, int]:
    return stylegan.generate(generator, seeds, outdir, network_id="stand-in", **kwargs)


# --- seed specs -------------------------------------------------------------------------


def test_seed_ranges_are_inclusive_and_lists_combine() -> None:
    seeds = parse_seeds("5000-10000")
    assert len(seeds) == 5001
    assert seeds[0] == 5000 and seeds[-1] == 10000
    assert parse_seeds("0-9,42") == [*range(10), 42]
    assert parse_seeds(" 7 ") == [7]
    assert parse_seeds(3) == [3]


def test_seed_order_is_kept_and_repeats_dropped() -> None:
    assert parse_seeds("9,3-5,4,1,9") == [9, 3, 4, 5, 1]


@pytest.mark.parametrize("spec", ["10-5", "a", "", "1,,2", "-5", "1-", "2.5", "4294967296"])
def test_bad_seed_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="seed spec"):
        parse_seeds(spec)


def test_seed_blocks_cover_the_seeds_in_order() -> None:
    seeds = parse_seeds("5000-10000")
    blocks = seed_blocks(seeds, 500)
    assert list(blocks) == [f"b{i:04d}" for i in range(11)]
    assert [len(b) for b in blocks.values()] == [500] * 10 + [1]
    assert [s for b in blocks.values() for s in b] == seeds
    with pytest.raises(ValueError):
        seed_blocks(seeds, 0)


def test_file_names_pad_to_four_digits_like_upstream() -> None:
    assert image_name(5) == "seed0005.png"
    assert image_name(42) == "seed0042.png"
    assert image_name(12345) == "seed12345.png"


# --- seed → z → image ---------------------------------------------------------------------


def test_each_seed_gets_its_randomstate_z_also_in_batches(
    generator: StandIn, tmp_path: Path
) -> None:
    seeds = [7, 0, 5000, 42]
    assert _run(generator, seeds, tmp_path, batch_size=3, truncation_psi=0.7) == (4, 0)
    assert [len(call["z"]) for call in generator.calls] == [3, 1]
    z = torch.cat([call["z"] for call in generator.calls])
    assert z.dtype == torch.float64  # upstream passes randn's float64 as is
    for row, seed in zip(z.numpy(), seeds, strict=True):
        np.testing.assert_array_equal(row[None], np.random.RandomState(seed).randn(1, Z_DIM))
    assert all(call["psi"] == 0.7 and call["noise"] == "const" for call in generator.calls)
    assert all(call["c"].shape == (len(call["z"]), 0) for call in generator.calls)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(map(image_name, seeds))


def test_batching_does_not_change_the_images(tmp_path: Path) -> None:
    seeds = [3, 1, 4, 15, 9]
    _run(StandIn(), seeds, tmp_path / "one", batch_size=1)
    _run(StandIn(), seeds, tmp_path / "many", batch_size=4)
    for seed in seeds:
        name = image_name(seed)
        np.testing.assert_array_equal(
            read_image(tmp_path / "one" / name), read_image(tmp_path / "many" / name)
        )


def test_uint8_conversion_follows_the_upstream_formula() -> None:
    # x * 127.5 + 128, clamped to [0, 255], truncated: worked out by hand.
    values = torch.tensor([-1.5, -1.0, -0.004, 0.0, 0.5, 0.999, 1.0, 1.2])
    expected = [0, 0, 127, 128, 191, 255, 255, 255]
    images = values.reshape(1, 1, 1, -1).expand(1, 3, 1, -1)  # (B, 3, H, W)
    got = stylegan.to_uint8(images)
    assert got.dtype == np.uint8 and got.shape == (1, 1, 8, 3)
    assert got[0, 0, :, 0].tolist() == expected


def test_written_png_holds_the_converted_rgb(generator: StandIn, tmp_path: Path) -> None:
    _run(generator, [11], tmp_path)
    images = StandIn()(
        torch.from_numpy(np.random.RandomState(11).randn(1, Z_DIM)), torch.zeros(1, 0)
    )
    on_disk = read_image(tmp_path / "seed0011.png")  # RGB, channel order kept
    np.testing.assert_array_equal(on_disk, stylegan.to_uint8(images)[0])
    assert len({on_disk[..., ch].tobytes() for ch in range(3)}) == 3


# --- resume ------------------------------------------------------------------------------


def test_resume_skips_valid_files_and_regenerates_broken_ones(
    generator: StandIn, tmp_path: Path
) -> None:
    seeds = [1, 2, 3, 4]
    _run(generator, seeds, tmp_path, batch_size=2)
    originals = {s: (tmp_path / image_name(s)).read_bytes() for s in seeds}

    generator.calls.clear()
    assert _run(generator, seeds, tmp_path, batch_size=2) == (0, 4)
    assert generator.calls == []

    truncated = tmp_path / image_name(2)
    truncated.write_bytes(originals[2][: len(originals[2]) // 2])
    write_image(tmp_path / image_name(4), np.zeros((RESOLUTION * 2, RESOLUTION * 2, 3), np.uint8))
    assert _run(generator, seeds, tmp_path, batch_size=2) == (2, 2)
    z = torch.cat([call["z"] for call in generator.calls]).numpy()
    np.testing.assert_array_equal(
        z, np.concatenate([np.random.RandomState(s).randn(1, Z_DIM) for s in (2, 4)])
    )
    assert {s: (tmp_path / image_name(s)).read_bytes() for s in seeds} == originals


def test_resuming_with_other_settings_is_refused(generator: StandIn, tmp_path: Path) -> None:
    _run(generator, [1], tmp_path, truncation_psi=1.0)
    recorded = json.loads((tmp_path / stylegan.SETTINGS_FILE).read_text())
    assert recorded == {
        "network": "stand-in",
        "truncation_psi": 1.0,
        "class_idx": None,
        "noise_mode": "const",
        "batch_size": 1,
    }
    with pytest.raises(ValueError, match="other settings"):
        _run(generator, [1, 2], tmp_path, truncation_psi=0.5)
    assert not (tmp_path / image_name(2)).exists()


def test_resuming_at_another_batch_size_is_refused(generator: StandIn, tmp_path: Path) -> None:
    _run(generator, [1], tmp_path, batch_size=1)
    with pytest.raises(ValueError, match="other settings.*batch_size"):
        _run(generator, [1, 2, 3], tmp_path, batch_size=4)
    assert not (tmp_path / image_name(2)).exists()


def test_wrong_output_shape_is_an_error(tmp_path: Path) -> None:
    small = StandIn()
    small.img_resolution = RESOLUTION * 2  # claims more pixels than it returns
    with pytest.raises(ValueError, match="expected"):
        _run(small, [1], tmp_path)


# --- class labels --------------------------------------------------------------------------


def test_conditional_network_needs_a_class(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="conditional"):
        _run(StandIn(c_dim=3), [1], tmp_path)
    with pytest.raises(ValueError, match="outside"):
        _run(StandIn(c_dim=3), [1], tmp_path, class_idx=3)
    assert not list(tmp_path.glob("*.png"))


def test_class_index_becomes_a_one_hot_label_per_image(tmp_path: Path) -> None:
    conditional = StandIn(c_dim=3)
    _run(conditional, [1, 2, 3], tmp_path, class_idx=1, batch_size=2)
    labels = torch.cat([call["c"] for call in conditional.calls])
    np.testing.assert_array_equal(labels.numpy(), [[0, 1, 0]] * 3)


def test_class_index_on_unconditional_network_warns(generator: StandIn, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="unconditional"):
        _run(generator, [1], tmp_path, class_idx=2)
    assert generator.calls[0]["c"].shape == (1, 0)


# --- manifest rows ---------------------------------------------------------------------------


def test_fake_rows_point_at_the_images(tmp_path: Path) -> None:
    outdir = tmp_path / "data" / "stylegan"
    rows = stylegan.fake_rows([5, 12345], outdir, tmp_path)
    assert [r["sample_id"] for r in rows] == ["stylegan-seed0005", "stylegan-seed12345"]
    assert rows[0] == {
        "sample_id": "stylegan-seed0005",
        "path": "data/stylegan/seed0005.png",
        "label": "1",
        "group": "stylegan-seed0005",
        "split": "",
        "kind": "image",
        "source": "stylegan2-ada",
    }
    with pytest.raises(ValueError, match="outside the dataset root"):
        stylegan.fake_rows([5], tmp_path / "elsewhere", outdir)


# --- loading the official pickle ---------------------------------------------------------------


def test_missing_pickle_says_what_to_download(tmp_path: Path) -> None:
    missing = tmp_path / "nets" / "ffhq.pkl"
    with pytest.raises(FileNotFoundError) as e:
        network.load_network(missing)
    assert network.FFHQ_NETWORK_URL in str(e.value)
    assert str(missing) in str(e.value)


def test_missing_nvidia_code_names_the_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkl = tmp_path / "ffhq.pkl"
    pkl.write_bytes(pickle.dumps("weights"))
    monkeypatch.setitem(sys.modules, "dnnlib", None)  # import fails, whatever is installed
    with pytest.raises(network.NvidiaCodeMissing) as e:
        network.load_network(pkl)
    assert "containers/stylegan2-ada" in str(e.value)
    assert "dnnlib" in str(e.value)


@pytest.fixture
def nvidia_stand_ins(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Stand-in dnnlib/torch_utils/legacy: legacy.load_network_pkl returns a StandIn G_ema.

    Returns the list that receives the bytes each load read from its file.
    """
    read: list[bytes] = []

    def load_network_pkl(f: object) -> dict[str, object]:
        read.append(f.read())  # type: ignore[attr-defined]
        return {"G_ema": StandIn().train()}

    legacy = types.ModuleType("legacy")
    legacy.load_network_pkl = load_network_pkl  # type: ignore[attr-defined]
    for name, module in [
        ("dnnlib", types.ModuleType("dnnlib")),
        ("torch_utils", types.ModuleType("torch_utils")),
        ("legacy", legacy),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    return read


def test_loader_returns_g_ema_in_eval_mode(tmp_path: Path, nvidia_stand_ins: list[bytes]) -> None:
    pkl = tmp_path / "ffhq.pkl"
    pkl.write_bytes(pickle.dumps("weights"))
    generator = network.load_network(pkl, "cpu")
    assert isinstance(generator, StandIn) and not generator.training
    assert nvidia_stand_ins == [pkl.read_bytes()]


def test_command_generates_and_resumes(
    tmp_path: Path, nvidia_stand_ins: list[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    pkl = tmp_path / "ffhq.pkl"
    pkl.write_bytes(pickle.dumps("weights"))
    parser = argparse.ArgumentParser()
    generate_command.add_arguments(parser)
    argv = [
        "--network",
        str(pkl),
        "--seeds",
        "0-2,9",
        "--outdir",
        str(tmp_path / "out"),
        "--device",
        "cpu",
        "--batch",
        "3",
    ]
    assert generate_command.run(parser.parse_args(argv)) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [
        "seed0000.png",
        "seed0001.png",
        "seed0002.png",
        "seed0009.png",
    ]
    settings = json.loads((tmp_path / "out" / stylegan.SETTINGS_FILE).read_text())
    assert settings["network"] == "sha256:" + hashlib.sha256(pkl.read_bytes()).hexdigest()
    assert generate_command.run(parser.parse_args(argv)) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("0 images generated, 4 already there")


def test_network_sha256_is_checked_before_the_pickle_is_opened(
    tmp_path: Path, nvidia_stand_ins: list[bytes]
) -> None:
    pkl = tmp_path / "ffhq.pkl"
    pkl.write_bytes(pickle.dumps("weights"))
    with pytest.raises(ValueError, match="not the expected sha256:0{64}; it was not opened"):
        stylegan.generate_from_pickle(
            pkl, [0], tmp_path / "out", device="cpu", network_sha256="0" * 64
        )
    assert nvidia_stand_ins == []  # the loader never saw the file
    right = hashlib.sha256(pkl.read_bytes()).hexdigest()
    got = stylegan.generate_from_pickle(
        pkl, [0], tmp_path / "out", device="cpu", network_sha256=right
    )
    assert got == (1, 0)


class NotAGenerator(torch.nn.Module):
    """A torch module without z_dim/c_dim/img_resolution."""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is an empty file"),
        (b"just some text\n", "is not a pickle"),
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "is not a pickle"),
        (b"\x80\x04truncated", "is not a StyleGAN2-ADA network pickle"),
        (pickle.dumps({"D": 1}), r"not a StyleGAN2-ADA network pickle \(KeyError"),
        (pickle.dumps([1, 2]), r"not a StyleGAN2-ADA network pickle \(TypeError"),
        (pickle.dumps({"G_ema": NotAGenerator()}), "holds no generator"),
        (pickle.dumps({"G_ema": "text"}), "holds no generator"),
    ],
)
def test_network_files_that_are_not_generators_are_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    message: str,
) -> None:
    def load_network_pkl(f: object) -> object:  # unpickles and indexes like NVIDIA's legacy
        data = pickle.load(f)  # type: ignore[arg-type]  # noqa: S301  (the test's own bytes)
        data["G_ema"]  # noqa: B018
        return data

    legacy = types.ModuleType("legacy")
    legacy.load_network_pkl = load_network_pkl  # type: ignore[attr-defined]
    for name, module in [("dnnlib", types.ModuleType("dnnlib")), ("torch_utils", legacy)]:
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setitem(sys.modules, "legacy", legacy)
    pkl = tmp_path / "net.pkl"
    pkl.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        network.load_network(pkl)
    argv = ["generate", "--network", str(pkl), "--seeds", "0", "--outdir", str(tmp_path / "o")]
    assert cli.main([*argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and str(pkl) in err and "Traceback" not in err


def test_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="'bogus' is not a torch device"):
        resolve_device("bogus")


# --- container recipes ---------------------------------------------------------------------

CONTAINER = Path(__file__).resolve().parents[1] / "containers" / "stylegan2-ada"


def test_both_recipes_pin_the_same_nvidia_commit() -> None:
    dockerfile = (CONTAINER / "Dockerfile").read_text()
    definition = (CONTAINER / "stylegan2-ada.def").read_text()
    pins = re.findall(r"STYLEGAN2_ADA_COMMIT=([0-9a-f]+)", dockerfile + definition)
    pins += re.findall(r"stylegan2-ada-pytorch\.commit ([0-9a-f]+)", definition)
    assert len(pins) == 3 and len(set(pins)) == 1 and len(pins[0]) == 40
    assert not dockerfile.startswith("# syntax")  # a frontend pull fails offline
    for recipe in (dockerfile, definition):
        assert "PYTHONPATH=/opt/stylegan2-ada-pytorch" in recipe
        assert "Source Code License" in recipe
