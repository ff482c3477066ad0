"""`unrender extract --face` and the face-cropping frame stage on an ordinary face clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.real_faces import photo_clip, write_video
from unrender import manifest
from unrender.cli import main
from unrender.io import read_image, read_tsv
from unrender.pipeline import FrameOptions, extract_shard, summarise_data, take_frames


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 640x480, 25 fps H.264 clip of the astronaut's face moving across the frame."""
    frames, _ = photo_clip(25, face_px=(70.0, 110.0))
    return write_video(tmp_path_factory.mktemp("clip") / "face.mp4", frames)


def test_cli_face_crop_writes_square_face_frames(face_clip: Path, tmp_path: Path, capsys) -> None:
    assert main(["extract", str(face_clip), "--out", str(tmp_path), "--face", "--size", "64"]) == 0
    assert "face crop: detected" in capsys.readouterr().out
    crops = [read_image(tmp_path / f"{k}.png") for k in range(5)]
    assert all(c.shape == (64, 64, 3) for c in crops)


def test_face_crop_differs_from_centre_crop_and_tracks_the_face(face_clip: Path) -> None:
    face = take_frames(face_clip, "video", FrameOptions.from_config({"size": 64, "face": True}))
    centre = take_frames(face_clip, "video", FrameOptions.from_config({"size": 64}))
    assert face.face == "detected" and centre.face == "off"
    assert face.indices == centre.indices == [2, 7, 12, 17, 22]

    # The face moves across the frame, so the centre crop sees mostly background: the face
    # crops are closer to each other than the centre crops are.
    def spread(x: np.ndarray) -> float:
        return float(np.abs(x.astype(float) - x.astype(float).mean(0)).mean())

    assert spread(face.frames) < spread(centre.frames)


def test_clips_without_a_face_are_counted_in_the_data_summary(
    face_clip: Path, tmp_path: Path
) -> None:
    blank = write_video(tmp_path / "blank.mp4", np.full((10, 48, 64, 3), 110, np.uint8))
    samples = [
        manifest.Sample(name, str(path), 0, name, "", "video", "test")
        for name, path in (("face", face_clip), ("blank", blank))
    ]
    manifest.write_samples(tmp_path / "shard.tsv", samples)
    paths = {name: tmp_path / f"{name}.tsv" for name in ("accepted", "index", "rejected")}
    assert extract_shard(
        tmp_path / "shard.tsv",
        tmp_path,
        FrameOptions.from_config({"per_video": 2, "size": 32, "face": True}),
        tmp_path / "frames",
        paths["accepted"],
        paths["index"],
        paths["rejected"],
    ) == (2, 0)
    faces = {(r["sample_id"], r["face"]) for r in read_tsv(paths["index"])}
    assert faces == {("face", "detected"), ("blank", "fallback-center")}

    summarise_data(
        [paths["rejected"]],
        [paths["accepted"]],
        [paths["index"]],
        tmp_path / "rejected_all.tsv",
        tmp_path / "summary.tsv",
    )
    (total,) = read_tsv(tmp_path / "summary.tsv")
    assert total == {
        "stage": "total",
        "accepted": "2",
        "rejected": "0",
        "face_fallback": "1",
        "frames_repeated_damaged": "0",
    }
