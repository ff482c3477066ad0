"""Grad-CAM of a one-picture classifier, on a tiny trunk whose answer is known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from unrender.report.saliency import grad_cam
from unrender.train.models import Classifier


class QuadrantTrunk(nn.Module):
    """(B, 3, 8, 8) -> (B, 1): the red channel times a fixed map, average-pooled. The
    pooled feature map is (B, 1, 8, 8); the fake logit rises with red where the map is
    positive and falls where it is negative."""

    def __init__(self, weights: torch.Tensor) -> None:
        super().__init__()
        self.select = nn.Conv2d(3, 1, 1, bias=False)
        with torch.no_grad():
            self.select.weight.zero_()
            self.select.weight[0, 0] = 1.0
        self.register_buffer("weights", weights)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.select(x) * self.weights).flatten(1)


def tiny_classifier() -> Classifier:
    """A rgb Classifier whose trunk is :class:`QuadrantTrunk` (+1 top-left, -1 bottom-right)."""
    model = Classifier(("rgb",), arch="resnet18")
    weights = torch.zeros(8, 8)
    weights[:4, :4] = 1.0
    weights[4:, 4:] = -1.0
    encoder = model.encoders["rgb"]
    encoder.trunk = QuadrantTrunk(weights)
    encoder.register_buffer("mean", torch.zeros(1, 3, 1, 1))
    encoder.register_buffer("std", torch.ones(1, 3, 1, 1))
    model.head = nn.Linear(1, 1)
    with torch.no_grad():
        model.head.weight.fill_(1.0)
        model.head.bias.zero_()
    return model.eval()


def test_grad_cam_finds_the_evidence_for_each_class() -> None:
    model = tiny_classifier()
    picture = torch.full((2, 3, 8, 8), 100, dtype=torch.uint8)
    cams = grad_cam(model, {"rgb": picture}, torch.tensor([1, 0]))
    assert cams.shape == (2, 8, 8) and cams.dtype == torch.float32
    assert float(cams.min()) >= 0 and float(cams.max()) == pytest.approx(1.0)
    # Evidence for fake is the +1 quadrant (top left), for real the -1 one (bottom right).
    top_left = torch.zeros(8, 8)
    top_left[:4, :4] = 1.0
    fake, real = cams
    assert torch.allclose(fake, top_left) and torch.allclose(real, top_left.flip(0, 1))


def test_grad_cam_leaves_the_model_alone_and_needs_a_pooled_trunk() -> None:
    model = tiny_classifier()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grad_cam(model, {"rgb": torch.zeros((1, 3, 8, 8), dtype=torch.uint8)}, torch.tensor([1]))
    assert not model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    model.encoders["rgb"].trunk.pool = nn.Flatten()
    with pytest.raises(ValueError, match="no AdaptiveAvgPool2d"):
        grad_cam(model, {"rgb": torch.zeros((1, 3, 8, 8), dtype=torch.uint8)}, torch.tensor([1]))
