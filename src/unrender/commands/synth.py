"""``unrender synth``: write the embedded synthetic dataset and print its manifest path."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from unrender.synth import SynthConfig, write_dataset

HELP = "write the embedded synthetic dataset (videos, images, ground truth, manifest)"

#: SynthConfig fields settable by a flag of their own (splits only via --config).
_FLAG_FIELDS = [f for f in fields(SynthConfig) if f.name not in ("seed", "splits")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    parser.add_argument("--seed", type=int, help="random seed (overrides the config's)")
    parser.add_argument(
        "--config",
        type=Path,
        help="YAML config; its `synth:` mapping sets the options (and its `seed`, and "
        "`frames: per_video`, are used unless given here)",
    )
    parser.add_argument("--workers", type=int, help="parallel processes (default up to 2)")
    for f in _FLAG_FIELDS:
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(f.default),
            help=f"{f.metadata['help']} (default {f.default})",
        )


def _options_from_file(path: Path) -> dict[str, Any]:
    """The synth options a config file sets: its ``synth:`` mapping, seed and frames per video."""
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top level")
    section = data.get("synth") or {}
    if not isinstance(section, dict):
        raise ValueError(f"{path}: `synth:` must be a mapping of options")
    options: dict[str, Any] = {}
    if "seed" in data:
        options["seed"] = data["seed"]
    frames = data.get("frames")
    if isinstance(frames, dict) and "per_video" in frames:
        # Ground truth is stored at the frames the pipeline extracts.
        options["frames_per_video"] = frames["per_video"]
    return {**options, **section}


def run(args: argparse.Namespace) -> int:
    options = _options_from_file(args.config) if args.config else {}
    if args.seed is not None:
        options["seed"] = args.seed
    for f in _FLAG_FIELDS:
        value = getattr(args, f.name)
        if value is not None:
            options[f.name] = value
    try:
        cfg = SynthConfig.from_mapping(options)
    except ValueError as e:
        raise ValueError(f"{args.config}: {e}" if args.config else str(e)) from None
    print(write_dataset(cfg, args.out, workers=args.workers))
    return 0
