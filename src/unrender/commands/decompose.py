"""``unrender decompose IMAGE... --out DIR``: the five modalities of single images.

Writes ``DIR/{modality}/{stem}.png`` for albedo, normal, shading, shadow and lighting (the
encodings of :func:`unrender.modalities.files.encode_png`), plus ``DIR/{modality}/{stem}.npy``
(float32) for normal (H, W, 3) and lighting (9, 3).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HELP = "estimate the 5 intrinsic modalities of images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``decompose`` options to ``parser``."""
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--backend", choices=("classical", "irn"), default="classical", help="modality backend"
    )
    parser.add_argument(
        "--irn-weights",
        type=Path,
        metavar="PATH",
        help="IRN++ weights (.safetensors), required with --backend irn",
    )


def _backend_options(args: argparse.Namespace) -> dict[str, object]:
    """Keyword options of the chosen backend's factory."""
    if args.backend == "irn":
        if args.irn_weights is None:
            raise ValueError("--backend irn needs --irn-weights PATH (converted IRN++ weights)")
        if not args.irn_weights.is_file():
            raise FileNotFoundError(f"IRN++ weights not found: {args.irn_weights}")
        return {"weights": args.irn_weights}
    if args.irn_weights is not None:
        raise ValueError("--irn-weights is only used with --backend irn")
    return {}


def write_modalities(out: Path, stem: str, decomposition: dict[str, np.ndarray]) -> None:
    """Write item 0 of a batch ``decomposition`` as ``out/{modality}/{stem}.png`` (+ .npy)."""
    from unrender.io import write_array, write_image
    from unrender.modalities import MODALITIES
    from unrender.modalities.files import NPY_MODALITIES, encode_png

    for modality in MODALITIES:
        png = out / modality / f"{stem}.png"
        write_image(png, encode_png(modality, decomposition, 0))
        if modality in NPY_MODALITIES:
            write_array(png.with_suffix(".npy"), decomposition[modality][0].astype(np.float32))


def run(args: argparse.Namespace) -> int:
    """Decompose each image on its own (sizes may differ) and write its modalities."""
    from unrender.io import read_image
    from unrender.modalities import MODALITIES, get_backend

    stems: dict[str, Path] = {}
    for path in args.images:
        if not path.is_file():
            raise FileNotFoundError(f"input image not found: {path}")
        if path.stem in stems:
            raise ValueError(
                f"{stems[path.stem]} and {path} share the name {path.stem!r}, so their outputs "
                "would overwrite each other; rename one or decompose them separately"
            )
        stems[path.stem] = path
    backend = get_backend(args.backend, **_backend_options(args))
    for stem, path in stems.items():
        image = read_image(path)  # its error names the file
        try:
            decomposition = backend.decompose(image[None])
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e
        write_modalities(args.out, stem, decomposition)
        print(f"{path} -> {args.out}/{{{','.join(MODALITIES)}}}/{stem}.png")
    return 0
