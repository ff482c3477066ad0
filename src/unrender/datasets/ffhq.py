"""FFHQ (Flickr-Faces-HQ) reals as manifest rows: the first ``count`` images by numeric id.

Layout, as NVlabs/ffhq-dataset's ``download_ffhq.py`` writes it::

    images1024x1024/00000/00000.png ... images1024x1024/69000/69999.png   1024x1024 PNG
    thumbnails128x128/00000/00000.png ...                                128x128 PNG

``root`` may be the folder that holds ``images1024x1024/`` (preferred when both exist: the
StyleGAN2-ADA fakes are 1024x1024 too) or ``thumbnails128x128/``, or one of those folders
itself. Images are files named by a number (``00000.png``; .png or .jpg/.jpeg) directly in
the image folder or in its immediate subfolders; other files are ignored. Rows are sorted
by that number, so ``count=5000`` takes ids 0..4999 of a complete download.

Every row is kind ``image``, label 0, source ``ffhq``; ``sample_id`` and ``group`` are
``ffhq-{id}`` with the id as the file names it (``ffhq-00000``): one identity per image.

The adapter only lists files: it does not open them, so corrupt or truncated images are
NOT detected here. The frames stage refuses them later, into ``rejected.tsv``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from unrender.datasets.common import root_relative, row

FFHQ_URL = "https://github.com/NVlabs/ffhq-dataset"
#: Image folders of the FFHQ download, in order of preference.
IMAGE_FOLDERS: tuple[str, ...] = ("images1024x1024", "thumbnails128x128")
SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg"})
MISSING_POLICIES: tuple[str, ...] = ("error", "warn")
_ID = re.compile(r"\d+")


def _download_hint(root: Path) -> str:
    return (
        f"Download FFHQ from {FFHQ_URL} (python download_ffhq.py --images for "
        "images1024x1024/, or --thumbs for thumbnails128x128/) and set ffhq.root to the folder "
        f"that holds images1024x1024/ (or to that folder itself); ffhq.root is now {root}."
    )


def image_folder(root: str | Path) -> Path:
    """The folder of FFHQ images under ``root``; FileNotFoundError saying what to download."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"FFHQ folder not found: {root}. {_download_hint(root)}")
    for name in IMAGE_FOLDERS:
        if (root / name).is_dir():
            return root / name
    return root


def list_images(folder: str | Path) -> list[tuple[int, Path]]:
    """(id, path) of every numerically named image in ``folder`` and its subfolders, by id.

    Raises ValueError naming both files when two share an id (``00007.png`` in two places).
    """
    found: dict[int, Path] = {}
    for path in [*Path(folder).glob("*"), *Path(folder).glob("*/*")]:
        if path.suffix.lower() not in SUFFIXES or not _ID.fullmatch(path.stem):
            continue
        image_id = int(path.stem)
        if image_id in found:
            raise ValueError(
                f"FFHQ id {image_id} is there twice: {found[image_id]} and {path}; remove one"
            )
        found[image_id] = path
    return sorted(found.items())


def build(
    root: str | Path,
    count: int = 5000,
    missing: str = "error",
    dataset_root: str | Path | None = None,
    allow_outside_root: bool = False,
) -> list[dict[str, str]]:
    """Manifest rows of the first ``count`` FFHQ images by id (see the module docstring).

    dataset_root: the folder manifest paths are relative to (default: the image folder);
    files outside it are refused unless ``allow_outside_root`` (then written absolute).
    missing: what fewer than ``count`` images do: ``error`` (ValueError) or ``warn``
    (UserWarning, and rows for the images there are).
    """
    if count < 1:
        raise ValueError(f"ffhq.count must be >= 1, got {count}")
    if missing not in MISSING_POLICIES:
        raise ValueError(f"ffhq.missing {missing!r} is not one of {', '.join(MISSING_POLICIES)}")
    folder = image_folder(root)
    images = list_images(folder)
    if not images:
        raise FileNotFoundError(
            f"no FFHQ images (00000.png, ...) in {folder}. {_download_hint(Path(root))}"
        )
    if len(images) < count:
        message = (
            f"{folder} holds {len(images)} FFHQ images, fewer than ffhq.count = {count}; "
            "download the rest, lower ffhq.count, or set ffhq.missing: warn to go on with these"
        )
        if missing == "error":
            raise ValueError(message)
        warnings.warn(message, stacklevel=2)
    base = Path(dataset_root if dataset_root is not None else folder).absolute()
    return [
        row(
            f"ffhq-{path.stem}",
            root_relative(base, path.absolute(), allow_outside_root),
            0,
            f"ffhq-{path.stem}",
            "",
            "image",
            "ffhq",
        )
        for _, path in images[:count]
    ]
