"""Frame extraction: which frames come back, at what decoding cost, and every bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from bad_inputs import counter_frame, make_bad_corpus, read_counter, write_clip, write_huge_png

from unrender.cli import main
from unrender.io import read_image
from unrender.rejected import RejectedInput
from unrender.video import (
    DecodeRun,
    even_frame_indices,
    extract,
    extract_frames,
    frames_at,
    guess_kind,
    image_header_size,
    load_still,
    lower_bound_frames,
    plan_decode,
    probe_video,
)


def counters(frames: np.ndarray) -> list[int]:
    return [read_counter(frame) for frame in frames]


# --- index formula and planner ------------------------------------------------------------


def test_even_frame_indices_are_segment_centres() -> None:
    assert even_frame_indices(300, 5) == [30, 90, 150, 210, 270]
    assert even_frame_indices(5, 5) == [0, 1, 2, 3, 4]
    assert even_frame_indices(10, 1) == [5]
    with pytest.raises(ValueError):
        even_frame_indices(3, 5)


def test_even_frame_indices_repeat_spreads_short_videos() -> None:
    assert even_frame_indices(3, 5, repeat=True) == [0, 0, 1, 2, 2]
    assert even_frame_indices(1, 5, repeat=True) == [0] * 5
    assert even_frame_indices(300, 5, repeat=True) == even_frame_indices(300, 5)


def test_plan_groups_targets_by_keyframe() -> None:
    keyframes = [0, 60, 120, 180, 240]
    assert plan_decode([30, 90, 150, 210, 270], keyframes) == [
        DecodeRun(0, (30,)),
        DecodeRun(60, (90,)),
        DecodeRun(120, (150,)),
        DecodeRun(180, (210,)),
        DecodeRun(240, (270,)),
    ]
    # Targets sharing a GOP are one run; duplicates (repeat policy) decode once.
    assert plan_decode([5, 5, 20, 70], [0, 60]) == [DecodeRun(0, (5, 20)), DecodeRun(60, (70,))]


def test_plan_decodes_through_when_a_seek_costs_more() -> None:
    # Gap between target 9 and keyframe 12 is 2 frames (10, 11): decode through at cost 2.
    assert plan_decode([9, 13], [0, 12], seek_cost_frames=2) == [DecodeRun(0, (9, 13))]
    assert plan_decode([9, 13], [0, 12], seek_cost_frames=1) == [
        DecodeRun(0, (9,)),
        DecodeRun(12, (13,)),
    ]
    # One long GOP: everything in a single run from the start.
    assert plan_decode([30, 90, 270], [0]) == [DecodeRun(0, (30, 90, 270))]


def test_lower_bound_counts_shared_prefixes_once() -> None:
    assert lower_bound_frames([30, 90, 150, 210, 270], [0, 250]) == 211 + 21
    assert lower_bound_frames([10, 11], [0, 11]) == 11 + 1
    assert lower_bound_frames([60, 120], [0, 60, 120]) == 2


# --- videos: the right frames, cheaply ----------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "bframes"), [(".mp4", 0), (".mp4", 3), (".mkv", 3), (".mov", 2), (".ts", 2)]
)
def test_extract_returns_the_even_frames_at_lower_bound_cost(
    tmp_path: Path, suffix: str, bframes: int
) -> None:
    clip = tmp_path / f"clip{suffix}"
    write_clip(clip, 90, gop=15, bframes=bframes)
    got = extract_frames(clip, 5)
    expected = even_frame_indices(90, 5)
    assert got.frames.shape == (5, 48, 64, 3) and got.frames.dtype == np.uint8
    assert got.requested == got.indices == expected
    assert counters(got.frames) == expected
    assert got.n_frames == 90
    index = probe_video(clip)
    assert index.keyframes == list(range(0, 90, 15))
    # Every seek landed on the planned keyframe: exactly the lower bound, far below 90.
    assert got.frames_decoded == lower_bound_frames(expected, index.keyframes) < 90


@pytest.mark.parametrize("suffix", [".avi", ".h264"])
def test_streams_without_true_pts_are_decoded_from_the_start(tmp_path: Path, suffix: str) -> None:
    clip = tmp_path / f"clip{suffix}"  # AVI's pts are guessed; raw H.264 has none
    write_clip(clip, 60, gop=10, bframes=2)
    assert not probe_video(clip).seekable
    got = extract_frames(clip, 5)
    assert got.indices == even_frame_indices(60, 5) == counters(got.frames)
    assert got.frames_decoded == got.indices[-1] + 1


def test_frames_at_any_indices(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    write_clip(clip, 50, gop=10, bframes=2)
    got = frames_at(clip, [33, 2, 33, 49])
    assert got.requested == got.indices == [33, 2, 33, 49] == counters(got.frames)
    assert got.frames_decoded == 3 + 4 + 10  # keyframes 0, 30 and 40
    with pytest.raises(ValueError, match="0..49"):
        frames_at(clip, [50])


def test_one_long_gop_is_decoded_once_up_to_the_last_target(tmp_path: Path) -> None:
    clip = tmp_path / "long_gop.mp4"
    write_clip(clip, 60)  # x264 default keyint 250: one keyframe
    got = extract_frames(clip, 4)
    assert counters(got.frames) == got.indices == even_frame_indices(60, 4)
    assert got.frames_decoded == got.indices[-1] + 1


def test_dense_targets_match_a_decode_of_every_frame(tmp_path: Path) -> None:
    clip = tmp_path / "dense.mp4"
    write_clip(clip, 40, gop=4, bframes=2)
    got = extract_frames(clip, 40)
    assert got.indices == list(range(40)) == counters(got.frames)
    assert got.frames_decoded == 40


def test_rotation_metadata_is_applied(tmp_path: Path) -> None:
    write_clip(tmp_path / "plain.mp4", 30)
    plain = extract_frames(tmp_path / "plain.mp4", 3).frames
    for degrees in (90, 180, -90):
        write_clip(tmp_path / f"rot{degrees}.mp4", 30, rotation=degrees)
        rotated = extract_frames(tmp_path / f"rot{degrees}.mp4", 3).frames
        # The display matrix rotates counter-clockwise; np.rot90 turns counter-clockwise.
        assert np.array_equal(rotated, np.rot90(plain, degrees // 90, axes=(1, 2)))
    assert rotated.shape == (3, 64, 48, 3)
    # Upright, the counter reads again; 90 degrees counter-clockwise puts the top on the left.
    assert counters(np.rot90(rotated, 1, axes=(1, 2))) == even_frame_indices(30, 3)


def test_legacy_rotate_tag_is_clockwise(tmp_path: Path) -> None:
    write_clip(tmp_path / "plain.mkv", 30)
    write_clip(tmp_path / "tagged.mkv", 30, stream_tags={"rotate": "90"})
    plain = extract_frames(tmp_path / "plain.mkv", 2).frames
    tagged = extract_frames(tmp_path / "tagged.mkv", 2).frames
    assert np.array_equal(tagged, np.rot90(plain, -1, axes=(1, 2)))


@pytest.mark.parametrize("bframes", [0, 3])
def test_variable_frame_rate_uses_presentation_order(tmp_path: Path, bframes: int) -> None:
    rng = np.random.default_rng(0)
    pts_ms = np.cumsum(rng.integers(5, 120, size=50)).tolist()  # irregular frame times
    clip = tmp_path / "vfr.mp4"
    write_clip(clip, 50, gop=10, bframes=bframes, pts_ms=pts_ms)
    got = extract_frames(clip, 5)
    assert got.indices == even_frame_indices(50, 5) == counters(got.frames)


def test_undecodable_frame_is_replaced_by_the_nearest(tmp_path: Path) -> None:
    clip = tmp_path / "damaged.mp4"
    write_clip(clip, 60, gop=10, corrupt={18})  # no B-frames: packet 18 is frame 18
    got = extract_frames(clip, 5)
    assert got.n_frames == 60  # the damaged packet is still in the container
    assert got.requested == [6, 18, 30, 42, 54]
    # 17 and 19 are equally near; the earlier wins. The content is the frame reported.
    assert got.indices == [6, 17, 30, 42, 54] == counters(got.frames)


def test_undecodable_keyframe_takes_the_nearest_frame_of_the_gop_before(tmp_path: Path) -> None:
    clip = tmp_path / "damaged_key.mp4"
    write_clip(clip, 60, gop=10, corrupt={30})  # the keyframe of frames 30-39
    got = extract_frames(clip, 5)
    # From keyframe 30 nothing decodes for a while; frame 29 (previous GOP) is the nearest.
    assert got.indices == [6, 18, 29, 42, 54] == counters(got.frames)


def test_undecodable_tail_takes_the_last_decodable_frame(tmp_path: Path) -> None:
    clip = tmp_path / "damaged_tail.mp4"
    write_clip(clip, 60, gop=10, corrupt=range(50, 60))
    got = extract_frames(clip, 5)
    # The last run reaches the end with nothing; a retry from keyframe 40 finds frame 49.
    assert got.indices == [6, 18, 30, 42, 49] == counters(got.frames)


def test_truncated_mp4_with_index_first_keeps_the_frames_it_has(tmp_path: Path) -> None:
    clip = tmp_path / "faststart.mp4"
    write_clip(clip, 60, gop=10, container_options={"movflags": "faststart"})
    data = clip.read_bytes()
    clip.write_bytes(data[: int(len(data) * 0.6)])
    got = extract_frames(clip, 5)
    assert 10 < got.n_frames < 60
    assert got.indices == even_frame_indices(got.n_frames, 5) == counters(got.frames)


def test_short_video_policies(tmp_path: Path) -> None:
    clip = tmp_path / "three.mp4"
    write_clip(clip, 3)
    got = extract_frames(clip, 5, short_policy="repeat")
    assert got.indices == [0, 0, 1, 2, 2] == counters(got.frames)
    assert got.frames_decoded == 3
    with pytest.raises(RejectedInput, match="video has 3 frames < 5 and short_policy=reject"):
        extract_frames(clip, 5, short_policy="reject")
    write_clip(tmp_path / "one.mp4", 1)
    with pytest.raises(RejectedInput, match="video has 1 frame < 5"):
        extract_frames(tmp_path / "one.mp4", 5, short_policy="reject")
    assert extract_frames(tmp_path / "one.mp4", 5).indices == [0] * 5


@pytest.mark.parametrize(
    ("pix_fmt", "width", "height"), [("yuv420p10le", 64, 48), ("yuv444p", 67, 49)]
)
def test_ten_bit_and_odd_sizes_become_8bit_rgb(
    tmp_path: Path, pix_fmt: str, width: int, height: int
) -> None:
    clip = tmp_path / "deep.mp4"
    write_clip(clip, 20, width=width, height=height, pix_fmt=pix_fmt)
    got = extract_frames(clip, 3)
    assert got.frames.shape == (3, height, width, 3) and got.frames.dtype == np.uint8
    assert counters(got.frames) == got.indices


@pytest.mark.parametrize("size", [32, 96])
def test_size_centre_crops_and_resizes(tmp_path: Path, size: int) -> None:
    clip = tmp_path / "clip.mp4"
    write_clip(clip, 20)
    full = extract_frames(clip, 2).frames
    squared = extract_frames(clip, 2, size=size).frames
    interpolation = cv2.INTER_AREA if size < 48 else cv2.INTER_LINEAR
    expected = [cv2.resize(f[:, 8:56], (size, size), interpolation=interpolation) for f in full]
    assert squared.shape == (2, size, size, 3)
    assert np.array_equal(squared, np.stack(expected))


def test_video_over_max_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    write_clip(clip, 5)
    with pytest.raises(RejectedInput, match="video 64x48 exceeds max_pixels=1000"):
        extract_frames(clip, 2, max_pixels=1000)


# --- images -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "params"),
    [
        (".png", []),
        (".jpg", []),
        (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        (".bmp", []),
        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),  # lossless
    ],
)
def test_image_size_is_read_from_the_header(tmp_path: Path, suffix: str, params: list) -> None:
    image = counter_frame(7, 70, 33)
    path = tmp_path / f"image{suffix}"
    ok, buffer = cv2.imencode(suffix, image[..., ::-1], params)
    path.write_bytes(buffer.tobytes())
    assert image_header_size(path)[1:] == (70, 33)
    got = load_still(path)
    assert got.frames.shape == (1, 33, 70, 3) and got.indices == [0]
    assert read_counter(got.frames[0]) == 7


def test_jpeg_exif_orientation_is_applied(tmp_path: Path) -> None:
    ok, buffer = cv2.imencode(".jpg", counter_frame(9)[..., ::-1])
    plain = buffer.tobytes()
    # APP1 Exif segment, big-endian TIFF, one IFD0 entry: Orientation (0x0112) = 6, which
    # means "rotate 90 degrees clockwise to display".
    tiff = b"MM\x00\x2a" + struct.pack(">IH", 8, 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0) + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + tiff
    rotated = plain[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + plain[2:]
    (tmp_path / "plain.jpg").write_bytes(plain)
    (tmp_path / "rotated.jpg").write_bytes(rotated)
    assert image_header_size(tmp_path / "rotated.jpg") == ("JPEG", 64, 48)  # as stored
    upright = load_still(tmp_path / "plain.jpg").frames[0]
    turned = load_still(tmp_path / "rotated.jpg").frames[0]
    assert np.array_equal(turned, np.rot90(upright, -1))


def test_huge_image_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    write_huge_png(path, 30000, 20000)
    assert path.stat().st_size < 1_000_000
    assert image_header_size(path) == ("PNG", 30000, 20000)
    with pytest.raises(RejectedInput, match="image 30000x20000 exceeds max_pixels"):
        load_still(path)


def test_guess_kind_sniffs_content(tmp_path: Path) -> None:
    write_clip(tmp_path / "clip.mp4", 2)
    cv2.imwrite(str(tmp_path / "still.jpg"), counter_frame(1))
    (tmp_path / "renamed.mp4").write_bytes((tmp_path / "still.jpg").read_bytes())
    assert guess_kind(tmp_path / "clip.mp4") == "video"
    assert guess_kind(tmp_path / "renamed.mp4") == "image"
    assert guess_kind(tmp_path / "missing") == "video"


# --- the bad corpus -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("corpus")
    return root, make_bad_corpus(root)


def test_corpus_rows_look_like_a_manifest(corpus: tuple[Path, list[dict]]) -> None:
    root, rows = corpus
    columns = {"sample_id", "path", "label", "group", "split", "kind", "source", "expect"}
    assert all(set(row) == columns for row in rows)
    assert {row["expect"] for row in rows} == {"", "frames", "manifest"}
    assert all(row["source"].startswith(("bad", '"')) and row["split"] == "" for row in rows)
    assert all((root / row["path"]).exists() for row in rows if row["expect"] != "manifest")


def test_every_corpus_item_is_refused_or_accepted_as_documented(
    corpus: tuple[Path, list[dict]],
) -> None:
    root, rows = corpus
    for row in rows:
        if row["expect"] == "manifest":  # the manifest stage's business, not extraction's
            continue
        path = root / row["path"]
        if row["expect"] == "frames":
            with pytest.raises(RejectedInput) as refused:
                extract(path, row["kind"], 5)
            assert str(refused.value), row["sample_id"]
        else:
            got = extract(path, row["kind"], 5)
            frames = 5 if row["kind"] == "video" else 1
            assert got.frames.shape[0] == frames and got.frames.dtype == np.uint8


def test_corpus_reasons_name_the_problem(corpus: tuple[Path, list[dict]]) -> None:
    root, rows = corpus
    reasons = {}
    for row in rows:
        if row["expect"] == "frames":
            with pytest.raises(RejectedInput) as refused:
                extract(root / row["path"], row["kind"], 5)
            reasons[row["sample_id"]] = str(refused.value)
    assert reasons["bad-zero-byte"] == "zero-byte file"
    assert reasons["bad-audio-only"] == "no video stream"
    assert reasons["bad-no-decodable-frame"] == "no decodable frame"
    assert "not a readable media file" in reasons["bad-text-as-mp4"]
    assert "not a readable media file" in reasons["bad-truncated-mp4"]
    assert "not an image" in reasons["bad-text-as-png"]
    assert "cannot decode PNG" in reasons["bad-truncated-png"]
    assert "20000x20000 exceeds max_pixels" in reasons["bad-huge-image"]


def test_one_frame_video_expectation_follows_the_policy(tmp_path: Path) -> None:
    rows = {row["sample_id"]: row for row in make_bad_corpus(tmp_path, short_policy="reject")}
    assert rows["bad-one-frame"]["expect"] == "frames"
    with pytest.raises(RejectedInput):
        extract(tmp_path / rows["bad-one-frame"]["path"], "video", 5, short_policy="reject")


def test_awkward_images_are_converted(corpus: tuple[Path, list[dict]]) -> None:
    root = corpus[0]
    gradient = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    gray = load_still(root / "bad/gray.png").frames[0]
    assert np.array_equal(gray, np.dstack([gradient] * 3))
    # RGBA: colour 200 composited on black with the gradient as alpha.
    rgba = load_still(root / "bad/rgba.png").frames[0]
    composited = (200 * gradient.astype(np.uint16) + 127) // 255
    assert np.array_equal(rgba, np.dstack([composited] * 3).astype(np.uint8))
    # 16-bit: value * 257 maps back to value.
    deep = load_still(root / "bad/deep16.png").frames[0]
    assert np.array_equal(deep, np.dstack([gradient] * 3))


def test_other_refusals(tmp_path: Path) -> None:
    with pytest.raises(RejectedInput, match="no such file"):
        extract(tmp_path / "missing.mp4", "video")
    with pytest.raises(RejectedInput, match="not a regular file"):
        extract(tmp_path, "video")
    with pytest.raises(RejectedInput, match="unknown kind"):
        extract(tmp_path / "x", "audio")


# --- CLI ----------------------------------------------------------------------------------


def test_cli_writes_k_pngs_and_prints_indices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = tmp_path / "clip.mp4"
    write_clip(clip, 40, gop=8)
    out = tmp_path / "frames"
    assert main(["extract", str(clip), "--out", str(out), "--frames", "4", "--no-resize"]) == 0
    expected = even_frame_indices(40, 4)
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png", "3.png"]
    assert [read_counter(read_image(out / f"{k}.png")) for k in range(4)] == expected
    assert " ".join(map(str, expected)) in capsys.readouterr().out

    assert main(["extract", str(clip), "--out", str(tmp_path / "sq"), "--size", "24"]) == 0
    assert read_image(tmp_path / "sq" / "0.png").shape == (24, 24, 3)


def test_cli_refusal_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_clip(tmp_path / "one.mp4", 1)
    argv = ["extract", str(tmp_path / "one.mp4"), "--out", str(tmp_path / "o")]
    assert main([*argv, "--short-policy", "reject"]) == 2
    assert "video has 1 frame < 5 and short_policy=reject" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert main(["extract", str(tmp_path / "empty.mp4"), "--out", str(tmp_path / "o")]) == 2
    assert "zero-byte file" in capsys.readouterr().err
