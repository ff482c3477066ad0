"""``unrender manifest --dataset KIND --root DIR --out manifest.tsv``: a dataset as a manifest.

Lists the dataset's files and metadata (no video is decoded) and writes the one manifest
format, paths relative to ``--root``. Point the workflow at it with ``dataset.kind:
manifest``, ``dataset.manifest: OUT`` and ``dataset.root: DIR``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

HELP = "write the manifest of a FaceForensics++, DFDC, Celeb-DF or labelled folder dataset"

#: option of an adapter -> (flag, argparse keywords); every one defaults to the adapter's.
_OPTIONS: dict[str, tuple[str, dict[str, object]]] = {
    "compression": ("--compression", {"help": "ffpp: raw, c23 or c40 (default c23)"}),
    "methods": ("--methods", {"nargs": "+", "help": "ffpp: manipulation folders (default all)"}),
    "originals": ("--originals", {"nargs": "+", "help": "ffpp: youtube and/or actors"}),
    "splits_dir": ("--splits-dir", {"help": "ffpp: folder of train/val/test.json"}),
    "parts": ("--parts", {"nargs": "+", "help": "dfdc: training part folders (default all)"}),
    "test_labels": ("--test-labels", {"help": "dfdc: test labels.csv ('' for none)"}),
    "test_list": ("--test-list", {"help": "celebdf: test list file ('' for none)"}),
    "labels": ("--labels", {"help": "folder: the labels CSV (default labels.csv)"}),
    "source": ("--source", {"help": "folder: the source column's text (default folder)"}),
    "allow_outside_root": (
        "--allow-outside-root",
        {"action": "store_const", "const": True, "help": "folder: accept paths outside --root"},
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``manifest`` options to ``parser``."""
    from unrender.datasets import DATASETS

    parser.add_argument("--dataset", required=True, choices=DATASETS, help="dataset layout")
    parser.add_argument("--root", required=True, type=Path, metavar="DIR", help="dataset root")
    parser.add_argument("--out", required=True, type=Path, metavar="TSV", help="manifest to write")
    for dest, (flag, keywords) in _OPTIONS.items():
        parser.add_argument(flag, dest=dest, default=None, **keywords)  # type: ignore[arg-type]


def summary(rows: list[dict[str, str]]) -> str:
    """One line: row count, real/fake, groups and split counts."""
    labels = Counter(r["label"] for r in rows)
    splits = Counter(r["split"] or "empty" for r in rows)
    groups = len({r["group"] for r in rows})
    split_text = ", ".join(f"{name} {n}" for name, n in sorted(splits.items()))
    return (
        f"{len(rows)} rows ({labels['0']} real, {labels['1']} fake) in {groups} groups; "
        f"split: {split_text}"
    )


def run(args: argparse.Namespace) -> int:
    """Build, check and write the manifest; refusals to come are printed, not dropped."""
    from unrender import manifest
    from unrender.commands import output_file
    from unrender.datasets import build_manifest, options_of, write_manifest

    if not args.root.is_dir():
        raise FileNotFoundError(f"--root {args.root} is not a folder")
    output_file(args.out)
    taken = options_of(args.dataset)
    options = {k: getattr(args, k) for k in _OPTIONS if getattr(args, k) is not None}
    stray = [_OPTIONS[k][0] for k in options if k not in taken]
    if stray:
        raise ValueError(f"{', '.join(stray)} does not apply to --dataset {args.dataset}")
    rows = build_manifest(args.dataset, args.root, **options)
    write_manifest(args.out, rows)
    print(f"wrote {args.out}: {summary(rows)}")
    _, refusals = manifest.validate(rows, args.root, bool(options.get("allow_outside_root")))
    if refusals:
        print(f"{len(refusals)} rows will be refused by the workflow, e.g.:", file=sys.stderr)
        for r in refusals[:5]:
            print(f"  {r.sample_id}: {r.reason}", file=sys.stderr)
    return 0
