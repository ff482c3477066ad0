"""Face detection and crops on skimage's real photos: a moving astronaut clip, close-ups."""

from __future__ import annotations

import numpy as np
import pytest

from tests.real_faces import close_up, is_hit, photo_clip
from unrender import faces
from unrender.faces import Box, Square
from unrender.rejected import RejectedInput


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, np.ndarray]:
    """5 frames, face 60 -> 120 px, roll -20 -> +20 degrees, moving around the canvas."""
    return photo_clip(5, face_px=(60.0, 120.0), roll_deg=(-20.0, 20.0))


@pytest.mark.parametrize("detector", faces.DETECTORS)
def test_detectors_find_the_moving_face(detector: str, clip) -> None:
    frames, reference = clip
    if detector == "haar":
        # Haar cascades are upright-only: give them the clip without roll.
        frames, reference = photo_clip(5, face_px=(60.0, 120.0))
    boxes = faces.detect_faces(frames, detector)
    assert len(boxes) == 5
    assert all(is_hit(b, r) for b, r in zip(boxes, reference, strict=True)), boxes


def test_blazeface_finds_nothing_without_a_face() -> None:
    rng = np.random.default_rng(0)
    empty = np.stack([np.full((480, 640, 3), 110, np.uint8), rng.integers(0, 256, (480, 640, 3))])
    assert faces.detect_faces(empty.astype(np.uint8)) == [None, None]


def test_largest_face_wins() -> None:
    half = (480, 320)
    small, _ = photo_clip(1, face_px=(50.0, 50.0), canvas=half)
    large, reference = photo_clip(1, face_px=(110.0, 110.0), canvas=half)
    # Two astronauts side by side: the small one on the left, the large one on the right.
    both = np.concatenate([small, large], axis=2)
    assert len(faces.get_detector("blazeface").detect(both[0])) == 2
    (box,) = faces.detect_faces(both)
    assert is_hit(box, reference[0] + (320, 0, 320, 0))


def test_weighted_nms_averages_overlaps_and_keeps_separate_faces() -> None:
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.3, 0.8], np.float32)
    merged = faces.weighted_nms(boxes, scores, min_iou=0.3)
    assert len(merged) == 2
    assert merged[0].x0 == pytest.approx(0.5) and merged[0].x1 == pytest.approx(10.5)
    assert merged[0].score == pytest.approx(0.9)
    assert (merged[1].x0, merged[1].score) == (50.0, pytest.approx(0.8))


def test_track_squares_share_size_fill_gaps_and_drop_a_stray_box() -> None:
    def box(cx: float, cy: float, w: float) -> Box:
        return Box(cx - w / 2, cy - w / 2, cx + w / 2, cy + w / 2)

    # Frame 2 is a stray small box far away; frame 3 has no face.
    boxes = [box(100, 100, 40), box(110, 100, 44), box(400, 300, 10), None, box(140, 90, 50)]
    squares = faces.track_squares(boxes, margin=1.5)
    assert squares is not None
    # Sizes 40, 44, 10, 50: median 42, so 10 is stray; the side is 1.5 x median(40, 44, 50).
    assert {s.side for s in squares} == {1.5 * 44}
    # Frames 2 and 3 take the centre of the nearest kept frame (1 and 4).
    centres = [(s.cx, s.cy) for s in squares]
    assert centres == [(100, 100), (110, 100), (110, 100), (140, 90), (140, 90)]
    assert faces.track_squares([None, None]) is None


def test_crop_square_pads_outside_the_frame() -> None:
    frame = np.zeros((20, 30, 3), np.uint8)
    frame[:, :, 0] = np.arange(30, dtype=np.uint8)[None, :]
    inside = faces.crop_square(frame, Square(15, 10, 10), 10)
    assert inside.shape == (10, 10, 3)
    np.testing.assert_array_equal(inside[0, :, 0], np.arange(10, 20))
    corner = faces.crop_square(frame + 1, Square(0, 0, 10), 10)
    assert (corner[:5, :, :] == 0).all() and (corner[:, :5, :] == 0).all()
    assert (corner[5:, 5:, 1] == 1).all()
    big = faces.crop_square(frame, Square(15, 10, 40), 8)
    assert big.shape == (8, 8, 3) and big.dtype == np.uint8


