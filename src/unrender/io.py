"""Atomic file writes and image/array I/O.

Every result file is written to a temporary sibling and renamed into place, so a killed
job never leaves a truncated output that a rerun would mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
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


def write_tsv(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], columns: Sequence[str]
) -> None:
    """Write ``rows`` as a tab-separated file with a header, atomically."""
    with atomic_open(path) as f:
        w = csv.DictWriter(f, fieldnames=list(columns), delimiter="\t", lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({c: row.get(c, "") for c in columns})


def read_tsv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read a tab-separated file with a header into a list of dicts (all values str)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


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


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an 8-bit image file as uint8 HxWx3 RGB; raise ValueError if it cannot be decoded."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot decode image {path}")
    return np.ascontiguousarray(bgr[..., ::-1])


def write_array(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write a numpy array as .npy, atomically."""
    with atomic_open(path, "wb") as f:
        np.save(f, array)
