"""Dataset adapters: a dataset as it lies on disk -> rows of the one manifest format.

Each adapter module exposes ``build(root, **options) -> list[dict[str, str]]``: rows with the
columns of :data:`unrender.manifest.COLUMNS`, paths relative to ``root``, sample ids unique,
every original in the same ``group`` as the fakes made from it. Adapters list and parse
files; they never decode a video. Malformed metadata raises ValueError naming the file and
the line or key.

| kind | module | options |
|---|---|---|
| ffpp | :mod:`.ffpp` | compression, methods, originals, splits_dir |
| dfdc | :mod:`.dfdc` | parts, test_labels |
| celebdf | :mod:`.celebdf` | test_list |
| folder | :mod:`.folder` | labels, source, allow_outside_root |
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Sequence
from pathlib import Path

from unrender.io import write_tsv
from unrender.manifest import COLUMNS

DATASETS: tuple[str, ...] = ("ffpp", "dfdc", "celebdf", "folder")


def options_of(kind: str) -> list[str]:
    """The keyword options the adapter ``kind`` takes (besides ``root``)."""
    if kind not in DATASETS:
        raise ValueError(f"unknown dataset {kind!r}; choose one of {', '.join(DATASETS)}")
    build = importlib.import_module(f"unrender.datasets.{kind}").build
    return [name for name in inspect.signature(build).parameters if name != "root"]


def build_manifest(
    kind: str, root: str | os.PathLike[str], **options: object
) -> list[dict[str, str]]:
    """Manifest rows of the dataset ``kind`` under ``root`` (see the table above).

    Options that are ``None`` take the adapter's default; one the adapter does not take is a
    ValueError naming those it does.
    """
    known = options_of(kind)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(
            f"dataset {kind} takes no option {', '.join(unknown)} (it takes {', '.join(known)})"
        )
    given = {k: v for k, v in options.items() if v is not None}
    build = importlib.import_module(f"unrender.datasets.{kind}").build
    # Absolute (not resolved: links stay as listed), so that the files an adapter finds
    # under the root are absolute and root_relative can tell them from root-relative names.
    return build(Path(root).absolute(), **given)


def write_manifest(path: str | os.PathLike[str], rows: Sequence[dict[str, str]]) -> None:
    """Write manifest rows as a TSV with the manifest header, atomically."""
    write_tsv(path, rows, COLUMNS)
