"""``unrender predict``: frames -> modalities -> the run's models, JSON schema, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from tests.imports import module_level_imports
from unrender import lighting_consistency, video
from unrender.cli import main
from unrender.commands.predict import LIGHTING_CALIBRATION
from unrender.evaluate.ensembles import STACKED_INPUTS, Stacker
from unrender.io import write_image
from unrender.modalities import MODALITIES, register
from unrender.train import checkpoint
from unrender.train.data import to_inputs
from unrender.train.models import MODEL_INPUTS, build_model

FRAMES = {"per_video": 3, "size": 32, "short_video": "repeat"}
IMAGE_SIZE = 16  # the models' input size, smaller than the frames: predict must resize


@register("predict-test")
class _ToyBackend:
    """Contract-shaped modalities computed from the pixels, fast and deterministic."""

    name = "predict-test"

    def decompose(self, images: np.ndarray) -> dict[str, np.ndarray]:
        x = images.astype(np.float32) / 255
        b, h, w, _ = x.shape
        gray = x.mean(axis=3)
        normal = np.zeros_like(x)
        normal[..., 2] = 1
        return {
            "albedo": x,
            "normal": normal,
            "shading": np.repeat(gray[..., None], 3, axis=3) + 1e-4,
            "shadow": 1 - gray,
            "lighting": np.tile(x.mean(axis=(1, 2))[:, None, :], (1, 9, 1)),
            "lighting_sphere": np.zeros((b, 200, 200, 3), np.float32),
        }


def _write_video(path: Path, n: int = 10) -> None:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 48, 40, "yuv420p"
        for _ in range(n):
            picture = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with (untrained) checkpoints of the 7 models, a stacker and the
    lighting_consistency threshold."""
    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    for name in MODEL_INPUTS:
        meta = {
            "model": name,
            "arch": "resnet18",
            "options": {"image_size": IMAGE_SIZE},
            "preprocess": {"frames": FRAMES, "backend": "predict-test", "backend_options": {}},
        }
        checkpoint.save(run / "models" / name, build_model(name), meta)
    Stacker(STACKED_INPUTS, (0.5, -0.2, 1.0, 0.1, 0.3, 0.8), -0.1).save(
        run / "models/ensemble_stacked/stacker.json"
    )
    lighting_consistency.Calibration(0.2).save(run / LIGHTING_CALIBRATION)
    return run


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    _write_video(folder / "clip.mp4")
    rng = np.random.default_rng(1)
    write_image(folder / "face.png", rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))
    (folder / "broken.mp4").write_bytes(b"this is not a video")
    return {p.stem: p for p in folder.iterdir()}


