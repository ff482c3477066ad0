"""The one manifest format every dataset is turned into, its validation and its shards.

A manifest is a TSV with the header ``sample_id, path, label, group, split, kind, source``:

- ``sample_id``: unique, ``[A-Za-z0-9][A-Za-z0-9_.-]*``, at most :data:`MAX_SAMPLE_ID`
  characters (it becomes a folder name).
- ``path``: the video or image, relative to the dataset root (absolute paths and paths that
  leave the root are refused unless ``allow_outside_root``).
- ``label``: ``0`` real, ``1`` fake.
- ``group``: the source identity or original video; everything derived from one source
  shares a group, so splits can keep it on one side.
- ``split``: ``train``, ``val``, ``test`` or empty (then a seeded group split decides).
- ``kind``: ``video`` or ``image``.
- ``source``: free text (dataset, manipulation method, ...).

The file is read by :func:`unrender.io.read_table`: UTF-8 (a byte-order mark is fine),
tabs only, no quoting, blank lines skipped. Columns beyond these are ignored with a warning.
One file may appear under one row only: a later row with the same file (same resolved path,
a hard link to it, or the same size and first and last :data:`FINGERPRINT_BLOCK` bytes) is
refused, since the two rows could fall into different splits. Only files of a size that
another row's file shares are read for this.

Shards are consecutive blocks of rows in manifest order (:func:`shard_size_for` rows each),
so the number of shards is known from the row count alone, before any row is validated.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from unrender.io import checked_fields, read_table, read_tsv, table_header, tsv_lines, write_tsv
from unrender.rejected import Rejection

COLUMNS: tuple[str, ...] = ("sample_id", "path", "label", "group", "split", "kind", "source")
SPLITS: frozenset[str] = frozenset({"train", "val", "test", ""})
KINDS: frozenset[str] = frozenset({"video", "image"})
_SAMPLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
STAGE = "manifest"
#: Longest sample_id: it names a folder and, with a suffix, files (255 bytes on most systems).
MAX_SAMPLE_ID = 128
#: Bytes read from each end of a file for its content fingerprint.
FINGERPRINT_BLOCK = 65536

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One validated manifest row; ``path`` is as written, ``resolved`` is absolute."""

    sample_id: str
    path: str
    label: int
    group: str
    split: str
    kind: str
    source: str


def _check_columns(path: str | os.PathLike[str], header: list[str], has_rows: bool) -> None:
    """ValueError naming the file for a manifest header lacking a column, or no rows."""
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: manifest lacks column(s) {', '.join(missing)}; need {COLUMNS}")
    if not has_rows:
        raise ValueError(f"{path}: the manifest has no rows (only a header)")


