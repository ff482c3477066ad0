"""The generation loop: seed → z → generator → uint8 PNG ``seed%04d.png``, batched, resumable.

Per seed it does what upstream stylegan2-ada-pytorch ``generate.py`` does for
``--seeds``: ``z = numpy.random.RandomState(seed).randn(1, z_dim)`` (float64, passed as is;
NVIDIA's mapping network casts it to float32), class label one-hot of ``class_idx`` for
conditional networks (all-zero (1, 0) otherwise), ``noise_mode="const"``, truncation
``psi``, then ``(img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)``
saved as lossless PNG. Unlike upstream it runs on CPU or GPU, batches seeds, skips images
already on disk and writes atomically.

Batching and bit-exactness: ``batch_size=1`` (the default) repeats upstream's arithmetic
exactly (same device and library versions). A larger batch is faster but not bit-identical:
NVIDIA's synthesis network takes other convolution paths for batches (grouped convolution
over the batch; non-fused modulation in FP16 layers), so some pixel values move by one or two
levels (checked on CPU with a random-weight NVIDIA generator: 7-9 % of values, at most 2).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from unrender.datasets.common import root_relative, row
from unrender.devices import resolve_device
from unrender.generate.network import load_network, network_fingerprint
from unrender.generate.seeds import image_name
from unrender.io import atomic_open, read_image, write_image

log = logging.getLogger(__name__)

#: Noise inputs held at the network's stored constants, so a seed always gives one image.
NOISE_MODE = "const"
#: Written into the output folder; a rerun with other settings refuses to mix images.
SETTINGS_FILE = "generation.json"


class Generator(Protocol):
    """What the loop needs of a generator (NVIDIA's ``G_ema`` or a test stand-in)."""

    z_dim: int
    c_dim: int
    img_resolution: int

    def __call__(
        self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = ...
    ) -> torch.Tensor:
        """z: float64 (B, z_dim); c: float32 (B, c_dim) → float (B, 3, R, R), about [-1, 1]."""
        ...


def latents(seeds: Sequence[int], z_dim: int) -> np.ndarray:
    """float64 (len(seeds), z_dim): row i is ``RandomState(seeds[i]).randn(1, z_dim)``."""
    return np.concatenate([np.random.RandomState(seed).randn(1, z_dim) for seed in seeds])


def class_label(c_dim: int, class_idx: int | None) -> torch.Tensor:
    """float32 (1, c_dim): one-hot of ``class_idx``; (1, 0) for unconditional networks.

    Raises ValueError when a conditional network gets no class or one outside [0, c_dim);
    warns and ignores ``class_idx`` on an unconditional network, as upstream does.
    """
    label = torch.zeros(1, c_dim)
    if c_dim == 0:
        if class_idx is not None:
            warnings.warn(
                f"class index {class_idx} ignored: the network is unconditional", stacklevel=2
            )
        return label
    if class_idx is None:
        raise ValueError(
            f"the network is conditional ({c_dim} classes): give a class index in "
            f"[0, {c_dim}) (stylegan.class_idx in the config, --class-idx on the command line)"
        )
    if not 0 <= class_idx < c_dim:
        raise ValueError(f"class index {class_idx} is outside [0, {c_dim}) of this network")
    label[0, class_idx] = 1
    return label


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float (B, 3, H, W), about [-1, 1] → uint8 (B, H, W, 3).

    Upstream's conversion: x * 127.5 + 128, clamped to [0, 255], then truncated toward zero
    by the cast (so -1 → 0.5 → 0 and 1 → 255.5 → 255).
    """
    return (images.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


def is_valid_image(path: str | os.PathLike[str], resolution: int) -> bool:
    """True if ``path`` decodes as an RGB image of ``resolution`` x ``resolution`` px."""
    if not Path(path).is_file():
        return False
    try:
        return read_image(path).shape == (resolution, resolution, 3)
    except ValueError:  # truncated or not an image: generate it again
        return False


def _check_settings(outdir: Path, settings: dict[str, object]) -> None:
    """Record ``settings`` in ``outdir``; refuse a folder made with other settings."""
    path = outdir / SETTINGS_FILE
    if path.is_file():
        recorded = json.loads(path.read_text())
        if recorded != settings:
            raise ValueError(
                f"{outdir} holds images generated with other settings ({path}: {recorded}; "
                f"now: {settings}); resuming would mix them. Delete the folder or choose "
                "another output folder."
            )
        return
    with atomic_open(path) as f:
        json.dump(settings, f, indent=2, sort_keys=True)


def generate(
    generator: Generator,
    seeds: Sequence[int],
    outdir: str | os.PathLike[str],
    *,
    network_id: str,
    truncation_psi: float = 1.0,
    class_idx: int | None = None,
    batch_size: int = 1,
    device: torch.device | str = "cpu",
) -> tuple[int, int]:
    """Write ``outdir/seed%04d.png`` for every seed; return (generated, skipped).

    ``generator`` must already live on ``device``. Seeds whose file already decodes at the
    network's resolution are skipped; missing, truncated or corrupt files are generated
    again. ``network_id`` (e.g. :func:`network_fingerprint`) goes with psi, class, noise
    mode and batch size into ``outdir/generation.json``; a folder made with other settings
    is refused.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    resolution = int(generator.img_resolution)
    label = class_label(int(generator.c_dim), class_idx).to(device)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    _check_settings(
        outdir,
        {
            "network": network_id,
            "truncation_psi": float(truncation_psi),
            "class_idx": class_idx if generator.c_dim else None,
            "noise_mode": NOISE_MODE,
            # Batches take other convolution paths (see the module docstring): a folder
            # resumed at another batch size would mix pixel conventions.
            "batch_size": batch_size,
        },
    )
    pending = [s for s in seeds if not is_valid_image(outdir / image_name(s), resolution)]
    log.info(
        "%d of %d seeds already have a valid image in %s",
        len(seeds) - len(pending),
        len(seeds),
        outdir,
    )
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        z = torch.from_numpy(latents(batch, int(generator.z_dim))).to(device)
        with torch.no_grad():
            images = generator(
                z, label.repeat(len(batch), 1), truncation_psi=truncation_psi, noise_mode=NOISE_MODE
            )
        expected = (len(batch), 3, resolution, resolution)
        if tuple(images.shape) != expected:
            raise ValueError(
                f"the generator returned shape {tuple(images.shape)}, expected {expected} "
                "(batch, RGB, img_resolution, img_resolution)"
            )
        for seed, rgb in zip(batch, to_uint8(images), strict=True):
            write_image(outdir / image_name(seed), rgb)
        log.info("seeds %d..%d: %d images written", batch[0], batch[-1], len(batch))
    return len(pending), len(seeds) - len(pending)


def generate_from_pickle(
    pkl_path: str | os.PathLike[str],
    seeds: Sequence[int],
    outdir: str | os.PathLike[str],
    *,
    truncation_psi: float = 1.0,
    class_idx: int | None = None,
    batch_size: int = 1,
    device: str = "auto",
    network_sha256: str | None = None,
) -> tuple[int, int]:
    """Load an official network pickle and :func:`generate` with it; return (generated, skipped).

    With ``network_sha256`` (64 hex digits) a pickle with other bytes is refused before it
    is opened: unpickling runs code from the file.
    """
    torch_device = resolve_device(device)
    network_id = network_fingerprint(pkl_path)
    if network_sha256 is not None and network_id != f"sha256:{network_sha256.lower()}":
        raise ValueError(
            f"{pkl_path} has {network_id}, not the expected sha256:{network_sha256}; "
            "it was not opened (a network pickle runs code when loaded)"
        )
    generator = load_network(pkl_path, torch_device)
    log.info("loaded %s on %s", pkl_path, torch_device)
    return generate(
        generator,
        seeds,
        outdir,
        network_id=network_id,
        truncation_psi=truncation_psi,
        class_idx=class_idx,
        batch_size=batch_size,
        device=torch_device,
    )


def fake_rows(
    seeds: Sequence[int],
    outdir: str | os.PathLike[str],
    dataset_root: str | os.PathLike[str],
    source: str = "stylegan2-ada",
) -> list[dict[str, str]]:
    """Manifest rows of the generated images: kind image, label 1, one group per seed.

    ``sample_id`` and ``group`` are ``stylegan-seed%04d``; ``path`` is relative to
    ``dataset_root``, which must contain ``outdir`` (ValueError otherwise).
    """
    root = Path(dataset_root).absolute()
    rows = []
    for seed in seeds:
        path = Path(outdir).absolute() / image_name(seed)
        sample_id = f"stylegan-{path.stem}"
        rows.append(row(sample_id, root_relative(root, path), 1, sample_id, "", "image", source))
    return rows
