"""Loading NVIDIA's official StyleGAN2-ADA network pickle, with errors that say what to do.

Unpickling the official ``.pkl`` needs NVIDIA's ``dnnlib``, ``torch_utils`` and ``legacy``
modules (from NVlabs/stylegan2-ada-pytorch) importable. That code is under the NVIDIA Source
Code License (non-commercial use only), so this project never ships it: it exists only
inside the ``containers/stylegan2-ada`` image, which clones it at a pinned commit and puts
it on ``PYTHONPATH``. Nothing here imports torch or NVIDIA code at module import time, so the
Snakemake rules can check the pickle path cheaply while the DAG is built.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from unrender.provenance import sha256_file

#: The official FFHQ 1024x1024 generator of stylegan2-ada-pytorch (the study's network).
FFHQ_NETWORK_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/ffhq.pkl"
#: Where the loader's NVIDIA modules exist.
CONTAINER = "containers/stylegan2-ada"
#: The NVIDIA modules that unpickling needs (``legacy`` also converts old TensorFlow pickles).
NVIDIA_MODULES: tuple[str, ...] = ("dnnlib", "torch_utils", "legacy")
#: First byte of every pickle of protocol 2 or later (NVIDIA's pickles are protocol 3+).
PICKLE_MAGIC = b"\x80"
#: What :func:`unrender.generate.stylegan.generate` reads off a generator.
GENERATOR_ATTRIBUTES: tuple[str, ...] = ("z_dim", "c_dim", "img_resolution")


class NvidiaCodeMissing(ImportError):
    """NVIDIA's dnnlib/torch_utils/legacy modules cannot be imported (run in the container)."""


def check_network_file(pkl_path: str | os.PathLike[str]) -> Path:
    """Return ``pkl_path`` as a Path; raise FileNotFoundError saying what to download if absent."""
    path = Path(pkl_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"StyleGAN2-ADA network pickle not found: {path}. Download NVIDIA's official FFHQ "
            f"network from {FFHQ_NETWORK_URL} (stylegan2-ada-pytorch, NVIDIA Source Code "
            f"License, non-commercial) and save it as {path}, or point stylegan.network "
            "(--network on the command line) at the pickle you have."
        )
    return path


def network_fingerprint(pkl_path: str | os.PathLike[str]) -> str:
    """``"sha256:<hex>"`` of the pickle's bytes: which network made a folder of images."""
    return f"sha256:{sha256_file(check_network_file(pkl_path))}"


def _import_nvidia_code() -> Any:
    """Import NVIDIA's modules; return ``legacy``. Raise NvidiaCodeMissing naming the container."""
    try:
        modules = [importlib.import_module(name) for name in NVIDIA_MODULES]
    except ModuleNotFoundError as e:
        raise NvidiaCodeMissing(
            f"cannot import NVIDIA's StyleGAN2-ADA code ({e}). Loading the official network "
            f"pickle needs dnnlib, torch_utils and legacy from NVlabs/stylegan2-ada-pytorch on "
            f"PYTHONPATH; they are under NVIDIA's non-commercial licence and exist only in the "
            f"{CONTAINER} image: build it (see {CONTAINER}/README.md) and run there, e.g. "
            "through the Snakemake rule with --sdm apptainer."
        ) from e
    return modules[-1]


def load_network(pkl_path: str | os.PathLike[str], device: Any = "cpu") -> Any:
    """The generator ``G_ema`` of an official pickle, in eval mode, on ``device``.

    The returned module has ``z_dim``, ``c_dim``, ``img_resolution`` and
    ``__call__(z, c, truncation_psi=, noise_mode=)`` returning float32 (B, 3, R, R) in about
    [-1, 1], as :func:`unrender.generate.stylegan.generate` expects. Raises FileNotFoundError
    (missing pickle) or NvidiaCodeMissing (NVIDIA modules not importable).
    Anything else is a ValueError naming the file: not a pickle (checked by its first byte
    before anything is unpickled), a pickle NVIDIA's loader refuses, or one without a
    generator ``G_ema``.
    """
    path = check_network_file(pkl_path)
    with open(path, "rb") as f:
        first = f.read(1)
    if first != PICKLE_MAGIC:
        what = "an empty file" if not first else "not a pickle (protocol 2 or later)"
        raise ValueError(f"{path} is {what}, not a StyleGAN2-ADA network pickle")
    legacy = _import_nvidia_code()
    try:
        with open(path, "rb") as f:
            data = legacy.load_network_pkl(f)
    except OSError:
        raise
    except Exception as e:  # whatever the unpickler or NVIDIA's checks raise
        raise ValueError(
            f"{path} is not a StyleGAN2-ADA network pickle ({type(e).__name__}: {e})"
        ) from None
    generator = data.get("G_ema") if isinstance(data, dict) else None
    import torch

    if not isinstance(generator, torch.nn.Module) or not all(
        hasattr(generator, a) for a in GENERATOR_ATTRIBUTES
    ):
        raise ValueError(
            f"{path} holds no generator: G_ema must be a torch module with "
            f"{', '.join(GENERATOR_ATTRIBUTES)}"
        )
    return generator.eval().to(device)
