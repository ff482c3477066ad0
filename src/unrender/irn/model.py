"""The InverseRenderNet++ network (``SfMNet`` with 30 layers, 4 pools, base depth 32).

One encoder of 15 conv blocks and three decoders of 15 layers (albedo, normal, shadow),
following upstream ``model/SfMNet.py`` (github.com/YeeU/InverseRenderNet_v2, 69922fa):

- conv block: 3x3 conv (stride 1, zero ``SAME`` padding, no bias) -> GroupNorm(32 groups,
  eps 1e-5, contiguous channel groups) -> ReLU;
- encoder layers 4, 7, 10, 13 keep their input as a skip, then conv block, then 2x2 max-pool
  with ``SAME`` padding (output ``ceil(n / 2)``);
- decoder layers 3, 6, 9, 12 resize to the matching skip with TF1's legacy bilinear rule,
  run a conv block and concatenate ``[decoded, skip]``; layer 15 is a bare conv (with bias
  for albedo and shadow, without for normal).

Parameters map one-to-one onto the 176 TF1 checkpoint variables; module names repeat the
TF scope names (``encoder.conv1``, ``albedo.am_deconv3``, ``normal.nm15`` ...), and
:func:`tf_variable_name` gives the checkpoint name of every state-dict key.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from unrender.irn.resize import resize_bilinear_legacy

#: Encoder (in, out) channels of conv1..conv15.
ENCODER_CHANNELS: tuple[tuple[int, int], ...] = (
    (3, 64), (64, 32), (32, 32),
    (32, 64), (64, 64), (64, 64),
    (64, 128), (128, 128), (128, 128),
    (128, 256), (256, 256), (256, 256),
    (256, 512), (512, 512), (512, 512),
)  # fmt: skip

#: Decoder (in, out) channels of layers 1..14; layer 15 maps 32 to the head's channels.
DECODER_CHANNELS: tuple[tuple[int, int], ...] = (
    (512, 512), (512, 512), (512, 256),
    (512, 256), (256, 256), (256, 128),
    (256, 128), (128, 128), (128, 64),
    (128, 64), (64, 64), (64, 32),
    (64, 32), (32, 32),
)  # fmt: skip

#: Encoder layers that push their input onto the skip list and end with a max-pool.
POOLING_LAYERS: tuple[int, ...] = (4, 7, 10, 13)

#: Decoder layers that first upsample to a skip's size, then concatenate that skip.
UPSAMPLING_LAYERS: tuple[int, ...] = (3, 6, 9, 12)

#: Decoder name -> (TF scope prefix, output channels of layer 15, layer 15 has a bias).
DECODERS: dict[str, tuple[str, int, bool]] = {
    "albedo": ("am_deconv", 3, True),
    "normal": ("nm", 2, False),
    "shadow": ("mask_deconv", 1, True),
}

TF_SCOPE = "inverserendernet"

GROUPS = 32
GROUP_NORM_EPS = 1e-5


class ConvBlock(nn.Module):
    """3x3 conv (no bias), GroupNorm(32, eps 1e-5), ReLU: float (N, in, H, W) -> (N, out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm = nn.GroupNorm(GROUPS, out_channels, eps=GROUP_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)), inplace=True)


class Encoder(nn.Module):
    """Layers ``conv1..conv15``: float (N, 3, H, W) -> bottleneck and four skips."""

    def __init__(self) -> None:
        super().__init__()
        for i, (c_in, c_out) in enumerate(ENCODER_CHANNELS, start=1):
            self.add_module(f"conv{i}", ConvBlock(c_in, c_out))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return the (N, 512, ceil(H/16), ceil(W/16)) bottleneck and the skips, finest first."""
        skips = []
        for i in range(1, len(ENCODER_CHANNELS) + 1):
            if i in POOLING_LAYERS:
                skips.append(x)
                x = F.max_pool2d(getattr(self, f"conv{i}")(x), 2, 2, ceil_mode=True)
            else:
                x = getattr(self, f"conv{i}")(x)
        return x, skips


class Decoder(nn.Module):
    """Layers ``{prefix}1..{prefix}15``: bottleneck + skips -> float (N, out, H, W) logits."""

    def __init__(self, prefix: str, out_channels: int, head_bias: bool) -> None:
        super().__init__()
        self.prefix = prefix
        for i, (c_in, c_out) in enumerate(DECODER_CHANNELS, start=1):
            self.add_module(f"{prefix}{i}", ConvBlock(c_in, c_out))
        last = len(DECODER_CHANNELS) + 1
        self.add_module(
            f"{prefix}{last}", nn.Conv2d(32, out_channels, 3, padding=1, bias=head_bias)
        )

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        for i in range(1, len(DECODER_CHANNELS) + 2):
            layer = getattr(self, f"{self.prefix}{i}")
            if i in UPSAMPLING_LAYERS:
                # Layer 3 joins the coarsest skip, layer 12 the full-resolution one.
                skip = skips[-UPSAMPLING_LAYERS.index(i) - 1]
                x = resize_bilinear_legacy(x, tuple(skip.shape[-2:]))
                x = torch.cat([layer(x), skip], 1)
            else:
                x = layer(x)
        return x


class InverseRenderNet(nn.Module):
    """IRN++: float (N, 3, H, W) input in [-1, 1] -> raw logits of the three decoders.

    Input is the linearised image mapped to [-1, 1] and multiplied by the mask (see
    :mod:`unrender.irn.inference`). Any H, W >= 1 works; upstream uses a short side of 200.
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        for name, (prefix, out_channels, head_bias) in DECODERS.items():
            self.add_module(name, Decoder(prefix, out_channels, head_bias))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return float32 logits: albedo (N, 3, H, W), normal (N, 2, H, W), shadow (N, 1, H, W)."""
        bottleneck, skips = self.encoder(x)
        return tuple(getattr(self, name)(bottleneck, skips) for name in DECODERS)


_TF_LEAF = {
    "conv.weight": "weights",
    "norm.weight": "group_norm/scale",
    "norm.bias": "group_norm/bias",
    "weight": "weights",
    "bias": "biases",
}


def tf_variable_name(state_key: str) -> str:
    """TF1 checkpoint name of a state-dict key.

    ``"albedo.am_deconv3.conv.weight"`` -> ``"inverserendernet/am_deconv3/weights"``;
    ``"shadow.mask_deconv15.bias"`` -> ``"inverserendernet/mask_deconv15/biases"``.
    """
    _, scope, leaf = state_key.split(".", 2)
    return f"{TF_SCOPE}/{scope}/{_TF_LEAF[leaf]}"
