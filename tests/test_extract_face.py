"""`unrender extract --face` and the face-cropping frame stage on an ordinary face clip."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from unrender.cli import main
from unrender.io import read_image
from unrender.pipeline import FrameOptions, take_frames

_BENCH = Path(__file__).resolve().parents[1] / "bench" / "face_detectors.py"
_spec = importlib.util.spec_from_file_location("face_detectors_bench", _BENCH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 640x480, 25 fps H.264 clip of the astronaut's face moving across the frame."""
    frames, _ = bench.astronaut_clip(25, face_px=(70.0, 110.0))
    path = tmp_path_factory.mktemp("clip") / "face.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.time_base = Fraction(1, 25)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def test_cli_face_crop_writes_square_face_frames(face_clip: Path, tmp_path: Path, capsys) -> None:
    assert main(["extract", str(face_clip), "--out", str(tmp_path), "--face", "--size", "64"]) == 0
    assert "face crop: detected" in capsys.readouterr().out
    crops = [read_image(tmp_path / f"{k}.png") for k in range(5)]
    assert all(c.shape == (64, 64, 3) for c in crops)


def test_face_crop_differs_from_centre_crop_and_tracks_the_face(face_clip: Path) -> None:
    face = take_frames(face_clip, "video", FrameOptions(size=64, face=True))
    centre = take_frames(face_clip, "video", FrameOptions(size=64))
    assert face.face == "detected" and centre.face == "off"
    assert face.indices == centre.indices == [2, 7, 12, 17, 22]

    # The face moves across the frame, so the centre crop sees mostly background: the face
    # crops are closer to each other than the centre crops are.
    def spread(x: np.ndarray) -> float:
        return float(np.abs(x.astype(float) - x.astype(float).mean(0)).mean())

    assert spread(face.frames) < spread(centre.frames)
