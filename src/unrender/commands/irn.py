"""InverseRenderNet++ tools: ``unrender irn convert --tf-checkpoint PREFIX --out FILE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "InverseRenderNet++ tools (convert a TF1 checkpoint)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``irn`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="irn_command", metavar="TOOL", required=True)
    convert = sub.add_parser(
        "convert",
        help="convert an upstream TF1 checkpoint to safetensors (needs TensorFlow)",
        description="Convert an upstream IRN++ TF1 checkpoint (model_ckpt, iiw_model_ckpt or "
        "diode_model_ckpt from the upstream README's Google Drive link) into the "
        "safetensors weights that the irn backend loads.",
    )
    convert.add_argument(
        "--tf-checkpoint",
        required=True,
        metavar="PREFIX",
        help="checkpoint prefix (model_ckpt/model.ckpt) or the folder holding its state file",
    )
    convert.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="output .safetensors file"
    )


def run(args: argparse.Namespace) -> int:
    """Run the chosen ``irn`` tool; return the exit status."""
    from unrender.irn.convert import convert

    try:
        n = convert(args.tf_checkpoint, args.out)
    except ModuleNotFoundError as e:
        print(f"unrender irn convert: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({n} variables from {args.tf_checkpoint})")
    return 0
