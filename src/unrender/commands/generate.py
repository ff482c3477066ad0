"""``unrender generate --network PKL --seeds SPEC --outdir DIR``: StyleGAN2-ADA images.

The equivalent of upstream ``python generate.py --network=PKL --seeds=SPEC --outdir=DIR``
(``DIR/seed%04d.png``, uint8 RGB at the network's resolution), but batched, resumable
(valid images already in DIR are kept) and on CPU or GPU. Loading NVIDIA's official pickle
needs NVIDIA's code, which exists only in the ``containers/stylegan2-ada`` image.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "generate StyleGAN2-ADA images from seeds (resumable, CPU or GPU)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``generate`` options to ``parser``."""
    parser.add_argument(
        "--network", required=True, type=Path, metavar="PKL", help="official network pickle"
    )
    parser.add_argument(
        "--seeds",
        required=True,
        metavar="SPEC",
        help="seeds and inclusive ranges, e.g. 5000-10000 or 0-9,42",
    )
    parser.add_argument("--outdir", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--trunc", type=float, default=1.0, metavar="PSI", help="truncation psi (default 1.0)"
    )
    parser.add_argument(
        "--class-idx", type=int, metavar="N", help="class index, for conditional networks only"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        metavar="B",
        help="seeds per forward pass (default 1: pixel-identical to upstream; more is faster "
        "but moves some values by 1-2 levels)",
    )
    parser.add_argument(
        "--device", default="auto", help="auto (cuda if available), cpu, cuda or cuda:N"
    )
    parser.add_argument(
        "--network-sha256",
        metavar="HEX",
        help="refuse a pickle with another SHA-256, before opening it (a pickle runs code)",
    )


def run(args: argparse.Namespace) -> int:
    """Generate the missing images of the seeds and print what was done."""
    from unrender.generate.seeds import parse_seeds
    from unrender.generate.stylegan import generate_from_pickle

    seeds = parse_seeds(args.seeds)
    generated, skipped = generate_from_pickle(
        args.network,
        seeds,
        args.outdir,
        truncation_psi=args.trunc,
        class_idx=args.class_idx,
        batch_size=args.batch,
        device=args.device,
        network_sha256=args.network_sha256,
    )
    print(f"{args.outdir}: {generated} images generated, {skipped} already there")
    return 0
