"""``unrender extract INPUT --out DIR``: write N evenly spaced frames of a video as PNGs.

Writes ``DIR/{k}.png`` for k = 0..N-1 (an image gives ``DIR/0.png`` only) and prints the
frame indices used. A refused input exits with status 2 and the reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unrender.io import write_image
from unrender.pipeline import FrameOptions, take_frames
from unrender.rejected import RejectedInput
from unrender.video import DEFAULT_MAX_PIXELS, guess_kind

HELP = "extract N evenly spaced frames of a video or image"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="VIDEO", help="video (or image) file")
    parser.add_argument("--out", type=Path, required=True, help="folder for {k}.png")
    parser.add_argument("--frames", type=int, default=5, help="frames per video (default 5)")
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help="crop a square (centre, or the face with --face) and resize it to N x N pixels",
    )
    parser.add_argument(
        "--face",
        action="store_true",
        help="crop around the face (BlazeFace, offline; margin 1.3; --size default 256)",
    )
    parser.add_argument(
        "--no-face",
        choices=("fallback-center", "reject"),
        default="fallback-center",
        help="with --face, a clip where no face is found: centre crop, or refuse it",
    )
    parser.add_argument(
        "--short-policy",
        choices=("repeat", "reject"),
        default="repeat",
        help="video with fewer frames than --frames: repeat frames evenly, or refuse it",
    )
    parser.add_argument(
        "--kind",
        choices=("auto", "video", "image"),
        default="auto",
        help="treat the input as a video or an image (default: by the file's first bytes)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse a picture larger than this many pixels (default {DEFAULT_MAX_PIXELS})",
    )


def run(args: argparse.Namespace) -> int:
    if args.frames < 1:
        raise ValueError(f"--frames must be >= 1, got {args.frames}")
    if args.size is not None and args.size < 1:
        raise ValueError(f"--size must be >= 1, got {args.size}")
    kind = guess_kind(args.input) if args.kind == "auto" else args.kind
    options = FrameOptions(
        per_video=args.frames,
        size=args.size or (256 if args.face else None),
        short_video=args.short_policy,
        max_image_pixels=args.max_pixels,
        face=args.face,
        no_face=args.no_face,
    )
    try:
        extracted = take_frames(args.input, kind, options)
    except RejectedInput as e:
        print(f"unrender extract: rejected {args.input}: {e}", file=sys.stderr)
        return 2
    for slot, frame in enumerate(extracted.frames):
        write_image(args.out / f"{slot}.png", frame)
    used = " ".join(map(str, extracted.indices))
    print(f"{args.input}: {kind}, {extracted.n_frames} frames; frame indices used: {used}")
    if extracted.indices != extracted.requested:
        requested = " ".join(map(str, extracted.requested))
        print(f"  (requested {requested}; undecodable frames replaced by their nearest)")
    if args.face:
        print(f"  face crop: {extracted.face}")
    print(f"wrote {len(extracted.frames)} PNGs to {args.out}")
    return 0