def test_face_crops_centre_the_face_at_the_margin() -> None:
    frames, reference = photo_clip(5, face_px=(80.0, 100.0), roll_deg=(-20.0, 20.0))
    crop = faces.face_crops(
        frames, faces.FaceOptions.from_config({"face_margin": 1.5, "size": 192})
    )
    assert crop.frames.shape == (5, 192, 192, 3) and crop.frames.dtype == np.uint8
    assert not crop.fallback
    # One side for the clip: 1.5 x the median face (the faces grow 80 -> 100 px).
    (side,) = {s.side for s in crop.squares}
    assert side == pytest.approx(1.5 * 90, rel=0.15)
    # Detect again in the crops: the face is centred, at the scale the square gives it.
    again = faces.detect_faces(crop.frames)
    for box, ref, square in zip(again, reference, crop.squares, strict=True):
        assert box is not None
        assert abs(box.centre[0] - 96) < 192 * 0.1 and abs(box.centre[1] - 96) < 192 * 0.1
        expected = (ref[2] - ref[0]) * 192 / square.side
        assert 0.7 * expected < box.width < 1.3 * expected


def test_no_face_policy_fallback_centre_or_reject() -> None:
    frames = np.zeros((3, 40, 60, 3), np.uint8)
    frames[:, :, 10:50] = 200  # the centred 40x40 square is bright, the sides black
    crop = faces.crop_faces(frames, [None] * 3, size=16)
    assert crop.fallback
    assert crop.squares == [Square(30.0, 20.0, 40.0)] * 3
    assert (crop.frames == 200).all()
    with pytest.raises(RejectedInput, match="no face found in any of the 3 frames"):
        faces.crop_faces(frames, [None] * 3, no_face="reject")
    with pytest.raises(ValueError, match="no_face must be one of"):
        faces.crop_faces(frames, [None] * 3, no_face="skip")  # type: ignore[arg-type]


def test_bad_input_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match=r"uint8 \(k, H, W, 3\)"):
        faces.detect_faces(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="2 boxes for 1 frames"):
        faces.crop_faces(np.zeros((1, 8, 8, 3), np.uint8), [None, None])
    with pytest.raises(ValueError, match="unknown face detector 'yolo'"):
        faces.get_detector("yolo")  # type: ignore[arg-type]


# Close-ups where the face fills most of the picture: BlazeFace's full-range model alone
# finds nothing in any of them; the padded retry finds each face at its place.
CLOSE_UPS = [("astronaut", 0.9), ("astronaut", 1.0), ("astronaut", 1.2), ("camera", 0.8)]


@pytest.mark.parametrize(("name", "fill"), CLOSE_UPS)
def test_faces_that_fill_the_frame_are_found_on_a_padded_retry(name: str, fill: float) -> None:
    crop, reference = close_up(name, fill)
    assert faces.get_detector("blazeface").detect(crop) == []  # one pass misses it
    (box,) = faces.detect_faces(crop[None])
    assert is_hit(box, reference), (box, reference)
    # The crop the workflow takes is then the face's, not the centre fallback.
    assert not faces.face_crops(crop[None], faces.FaceOptions.from_config({"size": 64})).fallback


def test_pad_frame_borders_with_the_mean_colour() -> None:
    frame = np.zeros((10, 20, 3), np.uint8)
    frame[:, :10] = 200
    padded, dx, dy = faces.pad_frame(frame, 0.5)
    assert (dx, dy) == (10, 5) and padded.shape == (20, 40, 3)
    np.testing.assert_array_equal(padded[dy : dy + 10, dx : dx + 20], frame)
    assert (padded[:dy] == 100).all() and (padded[:, :dx] == 100).all()