def _predict_json(capsys: pytest.CaptureFixture[str], path: Path, run: Path) -> dict:
    assert main(["predict", str(path), "--run", str(run), "--json", "--device", "cpu"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_schema_and_scores(
    run_dir: Path, media: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for name, n_frames in (("clip", 3), ("face", 1)):
        result = _predict_json(capsys, media[name], run_dir)
        assert set(result) == {"path", "frames", "scores"}
        assert result["path"] == str(media[name]) and result["frames"] == n_frames
        scores = result["scores"]
        assert list(scores) == [
            "rgb",
            *MODALITIES,
            "ensemble_net",
            "lighting_consistency",
            "ensemble_mean",
            "ensemble_stacked",
        ]
        assert all(isinstance(p, float) and 0 <= p <= 1 for p in scores.values())
        # Equal frame counts: the mean over frames of the modality mean is the mean of scores.
        assert scores["ensemble_mean"] == pytest.approx(np.mean([scores[m] for m in MODALITIES]))


def test_rgb_score_is_the_models_mean_frame_probability(
    run_dir: Path, media: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    result = _predict_json(capsys, media["clip"], run_dir)
    frames = video.extract_frames(media["clip"], 3, size=32).frames
    model, _ = checkpoint.load(run_dir / "models/rgb")
    batch = torch.stack([to_inputs({"rgb": f}, None, IMAGE_SIZE)["rgb"] for f in frames])
    with torch.no_grad():
        expected = torch.sigmoid(model({"rgb": batch})).mean().item()
    assert result["scores"]["rgb"] == pytest.approx(expected, abs=1e-6)


def test_lighting_consistency_scores_the_frames_with_the_runs_threshold(
    run_dir: Path, media: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    result = _predict_json(capsys, media["clip"], run_dir)
    frames = video.extract_frames(media["clip"], 3, size=32).frames
    normals = _ToyBackend().decompose(np.stack(frames))["normal"]
    scores = lighting_consistency.sample_scores(frames, list(normals))
    expected = lighting_consistency.to_probability(scores, 0.2).mean()
    assert result["scores"]["lighting_consistency"] == pytest.approx(expected, abs=1e-9)


def test_table_output(
    run_dir: Path, media: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", str(media["face"]), "--run", str(run_dir), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "1 frame(s)" in out and "ensemble_stacked" in out


def test_clear_errors(
    run_dir: Path, media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (media["clip"], tmp_path, "holds no trained model"),
        (media["clip"], tmp_path / "nope", "does not exist"),
        (media["broken"], run_dir, "cannot read"),
        (tmp_path / "missing.mp4", run_dir, "does not exist"),
    ]
    for path, run, message in cases:
        assert main(["predict", str(path), "--run", str(run), "--json"]) == 2
        err = capsys.readouterr().err
        assert message in err and "unrender predict: error" in err


def _run_with_meta(run_dir: Path, tmp_path: Path, meta: object) -> Path:
    """A copy of the rgb model of ``run_dir`` whose meta.json holds ``meta``."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir / "models" / "rgb", run / "models" / "rgb")
    (run / "models" / "rgb" / checkpoint.META).write_text(json.dumps(meta))
    return run


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: {k: v for k, v in m.items() if k != "preprocess"}, "lacks preprocess.frames"),
        (lambda m: [m], "holds a list, not an object"),
        (lambda m: {**m, "options": {"image_size": -1}}, "options.image_size is -1"),
        (lambda m: {**m, "arch": "vgg99"}, "meta.json"),
        (
            lambda m: {
                **m,
                "preprocess": {
                    **m["preprocess"],
                    "backend": "classical",
                    "backend_options": {"gpu_magic": 1},
                },
            },
            "preprocess does not fit",
        ),
    ],
)
def test_a_bad_meta_json_is_one_line_naming_it(
    run_dir: Path,
    media: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: object,
    message: str,
) -> None:
    meta = json.loads((run_dir / "models" / "rgb" / checkpoint.META).read_text())
    run = _run_with_meta(run_dir, tmp_path, change(meta))  # type: ignore[operator]
    assert main(["predict", str(media["face"]), "--run", str(run), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    if "not fit" not in message:
        assert str(run / "models" / "rgb" / checkpoint.META) in err


def test_an_invalid_meta_json_names_the_file(run_dir: Path, tmp_path: Path) -> None:
    run = _run_with_meta(run_dir, tmp_path, {})
    (run / "models" / "rgb" / checkpoint.META).write_text("{not json")
    with pytest.raises(ValueError, match=r"models/rgb/meta\.json is not valid JSON"):
        checkpoint.read_meta(run / "models" / "rgb")


def test_threads_change_the_speed_not_the_scores(
    run_dir: Path, media: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    one = _predict_json(capsys, media["clip"], run_dir)  # the default, --threads 1
    before = torch.get_num_threads()
    args = ["predict", str(media["clip"]), "--run", str(run_dir), "--json", "--device", "cpu"]
    assert main([*args, "--threads", "2"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert torch.get_num_threads() == before  # the caller's setting is restored
    assert two["scores"] == pytest.approx(one["scores"], abs=1e-5)
    assert main([*args, "--threads", "0"]) == 2
    assert "--threads must be >= 1" in capsys.readouterr().err


def test_predict_imports_no_evaluation_or_metrics_library() -> None:
    """Only torch and torchvision are a prediction's heavy imports (issue 16, item 7): the
    metrics' torchmetrics, scipy and the rest stay out of ``unrender predict``."""
    imported = module_level_imports("unrender.commands.predict")
    assert {"torch", "torchvision", "numpy"} <= imported  # the walk follows the imports
    heavy = {"torchmetrics", "scipy", "sklearn", "matplotlib", "pandas", "snakemake"}
    assert not imported & heavy


def test_a_bogus_device_is_one_line(
    run_dir: Path, media: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", str(media["face"]), "--run", str(run_dir), "--device", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("unrender predict: error: device 'bogus' is not a torch device")
