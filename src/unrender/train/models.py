"""Classifiers: one network class serves a single input (``rgb``, each modality) and the fusion.

A :class:`Classifier` holds one encoder per input and a linear head on their concatenated
features; it returns one fake logit per frame. With one input it is the single-modality
classifier; ``ensemble_net`` gives it all five modalities, each through its own encoder
(albedo, normals, shading and shadow have unrelated statistics, so the picture trunks do not
share weights), trained end to end, so the head learns how to weigh them.

- Picture inputs go through :class:`PictureEncoder`: a torchvision classification network
  (``resnet18`` by default, any name of ``torchvision.models.list_models()`` whose head ends in
  a ``Linear``) with that last ``Linear`` removed.
- ``lighting`` goes through :class:`LightingEncoder`, an MLP on the 27 standardised SH
  coefficients (see :mod:`unrender.train.packs` for why not the sphere render).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torchvision
from torch import nn

from unrender.train.data import FrameInputs
from unrender.train.inputs import LIGHTING_DIM, MODEL_INPUTS

#: ImageNet statistics: what pretrained trunks expect, and a harmless centring from scratch.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Width of the lighting MLP (hidden and output features).
LIGHTING_FEATURES = 64


def _strip_head(network: nn.Module, arch: str) -> int:
    """Replace the last ``nn.Linear`` of ``network`` by identity; return its input width."""
    linears = [(name, m) for name, m in network.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            f"train.arch {arch!r} has no Linear classification head to replace; "
            "pick a network such as resnet18, resnet50, efficientnet_b0 or mobilenet_v3_small"
        )
    name, last = linears[-1]
    parent_name, _, attr = name.rpartition(".")
    setattr(network.get_submodule(parent_name), attr, nn.Identity())
    return last.in_features


def _imagenet_network(arch: str) -> nn.Module:
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    try:
        return torchvision.models.get_model(arch, weights=weights)
    except OSError as e:  # URLError and friends: no network
        target = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        raise FileNotFoundError(
            f"could not download the ImageNet weights of {arch} ({e}); on a machine without "
            f"internet, fetch {weights.url} elsewhere and place it at {target} "
            "(set TORCH_HOME to move that folder), or use train.pretrained: none"
        ) from e


def _load_weights_file(trunk: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a user's .safetensors / .pt state dict into ``trunk`` (head keys are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"train.pretrained: weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict of tensors")
    wanted = trunk.state_dict()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise ValueError(
            f"{path} lacks {len(missing)} tensor(s) of the network, e.g. {missing[:3]}; it must "
            "be a flat state dict of the same torchvision architecture as train.arch"
        )
    trunk.load_state_dict({k: state[k] for k in wanted})


class PictureEncoder(nn.Module):
    """uint8 (B, C, S, S) picture -> float32 (B, D) features of a torchvision trunk.

    C = 3 (RGB-like) or 1 (gray, ``shadow``): a gray picture is expanded to the trunk's 3
    input channels here, so the trunk reads what a gray picture repeated on 3 channels gives,
    and batches neither store nor move the repeats.

    ``pretrained``: ``none`` (random init), ``imagenet`` (torchvision's default weights) or a
    path to a ``.safetensors`` / ``.pt`` state dict (read with ``weights_only=True``).
    """

    def __init__(self, arch: str, pretrained: str = "none") -> None:
        super().__init__()
        known = torchvision.models.list_models(module=torchvision.models)
        if arch not in known:
            raise ValueError(
                f"train.arch {arch!r} is not a torchvision classification model; e.g. "
                f"{', '.join(n for n in known if n.startswith('res'))}"
            )
        if pretrained == "imagenet":
            self.trunk = _imagenet_network(arch)
        else:
            self.trunk = torchvision.models.get_model(arch, weights=None)
        self.features = _strip_head(self.trunk, arch)
        if pretrained not in ("none", "imagenet"):
            _load_weights_file(self.trunk, pretrained)
        self.register_buffer("mean", 255.0 * torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", 255.0 * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        # A view for gray; .float() then makes the contiguous (B, 3, S, S) the stem reads.
        picture = picture.expand(-1, 3, -1, -1)
        return self.trunk((picture.float() - self.mean) / self.std)


class LightingEncoder(nn.Module):
    """float32 (B, 27) SH coefficients -> float32 (B, 64) features.

    The coefficients are standardised with the training set's per-coefficient mean and std
    (buffers, so they travel in the checkpoint); set them with :meth:`fit_standardisation`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(LIGHTING_DIM))
        self.register_buffer("std", torch.ones(LIGHTING_DIM))
        self.mlp = nn.Sequential(
            nn.Linear(LIGHTING_DIM, LIGHTING_FEATURES),
            nn.ReLU(),
            nn.Linear(LIGHTING_FEATURES, LIGHTING_FEATURES),
            nn.ReLU(),
        )
        self.features = LIGHTING_FEATURES

    def fit_standardisation(self, coefficients: torch.Tensor) -> None:
        """Set mean/std from float (N, 27) training coefficients (std floored at 1e-6)."""
        self.mean.copy_(coefficients.mean(0))
        self.std.copy_(coefficients.std(0, unbiased=False).clamp_min(1e-6))

    def forward(self, lighting: torch.Tensor) -> torch.Tensor:
        return self.mlp((lighting - self.mean) / self.std)


class Classifier(nn.Module):
    """Inputs dict (see :mod:`unrender.train.data`) -> float32 (B,) fake logits."""

    def __init__(self, inputs: Sequence[str], arch: str = "resnet18", pretrained: str = "none"):
        super().__init__()
        self.inputs = tuple(inputs)
        self.encoders = nn.ModuleDict(
            {
                name: LightingEncoder() if name == "lighting" else PictureEncoder(arch, pretrained)
                for name in self.inputs
            }
        )
        width = sum(int(e.features) for e in self.encoders.values())
        self.head = nn.Linear(width, 1)

    def forward(self, batch: FrameInputs) -> torch.Tensor:
        features = [self.encoders[name](batch[name]) for name in self.inputs]
        return self.head(torch.cat(features, dim=1)).squeeze(1)


def build_model(name: str, arch: str = "resnet18", pretrained: str = "none") -> Classifier:
    """The classifier of model ``name`` (a key of :data:`MODEL_INPUTS`)."""
    if name not in MODEL_INPUTS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_INPUTS)}")
    return Classifier(MODEL_INPUTS[name], arch, pretrained)
