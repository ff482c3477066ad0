"""``unrender decompose IMAGE... --out DIR``: the five modalities of single images; with
``--shard``, of every frame of one shard of a run (what the workflow's ``decompose`` job runs).

Writes ``DIR/{modality}/{stem}.png`` for albedo, normal, shading, shadow and lighting (the
encodings of :func:`unrender.modalities.files.encode_png`), plus ``DIR/{modality}/{stem}.npy``
(float32) for normal (H, W, 3) and lighting (9, 3).

Images are read as the frame extraction reads them (:func:`unrender.video.load_still`: the
size in the header is checked against ``--max-pixels`` before decoding, alpha is composited
onto black, 16-bit is scaled to 8). All or nothing: the outputs are written to a hidden
folder beside ``DIR`` and moved into place only when every image was decomposed.

``--shard SHARD_TSV --frames DIR`` decomposes the frames ``DIR/{sample_id}/{k}.png`` of the
shard's samples, batched across samples (:func:`unrender.pipeline.decompose_shard`), into
``OUT/{modality}/{shard}/{sample_id}/{k}.png``; ``{shard}`` is the TSV's stem. Progress goes
to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from unrender.commands import output_folder
from unrender.config import backend_options, schema, section
from unrender.rejected import RejectedInput
from unrender.video import DEFAULT_MAX_PIXELS, load_still

HELP = "estimate the 5 intrinsic modalities of images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``decompose`` options to ``parser``."""
    parser.add_argument("images", nargs="*", type=Path, metavar="IMAGE", help="image files")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--shard",
        type=Path,
        metavar="TSV",
        help="instead of images, every frame of a run's shard: its shards/{shard}.tsv (with "
        "--frames; writes DIR/{modality}/{shard}/{sample_id}/{k}.png)",
    )
    parser.add_argument(
        "--frames", type=Path, metavar="DIR", help="with --shard: the shard's frame folder"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="with --shard: frames per backend call (config modalities.batch_size; default "
        "the backend's own)",
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="with --shard: CPU threads of a backend on torch"
    )
    parser.add_argument(
        "--backend", choices=("classical", "irn"), default="classical", help="modality backend"
    )
    parser.add_argument(
        "--irn-weights",
        type=Path,
        metavar="PATH",
        help="IRN++ weights (.safetensors), required with --backend irn",
    )
    irn = schema()["properties"]["irn"]["properties"]
    parser.add_argument(
        "--irn-mode",
        choices=irn["mode"]["enum"],
        help="with --backend irn: the upstream checkpoint the weights come from (config "
        f"irn.mode; default {irn['mode']['default']})",
    )
    parser.add_argument(
        "--irn-device",
        metavar="DEVICE",
        help=f"with --backend irn: {irn['device']['description'].split(': ', 1)[1]} "
        f"(config irn.device; default {irn['device']['default']})",
    )
    parser.add_argument(
        "--irn-precision",
        choices=irn["precision"]["enum"],
        help=f"with --backend irn: the network's compute dtype (config irn.precision; default "
        f"{irn['precision']['default']}; the half precisions are for GPUs)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        help=f"refuse an image larger than this many pixels (default {DEFAULT_MAX_PIXELS}); "
        "not with --shard, whose frames are already at the run's frames.size",
    )


#: The ``--irn-*`` options and the ``irn`` config keys they set.
IRN_OPTIONS: tuple[str, ...] = ("weights", "mode", "device", "precision")


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword options of the chosen backend's factory, as the workflow gives them
    (:func:`unrender.config.backend_options`): for ``irn``, the ``irn`` config section the
    ``--irn-*`` options give and ``--batch-size`` (validated, the schema's defaults filled in)."""
    given = {k: getattr(args, f"irn_{k}") for k in IRN_OPTIONS if getattr(args, f"irn_{k}")}
    modalities = section("modalities", {"backend": args.backend, "batch_size": args.batch_size})
    if args.backend != "irn":
        if given:
            options = ", ".join(f"--irn-{k}" for k in given)
            raise ValueError(f"{options}: only with --backend irn")
        return backend_options({"modalities": modalities})
    if "weights" not in given:
        raise ValueError("--backend irn needs --irn-weights PATH (converted IRN++ weights)")
    if not args.irn_weights.is_file():
        raise FileNotFoundError(f"IRN++ weights not found: {args.irn_weights}")
    irn = section("irn", {**given, "weights": str(args.irn_weights)})
    return backend_options({"modalities": modalities, "irn": irn})


def _check_inputs(args: argparse.Namespace) -> None:
    """Images, or a shard with its frames: ValueError naming what is missing or extra."""
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads {args.threads}: must be at least 1")
    if args.shard is None:
        if not args.images:
            raise ValueError("give the images to decompose, or --shard TSV --frames DIR")
        for flag in ("frames", "batch_size", "threads"):
            if getattr(args, flag) is not None:
                raise ValueError(f"--{flag.replace('_', '-')}: only with --shard")
        return
    if args.images:
        raise ValueError("give images or --shard, not both")
    if args.max_pixels is not None:
        raise ValueError("--max-pixels: only with images (a shard's frames are at frames.size)")
    if args.frames is None:
        raise ValueError("--shard needs --frames DIR (the shard's frame folder)")
    for path in (args.shard, args.frames):
        if not path.exists():
            raise FileNotFoundError(f"not found: {path}")


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


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A hidden folder beside ``out`` to write into; on success its files are moved into
    ``out`` (same file system: each move is a rename), on failure it is removed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield staging
        for file in sorted(p for p in staging.rglob("*") if p.is_file()):
            target = out / file.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _decompose_shard(args: argparse.Namespace) -> int:
    """Decompose every frame of the shard ``args.shard`` into ``args.out``."""
    from unrender import logs
    from unrender.pipeline import decompose_shard

    logs.to_stream(sys.stderr)
    shard = args.shard.stem
    n = decompose_shard(
        args.shard,
        args.frames,
        args.out,
        shard,
        args.backend,
        _backend_options(args),
        args.batch_size,
        args.threads,
    )
    print(f"{args.shard}: decomposed {n} frames with backend {args.backend} -> {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Decompose each image on its own (sizes may differ) and write its modalities, or every
    frame of a shard with ``--shard``."""
    from unrender.modalities import MODALITIES, get_backend

    _check_inputs(args)
    output_folder(args.out)
    if args.shard is not None:
        return _decompose_shard(args)
    stems: dict[str, Path] = {}
    for path in args.images:
        if not path.exists():
            raise FileNotFoundError(f"input image not found: {path}")
        if not path.is_file():
            # Never opened: reading a FIFO would wait for a writer for ever.
            raise ValueError(f"input image is not a regular file: {path}")
        if path.stem in stems:
            raise ValueError(
                f"{stems[path.stem]} and {path} share the name {path.stem!r}, so their outputs "
                "would overwrite each other; rename one or decompose them separately"
            )
        stems[path.stem] = path
    backend = get_backend(args.backend, **_backend_options(args))
    max_pixels = DEFAULT_MAX_PIXELS if args.max_pixels is None else args.max_pixels
    with staged(args.out) as staging:
        for stem, path in stems.items():
            try:
                image = load_still(path, max_pixels=max_pixels).frames
                decomposition = backend.decompose(image)
            except (RejectedInput, ValueError) as e:
                raise ValueError(f"{path}: {e}; nothing was written") from None
            write_modalities(staging, stem, decomposition)
    for stem, path in stems.items():
        print(f"{path} -> {args.out}/{{{','.join(MODALITIES)}}}/{stem}.png")
    return 0
