"""FFHQ adapter: the first ``count`` images by numeric id, rows, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from unrender import manifest
from unrender.datasets import ffhq


def _touch(path: Path, data: bytes | None = None) -> Path:
    """The adapter never opens images, so any bytes do; by default the path's, so no two
    placeholders are one file to the manifest's duplicate check."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(str(path).encode() if data is None else data)
    return path


@pytest.fixture
def download(tmp_path: Path) -> Path:
    """An FFHQ download folder: ids 0..2 and 998, 999 in 00000/, 1000..1001 in 01000/, 3 on top."""
    images = tmp_path / "ffhq" / "images1024x1024"
    for image_id in (999, 2, 0, 998, 1):
        _touch(images / "00000" / f"{image_id:05d}.png")
    for image_id in (1001, 1000):
        _touch(images / "01000" / f"{image_id:05d}.png")
    _touch(images / "00003.png")
    _touch(images / "00000" / "preview.png")  # not a numeric id: ignored
    _touch(images / "LICENSE.txt")
    _touch(tmp_path / "ffhq" / "thumbnails128x128" / "00000" / "00000.png")
    return tmp_path / "ffhq"


def test_first_count_by_numeric_id_across_subfolders(download: Path) -> None:
    rows = ffhq.build(download, count=6)
    assert [r["sample_id"] for r in rows] == [
        "ffhq-00000",
        "ffhq-00001",
        "ffhq-00002",
        "ffhq-00003",
        "ffhq-00998",
        "ffhq-00999",
    ]
    assert rows[3]["path"] == "00003.png"  # relative to the image folder by default
    assert rows[0] == {
        "sample_id": "ffhq-00000",
        "path": "00000/00000.png",
        "label": "0",
        "group": "ffhq-00000",
        "split": "",
        "kind": "image",
        "source": "ffhq",
    }


def test_rows_pass_manifest_validation(download: Path, tmp_path: Path) -> None:
    rows = ffhq.build(download, count=8, dataset_root=tmp_path)
    assert rows[-1]["path"] == "ffhq/images1024x1024/01000/01001.png"
    samples, refusals = manifest.validate(rows, tmp_path)
    assert refusals == [] and len(samples) == 8


def test_images_are_preferred_over_thumbnails_and_either_folder_works(download: Path) -> None:
    assert ffhq.image_folder(download) == download / "images1024x1024"
    thumbs = ffhq.build(download / "thumbnails128x128", count=1)
    assert thumbs[0]["path"] == "00000/00000.png"
    assert len(ffhq.build(download / "images1024x1024", count=8)) == 8


def test_too_few_images_error_or_warn(download: Path) -> None:
    with pytest.raises(ValueError, match="8 FFHQ images, fewer than ffhq.count = 5000"):
        ffhq.build(download)
    with pytest.warns(UserWarning, match="fewer than ffhq.count = 20"):
        rows = ffhq.build(download, count=20, missing="warn")
    assert len(rows) == 8
    with pytest.raises(ValueError, match="ffhq.missing"):
        ffhq.build(download, count=20, missing="ignore")


def test_missing_folder_says_what_to_download(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        ffhq.build(tmp_path / "nope")
    message = str(e.value)
    assert "NVlabs/ffhq-dataset" in message and "images1024x1024" in message
    assert str(tmp_path / "nope") in message


def test_folder_without_images_says_what_to_download(tmp_path: Path) -> None:
    _touch(tmp_path / "empty" / "README.txt")
    with pytest.raises(FileNotFoundError, match="no FFHQ images.*NVlabs/ffhq-dataset"):
        ffhq.build(tmp_path / "empty")


def test_corrupt_images_are_listed_not_detected(download: Path) -> None:
    # Documented: only the frames stage opens images (and rejects corrupt ones).
    _touch(download / "images1024x1024" / "00000" / "00002.png", b"\x89PNG truncated")
    rows = ffhq.build(download, count=3)
    assert [r["sample_id"] for r in rows] == ["ffhq-00000", "ffhq-00001", "ffhq-00002"]


def test_duplicate_ids_are_refused(download: Path) -> None:
    _touch(download / "images1024x1024" / "01000" / "00002.png")
    with pytest.raises(ValueError, match="FFHQ id 2 is there twice"):
        ffhq.build(download, count=3)


def test_folder_outside_the_dataset_root(download: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    root.mkdir()
    with pytest.raises(ValueError, match="outside the dataset root"):
        ffhq.build(download, count=1, dataset_root=root)
    rows = ffhq.build(download, count=1, dataset_root=root, allow_outside_root=True)
    assert rows[0]["path"] == (download / "images1024x1024" / "00000" / "00000.png").as_posix()


def test_bad_count_is_refused(download: Path) -> None:
    with pytest.raises(ValueError, match="ffhq.count"):
        ffhq.build(download, count=0)
