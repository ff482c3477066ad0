"""The ``unrender`` command line: one subcommand per module in :mod:`unrender.commands`.

Each command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; it is imported only when its subcommand runs, so ``unrender --help``
stays fast and light.

Whatever a command raises is printed as one line, ``unrender COMMAND: error: ...``, with exit
status 2; ``--debug`` (or ``UNRENDER_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
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


#: Exceptions whose message is written for the person who ran the command.
_EXPECTED: tuple[type[BaseException], ...] = (OSError, ValueError, ImportError, LookupError)


def _debug_option() -> argparse.ArgumentParser:
    """``--debug``, accepted before or after the subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error (also UNRENDER_DEBUG=1)",
    )
    return parent


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    from unrender import __version__

    debug = _debug_option()
    parser = argparse.ArgumentParser(
        prog="unrender", description=__doc__.splitlines()[0], parents=[debug]
    )
    parser.add_argument("--version", action="version", version=f"unrender {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # The subcommand is the first word naming one (only --debug may come before it).
    chosen = next((word for word in argv if word in COMMANDS), None)
    for name in COMMANDS:
        p = sub.add_parser(name, help=_HELP[name], description=_HELP[name], parents=[debug])
        # Only the chosen subcommand's module is imported (torch and friends are slow).
        if name == chosen:
            module = importlib.import_module(f"unrender.commands.{COMMANDS[name]}")
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def describe(error: BaseException) -> str:
    """One line saying what went wrong: the message, the file for an OSError, and for an
    exception nobody expected its type and a hint to report it."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename is not None else ""
        text = f"{where}{error.strerror}"
    else:
        text = str(error) or type(error).__name__
    if not isinstance(error, _EXPECTED):
        text = f"{type(error).__name__}: {text} (rerun with --debug and report the traceback)"
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("UNRENDER_DEBUG", "") not in ("", "0")
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"unrender {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if debug:
            raise
        print(f"unrender {args.command}: error: {describe(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
