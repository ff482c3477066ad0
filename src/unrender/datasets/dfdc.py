"""The DeepFake Detection Challenge (DFDC) dataset as manifest rows.

Layout under the dataset root::

    dfdc_train_part_N/metadata.json   {"abc.mp4": {"label": "FAKE", "split": "train",
                                                   "original": "xyz.mp4"}, ...}
    dfdc_train_part_N/abc.mp4
    test/labels.csv                   filename,label   (label 1 or FAKE = fake, 0 or REAL = real)
    test/abc.mp4

**Groups.** A fake belongs to the group of its ``original``, followed to a video without one
(a real), so a real and every fake made from it share the group ``dfdc_<real stem>``. The
test videos come without originals: each is its own group.

**Splits.** The ``split`` of each metadata entry (``train``, ``val`` or ``test``; missing:
empty); every test-set video is ``test``. Videos named in the metadata are listed whether or
not they are on disk, so a missing one is refused, with its reason, when the workflow checks
the manifest rather than left out unseen.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from unrender.datasets.common import check_unique, load_json, root_relative, row, safe_id

LABELS: dict[str, int] = {"REAL": 0, "FAKE": 1, "0": 0, "1": 1}
SPLITS: frozenset[str] = frozenset({"train", "val", "test"})


def _entry(path: Path, name: object, meta: object) -> tuple[int, str, str | None]:
    """(label, split, original) of one metadata entry; ValueError naming file and key."""
    where = f"{path}: key {name!r}"
    if not isinstance(name, str) or not name.endswith(".mp4") or "/" in name:
        raise ValueError(f"{where}: want a file name like 'abc.mp4'")
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: want an object with label, split, original")
    label = meta.get("label")
    if label not in ("REAL", "FAKE"):
        raise ValueError(f"{where}: label {label!r} is not REAL or FAKE")
    split = meta.get("split") or ""
    if split and split not in SPLITS:
        raise ValueError(f"{where}: split {split!r} is not train, val or test")
    original = meta.get("original")
    if original is not None and (not isinstance(original, str) or not original.endswith(".mp4")):
        raise ValueError(f"{where}: original {original!r} is not null or a file name")
    return LABELS[label], split, original


def read_metadata(path: Path) -> dict[str, tuple[int, str, str | None]]:
    """File name -> (label, split, original) of one part's metadata.json."""
    entries = load_json(path)
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: want a JSON object keyed by file name")
    return {name: _entry(path, name, meta) for name, meta in entries.items()}


def read_test_labels(path: Path) -> list[tuple[str, int]]:
    """(file name, label) rows of the test set's labels.csv; ValueError naming the line."""
    with open(path, newline="", encoding="utf-8-sig") as f:  # Excel writes a BOM
        reader = csv.DictReader(f)
        if not {"filename", "label"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: line 1: want the header filename,label")
        out = []
        for r in reader:
            label = (r["label"] or "").strip().upper()
            name = (r["filename"] or "").strip()
            if label not in LABELS or not name or "/" in name or "\\" in name:
                raise ValueError(
                    f"{path}: line {reader.line_num}: want a file name and a label 0/1 or "
                    f"REAL/FAKE, got {r['filename']!r}, {r['label']!r}"
                )
            out.append((name, LABELS[label]))
    return out


def _group_of(originals: dict[str, str | None], name: str, where: str) -> str:
    """Follow ``original`` links from ``name`` to a video without one; its stem."""
    seen = [name]
    while (parent := originals.get(seen[-1])) is not None:
        if parent in seen:
            raise ValueError(f"{where}: originals form a loop: {' -> '.join([*seen, parent])}")
        seen.append(parent)
    return _sample_id(seen[-1])


def _sample_id(name: str) -> str:
    return "dfdc_" + safe_id(Path(name).stem)


def build(
    root: str | Path,
    parts: Sequence[str] | None = None,
    test_labels: str = "test/labels.csv",
) -> list[dict[str, str]]:
    """Manifest rows of DFDC: the training parts, then the test set.

    parts: folder names of the training parts (default every ``dfdc_train_part_*`` with a
    metadata.json). test_labels: the test set's labels.csv relative to the root (skipped
    when absent; ``""``: never).
    """
    root = Path(root)
    folders = (
        [root / p for p in parts]
        if parts is not None
        else sorted(p.parent for p in root.glob("dfdc_train_part_*/metadata.json"))
    )
    entries: list[tuple[Path, str, int, str, str | None]] = []  # folder, name, label, ...
    defined_in: dict[str, Path] = {}
    for folder in folders:
        metadata = folder / "metadata.json"
        if not metadata.is_file():
            raise ValueError(f"{metadata} does not exist: is {folder} a DFDC training part?")
        for name, (label, split, original) in sorted(read_metadata(metadata).items()):
            if name in defined_in:
                raise ValueError(f"{metadata}: key {name!r} is also in {defined_in[name]}")
            defined_in[name] = metadata
            entries.append((folder, name, label, split, original))
    originals = {name: original for _, name, _, _, original in entries}

    rows = [
        row(
            _sample_id(name),
            root_relative(root, folder / name),
            label,
            _group_of(originals, name, str(defined_in[name])),
            split,
            "video",
            f"dfdc/{folder.name}",
        )
        for folder, name, label, split, _ in entries
    ]
    labels_path = root / test_labels if test_labels else None
    if labels_path is not None and labels_path.is_file():
        rows += [
            row(
                _sample_id(name),
                root_relative(root, labels_path.parent / name),
                label,
                _sample_id(name),
                "test",
                "video",
                "dfdc/test",
            )
            for name, label in read_test_labels(labels_path)
        ]
    if not rows:
        raise ValueError(f"no dfdc_train_part_*/metadata.json nor {test_labels} under {root}")
    check_unique(rows)
    return rows
