"""The ``unrender`` command line: one subcommand per module in :mod:`unrender.commands`.

Each command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; it is imported only when its subcommand runs, so ``unrender --help``
stays fast and light.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> module under unrender.commands
COMMANDS: dict[str, str] = {
    "synth": "synth",
    "extract": "extract",
    "decompose": "decompose",
    "irn": "irn",
    "predict": "predict",
    "generate": "generate",
    "manifest": "manifest",
    "verify": "verify",
}

_HELP: dict[str, str] = {
    "synth": "write the embedded synthetic dataset (videos, images, ground truth, manifest)",
    "extract": "extract N evenly spaced frames of a video or image",
    "decompose": "estimate the 5 intrinsic modalities of images",
    "irn": "InverseRenderNet++ tools (convert a TF1 checkpoint)",
    "predict": "score a video or image with a trained run",
    "generate": "generate StyleGAN2-ADA images from seeds (resumable, CPU or GPU)",
    "manifest": "write the manifest of a dataset folder (FaceForensics++, DFDC, Celeb-DF, ...)",
    "verify": "check a run folder against its provenance.json",
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    from unrender import __version__

    parser = argparse.ArgumentParser(prog="unrender", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"unrender {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        p = sub.add_parser(name, help=_HELP[name], description=_HELP[name])
        # Only the chosen subcommand's module is imported (torch and friends are slow).
        if argv and argv[0] == name:
            module = importlib.import_module(f"unrender.commands.{COMMANDS[name]}")
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (FileNotFoundError, ValueError, ImportError) as e:
        print(f"unrender {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
