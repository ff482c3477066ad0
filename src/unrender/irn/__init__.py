"""InverseRenderNet++ (github.com/YeeU/InverseRenderNet_v2, 69922fa) in PyTorch.

- :mod:`unrender.irn.model`: :class:`InverseRenderNet`, parameters one-to-one with the
  176 TF1 checkpoint variables;
- :mod:`unrender.irn.resize`: TF1's legacy bilinear resize, by hand;
- :mod:`unrender.irn.convert`: :func:`load_tf1_checkpoint` (TF1 checkpoint -> state dict;
  needs TensorFlow, imported only there) and safetensors output (``unrender irn convert``);
- :mod:`unrender.irn.inference`: :func:`load` and :func:`decompose`, upstream's whole test
  path (demo, iiw and diode modes), and the batched form the ``irn`` backend uses.
"""

from unrender.irn.convert import load_tf1_checkpoint
from unrender.irn.inference import MODES, decompose, decompose_batch, load
from unrender.irn.model import InverseRenderNet

__all__ = [
    "MODES",
    "InverseRenderNet",
    "decompose",
    "decompose_batch",
    "load",
    "load_tf1_checkpoint",
]
