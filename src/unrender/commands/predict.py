"""``unrender predict PATH --run results/{run} [--json]``: fake probabilities of one file.

The file (any video or image the frame extraction reads: mp4, avi, mov, png, jpg, ...) goes
through what the run's data went through: the same frames (count, size, short-video policy,
as recorded in the models' ``meta.json``), the same modality backend, the same PNG
quantisation of the modalities, then every trained model of ``results/{run}/models/``. A
model's score is the mean of its frame probabilities (the video level of the evaluation).
``ensemble_mean`` averages the five modality models' frame probabilities;
``ensemble_stacked`` applies the stacker fit on val, when the run's evaluation wrote it;
``lighting_consistency`` (training-free) scores the frames and normals with the threshold the
run chose on val, when the run has one (``models/lighting_consistency/calibration.json``).

Output: a table, or with ``--json`` one object
``{"path": str, "frames": int, "scores": {"rgb": p, ..., "ensemble_net": p, "ensemble_mean": p}}``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unrender.devices import resolve_device
from unrender.evaluate.ensembles import Stacker, mean_probability
from unrender.modalities import MODALITIES, get_backend
from unrender.modalities.files import encode_png
from unrender.rejected import RejectedInput
from unrender.train import checkpoint
from unrender.train.data import to_inputs
from unrender.train.inputs import MODEL_INPUTS, PICTURE_INPUTS
from unrender.train.models import Classifier

HELP = "score a video or image with a trained run"

#: Where the evaluation leaves the stacked ensemble's coefficients, inside a run folder.
STACKER = Path("models") / "ensemble_stacked" / "stacker.json"
#: Where the lighting_consistency rule leaves its val threshold, inside a run folder.
LIGHTING_CALIBRATION = Path("models") / "lighting_consistency" / "calibration.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="PATH", help="video or image file")
    parser.add_argument(
        "--run", type=Path, required=True, help="run folder with trained models, results/{run}"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="CPU threads of torch (default 1: a few frames run fastest on one, and more "
        "threads spin-wait when other work shares the CPU; bench/predict_latency.py)",
    )


def load_models(
    run_dir: str | os.PathLike[str], device: torch.device
) -> dict[str, tuple[Classifier, dict[str, Any]]]:
    """The trained models of a run folder, in the evaluation's order, with their meta.

    Raises FileNotFoundError naming the folder when it holds none.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    models = {}
    for name in MODEL_INPUTS:
        folder = run_dir / "models" / name
        if (folder / checkpoint.META).is_file():
            models[name] = checkpoint.load(folder, device)
    if not models:
        raise FileNotFoundError(
            f"{run_dir / 'models'} holds no trained model (models/<name>/meta.json and "
            "model.safetensors); run the workflow on this run first, e.g. "
            "snakemake --cores 2 --configfile <its config>"
        )
    return models


def _preprocess(models: dict[str, tuple[Classifier, dict[str, Any]]], run_dir: Path) -> dict:
    """The models' common record of how frames and modalities were made (``preprocess`` of
    their meta.json: ``frames`` and ``backend_options`` objects, ``backend`` a name)."""
    records = {name: meta.get("preprocess") for name, (_, meta) in models.items()}
    for name, record in records.items():
        where = run_dir / "models" / name / checkpoint.META
        if not isinstance(record, dict) or not isinstance(record.get("frames"), dict):
            raise ValueError(f"{where} lacks preprocess.frames; retrain the model")
        if not isinstance(record.get("backend"), str):
            raise ValueError(f"{where} lacks preprocess.backend; retrain the model")
        if not isinstance(record.get("backend_options", {}), dict):
            raise ValueError(f"{where}: preprocess.backend_options is not an object")
    first = next(iter(records.values()))
    if any(record != first for record in records.values()):
        raise ValueError("the run's models were trained on differently prepared data; retrain")
    return first


def decompose_file(
    path: Path, preprocess: dict[str, Any]
) -> list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]]:
    """Frames of ``path`` and their modalities, as the run's training data had them on disk.

    Returns per frame ``(pictures, lighting, normal)``: name -> uint8 picture (the frame and
    each modality's PNG encoding, :func:`unrender.modalities.files.encode_png`) and the
    float32 (9, 3) SH coefficients, what :func:`unrender.train.data.to_inputs` takes; and the
    float32 (H, W, 3) normals (the run's ``.npy``), what ``lighting_consistency`` reads.
    """
    from unrender import video
    from unrender.pipeline import FrameOptions, take_frames

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file")
    try:
        options = FrameOptions.from_config(preprocess["frames"])  # as the run's frame stage
        backend = get_backend(preprocess["backend"], **preprocess.get("backend_options", {}))
    except TypeError as e:  # an option the code does not take
        raise ValueError(f"the models' meta.json preprocess does not fit this unrender: {e}") from e
    try:
        extracted = take_frames(path, video.guess_kind(path), options)
    except RejectedInput as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    decomposition = backend.decompose(extracted.frames)
    return [
        (
            {"rgb": rgb, **{m: encode_png(m, decomposition, i) for m in PICTURE_INPUTS[1:]}},
            decomposition["lighting"][i].astype(np.float32),
            decomposition["normal"][i].astype(np.float32),
        )
        for i, rgb in enumerate(extracted.frames)
    ]


@torch.no_grad()
def score(
    path: str | os.PathLike[str], run_dir: str | os.PathLike[str], device: str = "auto"
) -> dict[str, Any]:
    """``{"path", "frames", "scores": {model: fake probability}}`` of one video or image."""
    torch_device = resolve_device(device)
    models = load_models(run_dir, torch_device)
    preprocess = _preprocess(models, Path(run_dir))
    frames = decompose_file(Path(path), preprocess)
    frame_probs: dict[str, np.ndarray] = {}
    for name, (model, meta) in models.items():
        size = meta["options"]["image_size"]
        inputs = [to_inputs(pictures, lighting, size) for pictures, lighting, _ in frames]
        batch = {k: torch.stack([x[k] for x in inputs]).to(torch_device) for k in model.inputs}
        frame_probs[name] = torch.sigmoid(model(batch)).double().cpu().numpy()
    calibration_path = Path(run_dir) / LIGHTING_CALIBRATION
    if calibration_path.is_file():
        from unrender import lighting_consistency

        scores = lighting_consistency.sample_scores(
            [pictures["rgb"] for pictures, _, _ in frames], [normal for _, _, normal in frames]
        )
        threshold = lighting_consistency.Calibration.load(calibration_path).threshold
        frame_probs[lighting_consistency.NAME] = lighting_consistency.to_probability(
            scores, threshold
        )
    if all(m in frame_probs for m in MODALITIES):
        frame_probs["ensemble_mean"] = mean_probability(frame_probs)
        stacker_path = Path(run_dir) / STACKER
        if stacker_path.is_file():
            frame_probs["ensemble_stacked"] = Stacker.load(stacker_path).apply(frame_probs)
    return {
        "path": str(path),
        "frames": len(frames),
        "scores": {name: float(p.mean()) for name, p in frame_probs.items()},
    }


def run(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, not {args.threads}")
    previous = torch.get_num_threads()  # main() may run inside a longer process (tests)
    torch.set_num_threads(args.threads)
    try:
        result = score(args.path, args.run, args.device)
    finally:
        torch.set_num_threads(previous)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['path']}: {result['frames']} frame(s); fake probability per model")
    for name, p in result["scores"].items():
        print(f"  {name:<17} {p:.4f}")
    return 0
