"""Grad-CAM saliency of each picture model (rgb and the four picture modalities).

Grad-CAM (Selvaraju et al., 2017): with A the (C, h, w) feature map a trunk global-pools
into its features and y the score of a class, the map is ``relu(sum_c mean_hw(dy/dA_c) A_c)``,
upsampled bilinearly to the input size. Here y is the evidence for the frame's true class:
the fake logit for a fake, its negative for a real, so each panel shows what made the model
right (or, where it was wrong, what it looked at instead). Written with our own hooks: the
trunks are torchvision networks whose feature map enters an ``nn.AdaptiveAvgPool2d``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from unrender import manifest
from unrender.evaluate import predictions
from unrender.io import atomic_path
from unrender.train import checkpoint
from unrender.train.data import FrameInputs, load_inputs
from unrender.train.models import Classifier
from unrender.train.packs import Item


def grad_cam(model: Classifier, batch: FrameInputs, labels: torch.Tensor) -> torch.Tensor:
    """Grad-CAM of a one-picture classifier on ``batch`` -> float32 (B, S, S) in [0, 1].

    batch: the model's input name -> uint8 (B, C, S, S); labels: (B,) 0 real / 1 fake, the
    class whose evidence is mapped. Each map is divided by its maximum (all zeros where the
    model found no positive evidence). The model's parameters and mode are left as they were.
    """
    (name,) = model.inputs
    pools = [m for m in model.encoders[name].modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if not pools:
        raise ValueError(f"the {name} trunk has no AdaptiveAvgPool2d whose input Grad-CAM maps")
    captured: list[torch.Tensor] = []

    def keep_feature_map(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple:
        # A leaf copy of the feature map: its gradient exists whether or not weights need one.
        feature_map = args[0].detach().requires_grad_(True)
        captured.append(feature_map)
        return (feature_map,)

    handle = pools[-1].register_forward_pre_hook(keep_feature_map)
    try:
        with torch.enable_grad():
            logits = model(batch)
            sign = labels.to(logits.dtype) * 2 - 1
            (gradient,) = torch.autograd.grad((logits * sign).sum(), captured[-1])
    finally:
        handle.remove()
    feature_map = captured[-1].detach()
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * feature_map).sum(dim=1, keepdim=True))
    size = batch[name].shape[-2:]
    cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]
    return (cam / peak).float()


@dataclass(frozen=True)
class Example:
    """A test frame shown in the figure: its shard, its item and the rgb model's P(fake)."""

    shard: str
    item: Item
    prob: float


def pick_examples(
    predictions_tsv: str | os.PathLike[str],
    shard_tsvs: Sequence[str | os.PathLike[str]],
    per_class: int = 2,
) -> list[Example]:
    """Frame 0 of the first ``per_class`` test fakes and reals (by sample_id), fakes first.

    Fewer where the test split has fewer; ValueError if it has none at all.
    """
    shard_of = {
        s.sample_id: (Path(p).stem, s) for p in shard_tsvs for s in manifest.read_samples(p)
    }
    table = predictions.read(predictions_tsv)
    rows = sorted(
        (str(table.sample_id[i]), int(table.label[i]), float(table.prob[i]))
        for i in range(len(table))
        if table.split[i] == "test" and int(table.k[i]) == 0
    )
    examples = []
    for label in (1, 0):
        for sample_id, _, prob in [r for r in rows if r[1] == label][:per_class]:
            shard, s = shard_of[sample_id]
            examples.append(Example(shard, Item(sample_id, 0, label, s.group, s.kind), prob))
    if not examples:
        raise ValueError(f"{predictions_tsv} has no test frame to show")
    return examples


def model_saliency(
    run_dir: str | os.PathLike[str], model_dir: str | os.PathLike[str], examples: Sequence[Example]
) -> tuple[str, np.ndarray, np.ndarray]:
    """One trained picture model on ``examples``: its name, the uint8 (N, S, S, 3) pictures
    it read (at its ``image_size`` S) and their float32 (N, S, S) Grad-CAM maps in [0, 1]."""
    model, meta = checkpoint.load(model_dir)
    (name,) = model.inputs
    size = meta["options"]["image_size"]
    pictures = torch.stack(
        [load_inputs(run_dir, ex.shard, ex.item, (name,), size)[name] for ex in examples]
    )
    cams = grad_cam(model, {name: pictures}, torch.tensor([ex.item.label for ex in examples]))
    shown = pictures.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()  # gray shown as RGB
    return meta["model"], shown, cams.numpy()


def write_saliency_figure(
    run_dir: str | os.PathLike[str],
    model_dirs: Sequence[str | os.PathLike[str]],
    examples: Sequence[Example],
    out_png: str | os.PathLike[str],
) -> None:
    """One row per example, one column per model of ``model_dirs`` (picture models): the
    model's input picture with its Grad-CAM map over it (jet, 50 % opacity)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(examples),
        len(model_dirs),
        figsize=(2.2 * len(model_dirs), 2.3 * len(examples)),
        squeeze=False,
    )
    for col, model_dir in enumerate(model_dirs):
        name, pictures, cams = model_saliency(run_dir, model_dir, examples)
        for row, ex in enumerate(examples):
            ax = axes[row, col]
            ax.imshow(pictures[row])
            ax.imshow(cams[row], cmap="jet", alpha=0.5, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name)
            if col == 0:
                label = "fake" if ex.item.label else "real"
                ax.set_ylabel(
                    f"{ex.item.sample_id}\n{label}, rgb P(fake) {ex.prob:.2f}", fontsize=7
                )
    fig.suptitle("Grad-CAM: evidence for the true class, test frames (frame 0)")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
