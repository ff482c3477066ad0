"""``unrender extract INPUT --out DIR``: write N evenly spaced frames of a video as PNGs.

Writes ``DIR/{k}.png`` for k = 0..N-1 (an image gives ``DIR/0.png`` only) and prints the
frame indices used. A refused input exits with status 2 and the reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from unrender.commands import output_folder
from unrender.config import section
from unrender.io import write_image
from unrender.pipeline import FrameOptions, take_frames
from unrender.rejected import RejectedInput
from unrender.video import guess_kind

HELP = "extract N evenly spaced frames of a video or image"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # The workflow's frames defaults (the schema), so a CLI extract matches a run's frames.
    frames = section("frames")
    parser.add_argument("input", type=Path, metavar="VIDEO", help="video (or image) file")
    parser.add_argument("--out", type=Path, required=True, help="folder for {k}.png")
    parser.add_argument(
        "--frames",
        type=int,
        default=frames["per_video"],
        help=f"frames per video (default {frames['per_video']}, frames.per_video)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=frames["size"],
        help="crop a square (centre, or the face with --face) and resize it to N x N pixels "
        f"(default {frames['size']}, frames.size)",
    )
    parser.add_argument(
        "--no-resize",
        action="store_true",
        help="write the frames at source resolution, uncropped (ignores --size; not with --face)",
    )
    parser.add_argument(
        "--face",
        action="store_true",
        help=f"crop around the face ({frames['face_detector']}, offline; margin "
        f"{frames['face_margin']})",
    )
    parser.add_argument(
        "--no-face",
        choices=("fallback-center", "reject"),
        default=frames["no_face"],
        help="with --face, a clip where no face is found: centre crop, or refuse it",
    )
    parser.add_argument(
        "--short-policy",
        choices=("repeat", "reject"),
        default=frames["short_video"],
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
        default=frames["max_image_pixels"],
        help="refuse a picture larger than this many pixels "
        f"(default {frames['max_image_pixels']}, frames.max_image_pixels)",
    )


def run(args: argparse.Namespace) -> int:
    output_folder(args.out)
    if args.no_resize and args.face:
        raise ValueError("--no-resize keeps whole frames; a --face crop is always resized")
    # Checked as a config's frames section is: the same ranges, messages naming the key.
    options = FrameOptions.from_config(
        {
            "per_video": args.frames,
            "size": args.size,
            "short_video": args.short_policy,
            "max_image_pixels": args.max_pixels,
            "face": args.face,
            "no_face": args.no_face,
        }
    )
    if args.no_resize:
        options = dataclasses.replace(options, size=None)
    kind = guess_kind(args.input) if args.kind == "auto" else args.kind
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
