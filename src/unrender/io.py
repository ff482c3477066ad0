"""Atomic file writes, TSV tables and image/array I/O.

Every result file is written to a temporary sibling and renamed into place, so a killed
job never leaves a truncated output that a rerun would mistake for a finished one. Its
mode follows the umask, as a plain ``open`` would: colleagues on a shared cluster can read
results when the umask lets them.

A TSV here is UTF-8 text (a leading byte-order mark is allowed), one record per ``\n``
line (a trailing ``\r`` is dropped), fields split at tabs and taken literally: no quoting,
so a ``"`` is an ordinary character. Lines that are empty or only whitespace are skipped.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    # mkstemp makes the file 0600 whatever the umask; give it the mode open() would.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; rename it onto ``path`` on close."""
    with atomic_path(path) as tmp, open(tmp, mode, newline="" if "b" not in mode else None) as f:
        yield f


def _tsv_field(path: str | os.PathLike[str], column: str, value: Any) -> str:
    text = str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        raise ValueError(f"{path}: value of {column!r} holds a tab or line break: {text!r}")
    return text


def write_tsv(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], columns: Sequence[str]
) -> None:
    """Write ``rows`` as a tab-separated file with a header, atomically; no quoting.

    A missing value is written empty; a value holding a tab or line break is a ValueError.
    """
    columns = list(columns)
    with atomic_open(path) as f:
        f.write("\t".join(_tsv_field(path, "header", c) for c in columns) + "\n")
        for row in rows:
            fields = (_tsv_field(path, c, row.get(c, "")) for c in columns)
            f.write("\t".join(fields) + "\n")


def tsv_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of each non-blank line of a TSV, the header first.

    Raises ValueError naming the file and line for text that is not UTF-8.
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ValueError(
            f"{path}: line {line} is not UTF-8 (byte 0x{data[e.start]:02x}); save the file as UTF-8"
        ) from None
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, line.removesuffix("\r").split("\t")


def read_table(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (dicts, all values str) of a tab-separated file.

    Raises ValueError naming the file (and line) for an empty file, a column named twice in
    the header, or a line whose field count differs from the header's.
    """
    lines = tsv_lines(path)
    header = table_header(path, lines)
    return header, [dict(zip(header, f, strict=True)) for f in checked_fields(path, header, lines)]


def table_header(path: str | os.PathLike[str], lines: Iterator[tuple[int, list[str]]]) -> list[str]:
    """The header, the first of ``lines`` (:func:`tsv_lines`); ValueError naming the file for
    an empty file or a column named twice."""
    first = next(lines, None)
    if first is None:
        raise ValueError(f"{path}: empty file, expected a header line")
    header = first[1]
    named_twice = sorted({c for c in header if header.count(c) > 1})
    if named_twice:
        raise ValueError(f"{path}: column(s) {', '.join(named_twice)} named twice in the header")
    return header


def checked_fields(
    path: str | os.PathLike[str], header: list[str], lines: Iterator[tuple[int, list[str]]]
) -> Iterator[list[str]]:
    """The fields of each of ``lines`` (:func:`tsv_lines` after the header); ValueError
    naming the file and line for one whose field count differs from the header's."""
    for number, fields in lines:
        if len(fields) != len(header):
            raise ValueError(
                f"{path}: line {number} has {len(fields)} tab-separated fields, "
                f"the header has {len(header)}"
            )
        yield fields


def read_tsv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a tab-separated file with a header (see :func:`read_table`)."""
    return read_table(path)[1]


def write_image(path: str | os.PathLike[str], rgb: np.ndarray) -> None:
    """Write uint8 HxWx3 RGB (or HxW gray) as PNG, atomically."""
    if rgb.dtype != np.uint8:
        raise TypeError(f"write_image wants uint8, got {rgb.dtype}")
    bgr = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    ok, buf = cv2.imencode(Path(path).suffix or ".png", np.ascontiguousarray(bgr))
    if not ok:
        raise OSError(f"could not encode {path}")
    with atomic_open(path, "wb") as f:
        f.write(buf.tobytes())


def read_image(path: str | os.PathLike[str], gray: bool = False) -> np.ndarray:
    """Read an 8-bit image file as uint8 HxWx3 RGB, or HxW with ``gray`` (a gray PNG's own
    values; a colour file is converted to luminance); raise ValueError if it cannot be decoded.
    """
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot decode image {path}")
    return image if gray else np.ascontiguousarray(image[..., ::-1])


def write_array(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write a numpy array as .npy, atomically."""
    with atomic_open(path, "wb") as f:
        np.save(f, array)
