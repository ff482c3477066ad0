"""Test media: counter clips (each frame shows its own index) and a corpus of bad inputs.

``write_clip`` encodes small H.264 clips with PyAV whose frames carry their index as four
grey blocks (base-4 digits), so a test can read back WHICH frame an extraction returned.
``make_bad_corpus`` writes one file per way an input can be wrong and returns manifest rows
saying which stage must refuse each, ``write_corpus_manifest`` writes them as a manifest
with a byte-order mark and blank lines, and ``bad_manifests`` gives manifests that must fail
as a whole (other test modules import them).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Collection, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

#: Grey level of each base-4 digit: the centres of four equal bins of 0..255.
DIGIT_LEVELS: tuple[int, ...] = (32, 96, 160, 224)
DIGITS = 4  # counts up to 4**4 - 1 = 255
BLOCK = 16  # digit block side in pixels: flat 16x16 blocks survive H.264 compression


def counter_frame(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """uint8 (height, width, 3) RGB frame showing ``index`` (0..255).

    Top-left: four BLOCK x BLOCK grey blocks, most significant digit first; below them a
    white bar that moves one pixel per frame so that consecutive frames differ in motion too.
    Needs width >= 4 * BLOCK and height >= BLOCK + 1.
    """
    frame = np.full((height, width, 3), 128, np.uint8)
    for position in range(DIGITS):
        digit = index // 4 ** (DIGITS - 1 - position) % 4
        frame[:BLOCK, position * BLOCK : (position + 1) * BLOCK] = DIGIT_LEVELS[digit]
    frame[BLOCK:, index % width] = 255
    return frame


def read_counter(rgb: np.ndarray) -> int:
    """The index shown by a (decoded) :func:`counter_frame`, uint8 (H, W, 3) RGB upright."""
    value = 0
    for position in range(DIGITS):
        inner = rgb[4 : BLOCK - 4, position * BLOCK + 4 : (position + 1) * BLOCK - 4]
        digit = int(np.clip(np.round(inner.mean() / 64 - 0.5), 0, 3))
        value = value * 4 + digit
    return value


def write_clip(
    path: Path,
    n_frames: int,
    *,
    width: int = 64,
    height: int = 48,
    fps: int = 30,
    gop: int | None = None,
    bframes: int = 0,
    pix_fmt: str = "yuv420p",
    rotation: int | None = None,
    pts_ms: Sequence[int] | None = None,
    corrupt: Collection[int] = (),
    stream_tags: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> None:
    """Encode a libx264 counter clip of ``n_frames`` frames at ``path`` (container by suffix).

    gop: keyframe interval (x264 default 250 if None); bframes: B-frames between references.
    rotation: display matrix, degrees counter-clockwise (as PyAV's VideoFrame.rotation).
    pts_ms: per-frame presentation times in milliseconds (variable frame rate) instead of fps.
    corrupt: decode-order packet numbers whose slice data is zeroed: each packet stays in
        the container, the decoder fails on it (and on frames predicted from it).
    stream_tags: stream metadata (e.g. a legacy {"rotate": "90"}, clockwise, in Matroska).
    container_options: muxer options (e.g. {"movflags": "faststart"}).
    """
    options = {"preset": "ultrafast", "bf": str(bframes)}
    if gop is not None:
        options.update({"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"})
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        stream.metadata.update(stream_tags or {})
        packet_number = 0

        def mux(packets: list[av.Packet]) -> None:
            nonlocal packet_number
            for packet in packets:
                if packet_number in corrupt:
                    data = bytes(packet)
                    # Keep the NAL length, NAL header and first slice-header byte, so that
                    # the demuxer's parser still sees a frame of its own there.
                    garbage = av.Packet(data[:6] + bytes(len(data) - 6))
                    garbage.pts, garbage.dts = packet.pts, packet.dts
                    garbage.time_base, garbage.is_keyframe = packet.time_base, packet.is_keyframe
                    garbage.stream = stream
                    packet = garbage
                packet_number += 1
                container.mux(packet)

        for index in range(n_frames):
            frame = av.VideoFrame.from_ndarray(counter_frame(index, width, height), "rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[index], Fraction(1, 1000)
            mux(stream.encode(frame))
        mux(stream.encode(None))


def write_audio_only(path: Path, seconds: float = 0.5) -> None:
    """An AAC file with silence and no video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        samples = 1024
        for start in range(0, int(seconds * 44100), samples):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, samples), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 44100, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def write_huge_png(path: Path, width: int, height: int) -> None:
    """A valid, black, 1-bit grey PNG of width x height written row by row (a few KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then packed 1-bit pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey, no interlace
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _write_png(path: Path, image: np.ndarray) -> None:
    """Write an image as OpenCV gets it (BGR/BGRA order, any depth)."""
    ok, buffer = cv2.imencode(".png", image)
    assert ok, path
    path.write_bytes(buffer.tobytes())


def write_truncated_faststart(path: Path, n_frames: int = 60, keep: float = 0.3) -> None:
    """A fast-start MP4 (index first) cut to ``keep`` of its bytes: its header still claims
    ``n_frames`` frames, only the first few can be read (3 of 60 at 0.3)."""
    write_clip(path, n_frames, container_options={"movflags": "faststart"})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def make_bad_corpus(root: Path, *, short_policy: str = "repeat") -> list[dict[str, Any]]:
    """Write bad (and awkward but usable) inputs under ``root / "bad"``; return their rows.

    Each row has the manifest columns (sample_id, path relative to ``root``, label, group,
    split="", kind, source="bad") and ``expect``: the stage that must refuse the item,
    "frames" (frame extraction) or "manifest" (manifest validation), or "" if it must be
    accepted. ``short_policy`` is the frame stage's policy: the 1-frame video is accepted
    (its frame repeated) under "repeat" and refused under "reject".

    Accepted: 1-frame video (repeat), video with one undecodable frame in the middle (the
    nearest frame stands in), fast-start MP4 truncated to 3 of its 60 frames (repeat; its
    frames are marked damaged), grey PNG (-> RGB), RGBA PNG (composited on black), 16-bit
    PNG (-> 8 bit), a ``"`` in the source column (a character, not a quote).
    Refused at "frames": zero-byte file, truncated MP4 (index lost), text renamed .mp4, text
    renamed .png, video with no decodable frame, audio-only file, truncated PNG,
    20000x20000 PNG (over max_pixels; its header says so, nothing is decoded).
    Refused at "manifest": missing file, both rows sharing a sample_id (which one is meant
    cannot be told), label 2, a path escaping the root ("../outside.png", which does not
    exist either: nothing is written outside ``root``), a sample_id starting with ``"``
    (the rows after it must not be swallowed), a 260-character sample_id, the grey PNG again
    under another id, and a byte-identical copy of the RGBA PNG under another id.
    """
    bad = root / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []

    def row(
        sample_id: str, name: str, kind: str, expect: str, label: Any = None, source: str = "bad"
    ) -> None:
        rows.append(
            {
                "sample_id": sample_id,
                "path": name if name.startswith("..") else f"bad/{name}",
                "label": len(rows) % 2 if label is None else label,
                "group": sample_id,
                "split": "",
                "kind": kind,
                "source": source,
                "expect": expect,
            }
        )

    (bad / "zero.mp4").write_bytes(b"")
    row("bad-zero-byte", "zero.mp4", "video", "frames")

    write_clip(bad / "truncated.mp4", 30)  # the MP4 index (moov) is written last
    data = (bad / "truncated.mp4").read_bytes()
    (bad / "truncated.mp4").write_bytes(data[: len(data) // 2])
    row("bad-truncated-mp4", "truncated.mp4", "video", "frames")

    (bad / "text.mp4").write_text("this is not a video\n" * 20)
    row("bad-text-as-mp4", "text.mp4", "video", "frames")

    write_clip(bad / "undecodable.mp4", 12, gop=4, corrupt=range(12))
    row("bad-no-decodable-frame", "undecodable.mp4", "video", "frames")

    write_audio_only(bad / "audio.m4a")
    row("bad-audio-only", "audio.m4a", "video", "frames")

    write_clip(bad / "one_frame.mp4", 1)
    row("bad-one-frame", "one_frame.mp4", "video", "" if short_policy == "repeat" else "frames")

    write_clip(bad / "corrupt_middle.mp4", 30, gop=10, corrupt={15})
    row("bad-corrupt-middle", "corrupt_middle.mp4", "video", "")

    write_truncated_faststart(bad / "truncated_faststart.mp4")
    short = "" if short_policy == "repeat" else "frames"
    row("bad-truncated-faststart", "truncated_faststart.mp4", "video", short)

    gradient = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    _write_png(bad / "gray.png", gradient)
    row("bad-gray-png", "gray.png", "image", "")

    rgba = np.dstack([np.full((48, 64, 3), 200, np.uint8), gradient])
    _write_png(bad / "rgba.png", rgba)
    row("bad-rgba-png", "rgba.png", "image", "")

    _write_png(bad / "deep16.png", np.repeat(gradient[..., None].astype(np.uint16) * 257, 3, 2))
    row("bad-16bit-png", "deep16.png", "image", "")

    (bad / "text.png").write_text("not an image either\n")
    row("bad-text-as-png", "text.png", "image", "frames")

    png = (bad / "gray.png").read_bytes()
    (bad / "truncated.png").write_bytes(png[: len(png) // 2])
    row("bad-truncated-png", "truncated.png", "image", "frames")

    write_huge_png(bad / "huge.png", 20000, 20000)
    row("bad-huge-image", "huge.png", "image", "frames")

    row("bad-missing-file", "missing.mp4", "video", "manifest")
    row("bad-duplicate-id", "gray.png", "image", "manifest")
    row("bad-duplicate-id", "rgba.png", "image", "manifest")
    row("bad-label-2", "gray.png", "image", "manifest", label=2)
    row("bad-escapes-root", "../outside.png", "image", "manifest")
    row('"bad-quote', "rgba.png", "image", "manifest")
    _write_png(bad / "quoted.png", gradient[:, ::-1].copy())  # mirrored: another file
    row("bad-quote-in-source", "quoted.png", "image", "", source='"a quote", and more')
    row("bad-long-" + "x" * 251, "deep16.png", "image", "manifest")
    row("bad-duplicate-path", "gray.png", "image", "manifest")
    (bad / "rgba_copy.png").write_bytes((bad / "rgba.png").read_bytes())
    row("bad-duplicate-content", "rgba_copy.png", "image", "manifest")
    return rows


def write_corpus_manifest(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` as a manifest the way editors leave them: UTF-8 with a byte-order mark,
    CRLF line ends, and a whitespace-only and an empty line among the rows (skipped)."""
    columns = ("sample_id", "path", "label", "group", "split", "kind", "source")
    lines = ["\t".join(columns)] + ["\t".join(str(r[c]) for c in columns) for r in rows]
    lines[2:2] = ["  \t ", ""]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")


def bad_manifests() -> dict[str, tuple[bytes, str]]:
    """Manifests that must fail as a whole, before any job runs: name -> (bytes, message)."""
    header = b"sample_id\tpath\tlabel\tgroup\tsplit\tkind\tsource\n"
    row = b"a\tbad/gray.png\t0\ta\t\timage\t"
    return {
        "duplicate-column": (
            header.replace(b"\tsource", b"\tlabel"),
            "column(s) label named twice in the header",
        ),
        "latin-1": (header + row + "caf\u00e9\n".encode("latin-1"), "line 2 is not UTF-8"),
        "header-only": (header, "the manifest has no rows"),
        "wrong-field-count": (header + row + b"\textra\n", "line 2 has 8 tab-separated fields"),
        "group-in-two-splits": (
            header + b"a\ta.png\t0\tg\ttrain\timage\t\n" + b"b\tb.png\t1\tg\ttest\timage\t\n",
            "1 group(s) have rows in more than one split (g: ['test', 'train'])",
        ),
    }
