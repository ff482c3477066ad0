"""Which torch device a ``device`` setting means, and whether a job must ask for a GPU."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

_CUDA_NAME = re.compile(r"cuda(:\d+)?")


def names_cuda(name: str) -> bool:
    """Whether a ``device`` setting names a CUDA device (``cuda`` or ``cuda:N``).

    Read from the config string alone, without torch, so the Snakefile can give a job its
    ``gpu`` resource at parse time. ``auto`` is not CUDA here: a submit host cannot know
    what a compute node has, so ``auto`` asks the scheduler for no GPU (and still uses one
    where the job happens to run beside a GPU, e.g. on a workstation).
    """
    return _CUDA_NAME.fullmatch(name) is not None


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when torch sees a GPU, else CPU; any other torch device name as is.

    A name torch does not know, or a CUDA device without a GPU, is a ValueError saying so,
    not a crash deep in a model.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"device {name!r} is not a torch device; use auto, cpu, cuda or cuda:N"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU; use cpu or auto")
    return device