def read(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read a manifest TSV; ValueError naming the file if it is malformed or has no rows.

    Columns that are not in :data:`COLUMNS` are dropped with a logged warning.
    """
    header, rows = read_table(path)
    _check_columns(path, header, bool(rows))
    _warn_extra_columns(path, header)
    return [{c: r[c] for c in COLUMNS} for r in rows]


def _warn_extra_columns(path: str | os.PathLike[str], header: Sequence[str]) -> None:
    """Log the columns that are not in :data:`COLUMNS`: kept in the file, never read."""
    extra = [c for c in header if c not in COLUMNS]
    if extra:
        log.warning("%s: ignoring column(s) %s (not manifest columns)", path, ", ".join(extra))


def count_rows(path: str | os.PathLike[str]) -> int:
    """Number of data rows of a manifest (as :func:`read` reads it), for the DAG.

    Refuses what :func:`read` refuses, and, naming the file, a group whose rows name two
    splits: that is a fault of the whole manifest, so it stops the run before any job rather
    than at the split job. The Snakefile calls it at parse time on manifests of 100k rows, so
    it keeps only the group and split fields of each line (no row dicts).
    """
    lines = tsv_lines(path)
    header = table_header(path, lines)
    _check_columns(path, header, True)
    group, split = header.index("group"), header.index("split")
    pairs = [(f[group], f[split]) for f in checked_fields(path, header, lines)]
    _check_columns(path, header, bool(pairs))
    _warn_extra_columns(path, header)
    try:
        check_group_splits(pairs)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return len(pairs)


def check_group_splits(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``group -> split`` for the groups whose rows name a split; ValueError if one names two.

    pairs: ``(group, split)`` of every row, split ``""`` where the row leaves it to the run.
    A group in two splits would put a source and its fakes on both sides of the boundary.
    """
    named: dict[str, set[str]] = {}
    for group, split in pairs:
        if split:
            named.setdefault(group, set()).add(split)
    clashes = {g: sorted(sp) for g, sp in named.items() if len(sp) > 1}
    if clashes:
        shown = ", ".join(f"{g}: {sp}" for g, sp in sorted(clashes.items())[:5])
        raise ValueError(
            f"{len(clashes)} group(s) have rows in more than one split ({shown}); give every "
            "row of a group the same split in the manifest, or leave them all empty"
        )
    return {g: next(iter(sp)) for g, sp in named.items()}


def shard_size_for(n_rows: int, shard_size: int, max_shards: int) -> int:
    """Rows per shard: ``shard_size``, or more where that would make over ``max_shards`` shards.

    Snakemake plans every job of the graph on every call (a dry run, a resumed run, a
    ``--summary``), at a few milliseconds per job, so capping the shards caps the plan: past
    ``shard_size * max_shards`` rows the shards grow instead of multiplying. Which row is in
    which shard changes no result (the split, the pack order and the training order follow
    the manifest).
    """
    if shard_size < 1 or max_shards < 1:
        raise ValueError(f"shard_size {shard_size} and max_shards {max_shards} must be >= 1")
    return max(shard_size, -(-n_rows // max_shards))


def shard_ids(n_rows: int, shard_size: int) -> list[str]:
    """Shard names ``s0000, s0001, ...`` covering ``n_rows`` rows in blocks of ``shard_size``."""
    return [f"s{i:04d}" for i in range(-(-n_rows // shard_size))]


def resolve(root: str | os.PathLike[str], path: str) -> Path:
    """Absolute path of a manifest ``path`` relative to the dataset ``root``."""
    return (Path(root) / path).resolve()


def _problem(
    row: dict[str, str], root: Path, allow_outside_root: bool, duplicates: set[str]
) -> str | None:
    sid = row["sample_id"]
    if not _SAMPLE_ID.fullmatch(sid):
        return f"sample_id {sid!r} is not [A-Za-z0-9][A-Za-z0-9_.-]*"
    if len(sid) > MAX_SAMPLE_ID:
        return f"sample_id is {len(sid)} characters long, over {MAX_SAMPLE_ID} (it names a folder)"
    if sid in duplicates:
        return f"duplicate sample_id {sid!r} (every row with it is refused)"
    if row["label"] not in ("0", "1"):
        return f"label {row['label']!r} is not 0 (real) or 1 (fake)"
    if row["kind"] not in KINDS:
        return f"kind {row['kind']!r} is not video or image"
    if row["split"] not in SPLITS:
        return f"split {row['split']!r} is not train, val, test or empty"
    if not row["path"]:
        return "empty path"
    full = resolve(root, row["path"])
    if not allow_outside_root and not full.is_relative_to(root.resolve()):
        return f"path {row['path']!r} escapes the dataset root {root}"
    if not full.exists():
        return f"path does not exist: {full}"
    if not full.is_file():
        return f"path is not a file: {full}"
    return None


def fingerprint(path: Path) -> tuple[int, str]:
    """Size in bytes and SHA-256 of the first and last :data:`FINGERPRINT_BLOCK` bytes:
    equal for identical files, cheap for large ones."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(FINGERPRINT_BLOCK))
        if size > FINGERPRINT_BLOCK:
            f.seek(max(size - FINGERPRINT_BLOCK, FINGERPRINT_BLOCK))
            digest.update(f.read())
    return size, digest.hexdigest()


def _same_file_reasons(candidates: Sequence[tuple[str, Path]]) -> list[str | None]:
    """Per ``(sample_id, resolved path)``, why it is refused as a file an earlier one took
    (same path, same inode, or same :func:`fingerprint`), or None.

    Only files whose size another candidate shares are read, so a manifest of distinct
    files costs one ``stat`` per row.
    """
    stats: list[os.stat_result | OSError] = []
    for _, full in candidates:
        try:
            stats.append(full.stat())
        except OSError as e:
            stats.append(e)
    sizes = Counter(st.st_size for st in stats if not isinstance(st, OSError))
    owner: dict[object, str] = {}
    reasons: list[str | None] = []
    for (sample_id, full), st in zip(candidates, stats, strict=True):
        if isinstance(st, OSError):
            reasons.append(f"cannot read file: {st.strerror or st}")
            continue
        keys: list[tuple[str, object]] = [
            ("the same file", ("path", str(full))),
            ("a hard link to the file", ("inode", st.st_dev, st.st_ino)),
        ]
        try:
            # Empty files hold no video to leak: each is refused for what it is when read.
            if st.st_size > 0 and sizes[st.st_size] > 1:
                keys.append(("a file identical to the file", ("content", fingerprint(full))))
        except OSError as e:
            reasons.append(f"cannot read file: {e.strerror or e}")
            continue
        taken = next(((what, owner[key]) for what, key in keys if key in owner), None)
        if taken is None:
            owner.update((key, sample_id) for _, key in keys)
            reasons.append(None)
        else:
            reasons.append(
                f"{taken[0]} of sample_id {taken[1]!r}: one file under two rows "
                "could land in two splits"
            )
    return reasons


def validate(
    rows: Sequence[dict[str, str]], root: str | os.PathLike[str], allow_outside_root: bool = False
) -> tuple[list[Sample | None], list[Rejection]]:
    """Check every row; return one entry per row (``None`` where refused) and the refusals.

    The positional list keeps shard boundaries stable whatever is refused. Of the rows that
    name one file, the first valid one is kept and the later ones are refused.
    """
    root = Path(root)
    counts = Counter(r["sample_id"] for r in rows)
    duplicates = {sid for sid, n in counts.items() if n > 1}
    reasons = [_problem(row, root, allow_outside_root, duplicates) for row in rows]
    valid = [i for i, reason in enumerate(reasons) if reason is None]
    candidates = [(rows[i]["sample_id"], resolve(root, rows[i]["path"])) for i in valid]
    for i, reason in zip(valid, _same_file_reasons(candidates), strict=True):
        reasons[i] = reason
    samples: list[Sample | None] = []
    rejections: list[Rejection] = []
    for row, reason in zip(rows, reasons, strict=True):
        if reason is None:
            samples.append(
                Sample(**{c: row[c] for c in COLUMNS if c != "label"}, label=int(row["label"]))
            )
        else:
            samples.append(None)
            rejections.append(Rejection(row["sample_id"], row["path"], STAGE, reason))
    return samples, rejections


def write_samples(path: str | os.PathLike[str], samples: Sequence[Sample]) -> None:
    """Write samples as a manifest TSV, atomically."""
    write_tsv(path, [asdict(s) for s in samples], COLUMNS)


def read_samples(path: str | os.PathLike[str]) -> list[Sample]:
    """Read a manifest TSV that :func:`write_samples` wrote (already validated)."""
    return [
        Sample(**{c: r[c] for c in COLUMNS if c != "label"}, label=int(r["label"]))
        for r in read_tsv(path)
    ]
