"""What every dataset adapter shares: manifest rows, root-relative paths, sample ids."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from unrender.manifest import COLUMNS, MAX_SAMPLE_ID

VIDEO_SUFFIXES: frozenset[str] = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
)
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
)
_NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9_.-]+")


def row(
    sample_id: str, path: str, label: int | str, group: str, split: str, kind: str, source: str
) -> dict[str, str]:
    """One manifest row (every value a string, columns as in :data:`unrender.manifest.COLUMNS`)."""
    values = (sample_id, path, str(label), group, split, kind, source)
    return dict(zip(COLUMNS, values, strict=True))


def safe_id(text: str) -> str:
    """``text`` as a sample id: runs of other characters become ``_``, first one alphanumeric.

    The result matches ``[A-Za-z0-9][A-Za-z0-9_.-]*``: ``"fake/a b.mp4"`` -> ``"fake_a_b.mp4"``.
    One longer than :data:`~unrender.manifest.MAX_SAMPLE_ID` characters (deeply nested
    folders) keeps its start and ends in ``-`` and 12 hex digits of the SHA-256 of ``text``,
    so it is the same on every run and differs for different texts.
    """
    cleaned = _NOT_ID_CHAR.sub("_", text).lstrip("_.-") or "x"
    if len(cleaned) <= MAX_SAMPLE_ID:
        return cleaned
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{cleaned[: MAX_SAMPLE_ID - len(digest) - 1]}-{digest}"


def kind_of(path: str) -> str:
    """``video`` or ``image`` from the file suffix; ValueError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    raise ValueError(
        f"{path}: unknown file type {suffix or '(none)'}; videos: "
        f"{' '.join(sorted(VIDEO_SUFFIXES))}; images: {' '.join(sorted(IMAGE_SUFFIXES))}"
    )


def root_relative(root: Path, path: str | Path, allow_outside_root: bool = False) -> str:
    """``path`` (absolute, or relative to ``root``) as the manifest writes it.

    Inside the root: a POSIX path relative to it. Outside (after resolving ``..`` and
    symbolic links): ValueError, or the absolute path when ``allow_outside_root``.
    """
    full = root / path
    resolved, resolved_root = full.resolve(), root.resolve()
    if resolved.is_relative_to(resolved_root):
        # Keep the name as listed (not a symlink's target) when it is plainly under the root.
        if full.is_relative_to(root) and ".." not in full.relative_to(root).parts:
            return full.relative_to(root).as_posix()
        return resolved.relative_to(resolved_root).as_posix()
    if allow_outside_root:
        return resolved.as_posix()
    raise ValueError(
        f"{path} is outside the dataset root {root} (set allow_outside_root to accept it)"
    )


def check_unique(rows: Iterable[dict[str, str]]) -> None:
    """ValueError naming both paths when two rows share a sample_id."""
    seen: dict[str, str] = {}
    for r in rows:
        first = seen.setdefault(r["sample_id"], r["path"])
        if first != r["path"]:
            raise ValueError(
                f"sample_id {r['sample_id']!r} is given to both {first} and {r['path']}; "
                "rename one of the files"
            )


def load_json(path: Path) -> object:
    """The JSON document at ``path``; a ValueError naming the file and line if malformed."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: line {e.lineno}: invalid JSON ({e.msg})") from e
