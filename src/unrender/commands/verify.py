"""``unrender verify results/{run}``: check a run folder against its provenance.json.

Recomputes the SHA-256 of every result file and prints each difference (modified, missing,
extra file) on stderr. Exits 0 when the run is exactly as it was written, 1 otherwise.
Either way it then lists the container images the record names and which of them the rules
ran in (with that image file's SHA-256), and the CPU and BLAS kernels the record was written
with: a rerun on another CPU kind can differ in the low bits, and so in every result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unrender.provenance import PROVENANCE_FILE, container_lines, numerics_line, read, verify

HELP = "check a run folder against its provenance.json (file hashes, config)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help=f"run folder holding {PROVENANCE_FILE}"
    )


def run(args: argparse.Namespace) -> int:
    differences = verify(args.run_dir)
    record = read(args.run_dir)
    images = [f"  container {line}" for line in container_lines(record)]
    images.append(f"  {numerics_line(record)}")
    if differences:
        print(
            f"unrender verify: {args.run_dir} differs from its {PROVENANCE_FILE} "
            f"in {len(differences)} place(s):",
            file=sys.stderr,
        )
        for line in differences:
            print(f"  {line}", file=sys.stderr)
        for line in images:
            print(line, file=sys.stderr)
        return 1
    n_files = len(record["files"])
    print(f"unrender verify: {args.run_dir}: OK, {n_files} files match {PROVENANCE_FILE}")
    for line in images:
        print(line)
    return 0
