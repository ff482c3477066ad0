"""Any folder of videos and images with a ``labels.csv`` as manifest rows.

``labels.csv`` (comma-separated, with a header) has the columns ``path,label`` and
optionally ``group`` and ``split``:

- ``path``: the file, relative to the dataset root (absolute or ``..`` paths that leave the
  root are refused unless ``allow_outside_root``); videos and images by their suffix.
- ``label``: ``0``/``real`` or ``1``/``fake`` (any case); any other value is written to the
  manifest as it is, and the workflow refuses that row (``rejected.tsv``).
- ``group``: the source identity or original video (default: the sample itself).
- ``split``: ``train``, ``val``, ``test`` or empty.

The sample id is the path without its suffix, ``/`` and other characters outside
``[A-Za-z0-9_.-]`` turned into ``_`` (``fake/a b.mp4`` -> ``fake_a_b``); two paths that give
the same id are an error naming both lines.
"""

from __future__ import annotations

import csv
from pathlib import Path

from unrender.datasets.common import kind_of, root_relative, row, safe_id

COLUMNS: tuple[str, ...] = ("path", "label", "group", "split")
LABELS: dict[str, int] = {"0": 0, "real": 0, "1": 1, "fake": 1}
SPLITS: frozenset[str] = frozenset({"train", "val", "test", ""})


def build(
    root: str | Path,
    labels: str = "labels.csv",
    source: str = "folder",
    allow_outside_root: bool = False,
) -> list[dict[str, str]]:
    """Manifest rows of the files listed in ``root/labels`` (a CSV), in file order.

    ValueError naming the file and line for a bad header, split, path or duplicate.
    """
    root = Path(root)
    labels_path = root / labels
    if not labels_path.is_file():
        raise ValueError(f"{labels_path} does not exist; write it with the header path,label")
    rows: list[dict[str, str]] = []
    line_of: dict[str, int] = {}
    with open(labels_path, newline="", encoding="utf-8-sig") as f:  # Excel writes a BOM
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in COLUMNS]
        if "path" not in header or "label" not in header or unknown:
            raise ValueError(
                f"{labels_path}: line 1: header {','.join(header)!r}: want path,label "
                "and optionally group, split"
            )
        for r in reader:
            where = f"{labels_path}: line {reader.line_num}"
            path, label = (r["path"] or "").strip(), (r["label"] or "").strip().lower()
            group, split = (r.get("group") or "").strip(), (r.get("split") or "").strip()
            if not path:
                raise ValueError(f"{where}: empty path")
            if split not in SPLITS:
                raise ValueError(f"{where}: split {split!r} is not train, val, test or empty")
            try:
                rel = root_relative(root, path, allow_outside_root)
                kind = kind_of(path)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from e
            sample_id = safe_id(str(Path(path).with_suffix("")))
            if sample_id in line_of:
                raise ValueError(
                    f"{where}: {path} gives the sample id {sample_id!r} of line "
                    f"{line_of[sample_id]}; rename one of the files"
                )
            line_of[sample_id] = reader.line_num
            # Another label goes into the manifest as written: the workflow's check of the
            # manifest refuses the row, with its reason, in rejected.tsv, and the run goes on.
            value = LABELS.get(label, (r["label"] or "").strip())
            rows.append(row(sample_id, rel, value, group or sample_id, split, kind, source))
    if not rows:
        raise ValueError(f"{labels_path}: no rows after the header")
    return rows
