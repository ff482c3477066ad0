"""Frame extraction: N evenly spaced frames of a video, by seeking; still images.

Index formula: for a video of ``n`` frames and ``k`` wanted frames, frame ``i`` (0-based,
``i < k``) is ``floor((i + 0.5) * n / k)``: the centre of the i-th of k equal segments.

How a video is read (:func:`extract_frames`):

1. **Index.** Every packet of the video stream is demuxed, none decoded. The packet count is
   the frame count (container and stream frame counts are often missing or wrong); frame
   ``i`` is the packet with the i-th smallest presentation timestamp (pts), so variable frame
   rates and B-frame reordering need no special case; keyframe packets give the positions a
   decoder can start from.
2. **Plan** (:func:`plan_decode`). Targets that share a keyframe form one run: seek to that
   keyframe, decode forward to the last of them. A run is merged into the previous one when
   the frames decoded in between cost no more than a seek (``SEEK_COST_FRAMES``), so dense
   targets are decoded straight through.
3. **Decode.** Each run seeks (the landing is checked: containers index seeks by pts or by
   dts, and a late landing retries earlier) and decodes forward. A frame that cannot be
   decoded (decoder error, frame missing from the output, frame flagged corrupt) is replaced
   by the nearest decodable frame (ties go to the earlier one) and
   :attr:`Extracted.indices` records the frame actually used. Streams without a true pts on
   every packet (raw H.264, AVI) cannot be seeked and are decoded from the start.

Frames come out as 8-bit RGB (any pixel format or bit depth, in the frame's own colour
space), turned upright by the display matrix (or a legacy ``rotate`` tag) in quarter turns.
Not handled: mirroring in a display matrix, non-square sample aspect ratios, and damage the
decoder conceals silently (a frame predicted from a lost one may come out as a plausible
copy of an older frame; nothing flags it).

Every refusal raises :class:`unrender.rejected.RejectedInput` with a reason for a person.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import stat
import struct
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import av
import av.error
import cv2
import numpy as np

from unrender.config import default
from unrender.rejected import RejectedInput

ShortPolicy = Literal["repeat", "reject"]
Kind = Literal["video", "image"]

#: Largest accepted picture (width * height), checked before anything is decoded: the
#: workflow's frames.max_image_pixels default.
DEFAULT_MAX_PIXELS: int = default("frames", "max_image_pixels")

#: What a seek costs beyond decoding its keyframe, in frame times: measured about 2.5 for
#: 1080p H.264 with frame threads (bench/frame_extraction.md). Runs at most this many
#: frames apart are decoded through instead.
SEEK_COST_FRAMES: int = 2

#: Decoder threading for every decode, ours and the benchmark's decode-all baseline alike.
DECODE_THREAD_TYPE: str = "AUTO"


def even_frame_indices(n_frames: int, k: int, *, repeat: bool = False) -> list[int]:
    """The ``k`` evenly spaced frame indices of a video of ``n_frames`` frames (n >= k >= 1).

    With ``repeat=True`` a video shorter than ``k`` frames (n >= 1) is allowed too: the same
    formula then repeats indices evenly, e.g. n=3, k=5 -> [0, 0, 1, 2, 2].
    """
    if k < 1 or n_frames < 1 or (n_frames < k and not repeat):
        raise ValueError(f"need 1 <= k <= n_frames, got k={k}, n_frames={n_frames}")
    return [int((2 * i + 1) * n_frames // (2 * k)) for i in range(k)]


@dataclass(frozen=True)
class Extracted:
    """Frames taken from one video or image.

    frames: uint8 (k, H, W, 3) RGB, display orientation (rotation metadata applied).
    indices: per slot, the frame index (presentation order, 0-based) actually used.
    n_frames: frames in the video (1 for an image).
    requested: per slot, the frame index asked for (``even_frame_indices``).
    frames_decoded: frames the decoder output to get them (the cost; 1 for an image).
    declared_frames: the frame count the container's header claims (0: it does not say);
        above ``n_frames`` when the file is truncated.
    """

    frames: np.ndarray
    indices: list[int]
    n_frames: int
    requested: list[int]
    frames_decoded: int
    declared_frames: int = 0

    @property
    def truncated(self) -> bool:
        """The header claims more frames than the file holds: it was cut short."""
        return self.declared_frames > self.n_frames


@dataclass(frozen=True)
class VideoIndex:
    """What demuxing (not decoding) tells about a video stream.

    pts: presentation timestamps in stream time base, ascending: ``pts[i]`` is frame i.
        Empty when some packet has no pts (then nothing can be seeked).
    keyframes: presentation indices a decode can start from, ascending, always starting at 0
        (frame 0 is reached by decoding from the start of the stream).
    keyframe_dts: decode timestamp of each keyframe (by presentation index) that has one.
    n_frames: frame count (packets of the stream).
    width, height: coded picture size in pixels (0 when the container does not say).
    declared_frames: frame count in the container's header (0 when it does not say).
    """

    pts: list[int]
    keyframes: list[int]
    keyframe_dts: dict[int, int]
    n_frames: int
    width: int
    height: int
    declared_frames: int = 0

    @property
    def seekable(self) -> bool:
        return len(self.pts) == self.n_frames


@dataclass(frozen=True)
class DecodeRun:
    """Seek to keyframe ``start`` (a presentation index) and decode forward to ``targets[-1]``.

    targets: ascending, distinct presentation indices >= start.
    """

    start: int
    targets: tuple[int, ...]

    @property
    def n_decoded(self) -> int:
        """Frames this run decodes (presentation order, keyframe to last target)."""
        return self.targets[-1] - self.start + 1


def keyframe_before(keyframes: Sequence[int], index: int) -> int:
    """The last of the ascending ``keyframes`` at or before ``index`` (0 if none)."""
    at = bisect.bisect_right(keyframes, index)
    return keyframes[at - 1] if at else 0


def plan_decode(
    targets: Iterable[int], keyframes: Sequence[int], seek_cost_frames: int = SEEK_COST_FRAMES
) -> list[DecodeRun]:
    """Group ``targets`` into decode runs, cheapest in frames decoded.

    A target starts a new run at its keyframe unless the previous run can reach it by
    decoding at most ``seek_cost_frames`` frames nobody asked for (then seeking would cost
    more than decoding through). Targets are presentation indices; duplicates are merged.
    """
    runs: list[DecodeRun] = []
    for target in sorted(set(targets)):
        start = keyframe_before(keyframes, target)
        if runs and start - runs[-1].targets[-1] - 1 <= seek_cost_frames:
            runs[-1] = DecodeRun(runs[-1].start, (*runs[-1].targets, target))
        else:
            runs.append(DecodeRun(start, (target,)))
    return runs


def lower_bound_frames(targets: Iterable[int], keyframes: Sequence[int]) -> int:
    """Fewest frames any decoder must output to reach ``targets``.

    Each target needs the frames from its keyframe up to itself; shared prefixes count once.
    """
    return sum(run.n_decoded for run in plan_decode(targets, keyframes, seek_cost_frames=-1))


# --- videos -----------------------------------------------------------------------------


def _check_file(path: Path) -> None:
    """Reject a path that is not a non-empty readable file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise RejectedInput("no such file") from None
    except OSError as e:
        raise RejectedInput(f"cannot stat file: {e.strerror or e}") from None
    if not path.is_file():
        raise RejectedInput("not a regular file")
    if size == 0:
        raise RejectedInput("zero-byte file")


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The first real video stream (cover art in an audio file does not count)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise RejectedInput("no video stream")


#: Demuxers whose pts are guessed from decode order (wrong once B-frames reorder frames).
_GUESSED_PTS_FORMATS = frozenset({"avi"})


def _index_stream(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> VideoIndex:
    """Demux every packet of ``stream`` (no decoding) into a :class:`VideoIndex`."""
    entries: list[tuple[int, int | None, bool]] = []  # (pts, dts, keyframe)
    n_frames = 0
    for packet in _packets(container, stream):
        if packet.is_discard:  # dropped by the decoder (e.g. before an edit list's start)
            continue
        n_frames += 1
        if packet.pts is not None:
            entries.append((packet.pts, packet.dts, packet.is_keyframe))
    ctx = stream.codec_context
    if len(entries) < n_frames or container.format.name in _GUESSED_PTS_FORMATS:
        # Without a true pts on every packet (raw streams, AVI) the presentation order is
        # only known by decoding: no seeking, decode from the start.
        return VideoIndex(
            [], [0], {}, n_frames, ctx.width or 0, ctx.height or 0, stream.frames or 0
        )
    entries.sort(key=lambda entry: entry[0])
    keyframe_dts = {i: dts for i, (_, dts, key) in enumerate(entries) if key and dts is not None}
    keyframes = sorted({0} | {i for i, (_, _, key) in enumerate(entries) if key})
    return VideoIndex(
        pts=[pts for pts, _, _ in entries],
        keyframes=keyframes,
        keyframe_dts=keyframe_dts,
        n_frames=n_frames,
        width=ctx.width or 0,
        height=ctx.height or 0,
        declared_frames=stream.frames or 0,
    )


def _packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[av.Packet]:
    """Packets of ``stream`` with data, in decode order; a damaged container ends early."""
    try:
        for packet in container.demux(stream):
            if packet.size:
                yield packet
    except av.error.FFmpegError:  # truncated or damaged past here: what was read stands
        return


def _open_video(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    try:
        container = av.open(str(path), "r")
    except av.error.FFmpegError as e:
        raise RejectedInput(f"not a readable media file ({_ffmpeg_reason(e)})") from None
    try:
        stream = _video_stream(container)
    except RejectedInput:
        container.close()
        raise
    if stream.codec_context is None:  # PyAV has no decoder for this codec
        container.close()
        raise RejectedInput("no decoder for this video codec")
    for other in container.streams:
        if other.index != stream.index:
            other.discard = av.stream.Discard.all  # demux only the video
    stream.codec_context.thread_type = DECODE_THREAD_TYPE
    return container, stream


def _ffmpeg_reason(error: av.error.FFmpegError) -> str:
    return str(error.strerror or error).strip()


def probe_video(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> VideoIndex:
    """Index a video without decoding it.

    Raises RejectedInput for a missing or empty file, no video stream, a picture over
    ``max_pixels`` (checked before anything else is read), or a stream without frames.
    """
    reader = _FrameReader(Path(path), None, max_pixels)
    reader.close()
    return reader.index


def _display_rotation_ccw(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Counter-clockwise quarter turns that put ``frame`` upright (0-3).

    From the frame's display matrix, else the stream's legacy ``rotate`` tag (clockwise
    degrees). Mirroring in a display matrix is ignored; angles round to a quarter turn.
    """
    degrees = frame.rotation
    if not degrees:
        tags = {key.lower(): value for key, value in stream.metadata.items()}
        try:
            degrees = -float(tags.get("rotate", 0))
        except ValueError:
            degrees = 0
    return round(degrees / 90) % 4


def _square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop uint8 (H, W, 3) to a square and resize it to uint8 (size, size, 3)."""
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = rgb[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def _resize_to(rgb: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Resize uint8 (h, w, 3) to ``shape`` (H, W, 3) (for a stream whose size changes)."""
    if rgb.shape == shape:
        return rgb
    interpolation = cv2.INTER_AREA if rgb.shape[0] > shape[0] else cv2.INTER_LINEAR
    return cv2.resize(rgb, (shape[1], shape[0]), interpolation=interpolation)


class _FrameReader:
    """Decodes runs of one open video into upright RGB; counts the frames decoded."""

    def __init__(self, path: Path, size: int | None, max_pixels: int) -> None:
        """Open and index ``path`` (see :func:`probe_video` for the refusals)."""
        _check_file(path)
        self.path = path
        self.size = size
        self.frames_decoded = 0
        self.container, self.stream = _open_video(path)
        try:
            ctx = self.stream.codec_context
            width, height = ctx.width or 0, ctx.height or 0
            if width * height > max_pixels:
                raise RejectedInput(f"video {width}x{height} exceeds max_pixels={max_pixels}")
            self.index = _index_stream(self.container, self.stream)
        except av.error.FFmpegError as e:
            self.close()
            raise RejectedInput(f"cannot read video stream ({_ffmpeg_reason(e)})") from None
        except RejectedInput:
            self.close()
            raise
        if self.index.n_frames == 0:
            self.close()
            raise RejectedInput("video stream has no frames")
        self.rank = {stamp: i for i, stamp in reversed(list(enumerate(self.index.pts)))}

    def close(self) -> None:
        self.container.close()

    def _packets_from(self, run: DecodeRun) -> Iterator[av.Packet]:
        """Position the demuxer at the keyframe of ``run`` (or an earlier one, or the start).

        Returns the packets from that keyframe on; the decoder is reset. Containers index
        seeks by pts (MP4, Matroska) or by dts (MPEG-TS), and some land on the packet at the
        time rather than on a keyframe: each landing is checked, and packets are skipped
        (demuxed, not decoded) up to the first keyframe.
        """
        if self.index.seekable:
            earlier = keyframe_before(self.index.keyframes, run.start - 1)
            stamps = (
                self.index.pts[run.start],
                self.index.keyframe_dts.get(run.start),
                self.index.pts[earlier],
            )
            for stamp in dict.fromkeys(s for s in stamps if s is not None):
                try:
                    self.container.seek(stamp, stream=self.stream, backward=True)
                except av.error.FFmpegError:
                    continue
                self.stream.codec_context.flush_buffers()
                packets = _packets(self.container, self.stream)
                key = next((packet for packet in packets if packet.is_keyframe), None)
                landed = None if key is None else self.rank.get(key.pts)
                if key is not None and (landed is None or landed <= run.targets[0]):
                    return itertools.chain([key], packets)
        # From the very start: the one position every stream can be decoded from.
        self.container.close()
        self.container, self.stream = _open_video(self.path)
        return _packets(self.container, self.stream)

    def _frames(self, run: DecodeRun) -> Iterator[tuple[int, av.VideoFrame]]:
        """Decodable frames of ``run`` with their presentation index, in output order."""
        packets = self._packets_from(run)
        codec = self.stream.codec_context
        rank = run.start - 1
        for packet in itertools.chain(packets, [None]):  # None drains the decoder at the end
            try:
                frames = codec.decode(packet)
            except av.error.FFmpegError:  # this packet's frame is lost; neighbours stand in
                continue
            for frame in frames:
                self.frames_decoded += 1
                # A frame without a known pts follows the previous one (untimed streams).
                rank = self.rank.get(frame.pts, rank + 1) if self.index.seekable else rank + 1
                if not frame.is_corrupt:
                    yield rank, frame

    def _upright(self, frame: av.VideoFrame) -> np.ndarray:
        """uint8 (H, W, 3) RGB of ``frame``, rotated upright, squared to ``size`` if set."""
        rgb = frame.to_ndarray(format="rgb24")  # any pixel format and bit depth -> 8-bit RGB
        rgb = np.ascontiguousarray(np.rot90(rgb, _display_rotation_ccw(frame, self.stream)))
        return rgb if self.size is None else _square(rgb, self.size)

    def decode_run(self, run: DecodeRun) -> tuple[dict[int, tuple[int, np.ndarray]], list[int]]:
        """Decode ``run``: per target, (index used, uint8 (H, W, 3) RGB); and targets to retry.

        A target whose frame is missing takes the nearest decodable frame of the run. It is
        to be retried from an earlier keyframe when a frame before this run could be as near,
        or when the run found no frame for it at all.
        """
        pending = deque(run.targets)
        picks: dict[int, tuple[int, np.ndarray]] = {}
        retry: list[int] = []
        previous: tuple[int, av.VideoFrame] | None = None
        converted: dict[int, np.ndarray] = {}

        def pick(target: int, rank: int, frame: av.VideoFrame) -> None:
            if rank not in converted:
                converted[rank] = self._upright(frame)
            picks[target] = (rank, converted[rank])

        for rank, frame in self._frames(run):
            while pending and rank >= pending[0]:
                target = pending.popleft()
                if rank == target or previous is None or rank - target < target - previous[0]:
                    pick(target, rank, frame)
                    unsure = previous is None and rank - target >= target - run.start + 1
                    if rank != target and unsure:
                        retry.append(target)
                else:
                    pick(target, *previous)
            if not pending:
                break
            previous = (rank, frame)
        for target in pending:  # the stream ended first
            if previous is None:
                retry.append(target)
            else:
                pick(target, *previous)
        return picks, retry

    def read(self, requested: list[int]) -> Extracted:
        """Decode the frames ``requested`` (presentation indices, repeats allowed).

        Runs follow :func:`plan_decode`; a target given an unsure substitute is retried
        from an earlier keyframe. Raises RejectedInput if no frame can be decoded.
        """
        picks: dict[int, tuple[int, np.ndarray]] = {}
        runs = deque(plan_decode(requested, self.index.keyframes))
        try:
            while runs:
                run = runs.popleft()
                found, retry = self.decode_run(run)
                picks.update(found)
                if retry and run.start > 0:
                    earlier = keyframe_before(self.index.keyframes, run.start - 1)
                    runs.append(DecodeRun(earlier, tuple(retry)))
        except av.error.FFmpegError as e:
            raise RejectedInput(f"cannot decode video ({_ffmpeg_reason(e)})") from None
        except ValueError as e:  # a pixel format that cannot be converted to RGB
            raise RejectedInput(f"cannot convert video frames to RGB ({e})") from None
        if any(target not in picks for target in requested):
            raise RejectedInput("no decodable frame")
        indices = [picks[target][0] for target in requested]
        shape = picks[requested[0]][1].shape
        frames = np.stack([_resize_to(picks[target][1], shape) for target in requested])
        return Extracted(
            frames,
            indices,
            self.index.n_frames,
            requested,
            self.frames_decoded,
            self.index.declared_frames,
        )


def extract_frames(
    path: str | os.PathLike[str],
    k: int = 5,
    *,
    short_policy: ShortPolicy = "repeat",
    size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Extracted:
    """Decode ``k`` evenly spaced frames of a video by seeking (see the module docstring).

    short_policy: for a video of fewer than ``k`` frames, ``"repeat"`` repeats frames evenly
        (``even_frame_indices(n, k, repeat=True)``), ``"reject"`` refuses it.
    size: if given, each frame is centre-cropped to a square and resized to (size, size).
    max_pixels: refuse a video whose coded width * height exceeds this (checked first).
    Returns frames uint8 (k, H, W, 3) RGB upright; raises RejectedInput for anything unusable.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if short_policy not in ("repeat", "reject"):
        raise ValueError(f"short_policy must be 'repeat' or 'reject', got {short_policy!r}")
    reader = _FrameReader(Path(path), size, max_pixels)
    with contextlib.closing(reader):
        n = reader.index.n_frames
        if n < k and short_policy == "reject":
            raise RejectedInput(
                f"video has {n} frame{'s' if n != 1 else ''} < {k} and short_policy=reject"
            )
        return reader.read(even_frame_indices(n, k, repeat=True))


def frames_at(
    path: str | os.PathLike[str],
    indices: Sequence[int],
    *,
    size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Extracted:
    """Decode the frames at the given presentation ``indices`` (0 <= i < n_frames) by seeking.

    Same reading, substitution of undecodable frames and output as :func:`extract_frames`,
    with ``requested`` = ``indices``. Raises ValueError for an index out of range.
    """
    reader = _FrameReader(Path(path), size, max_pixels)
    with contextlib.closing(reader):
        n = reader.index.n_frames
        if not indices or any(not 0 <= i < n for i in indices):
            raise ValueError(f"need frame indices in 0..{n - 1}, got {list(indices)}")
        return reader.read(list(indices))


# --- still images -----------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (they carry the picture size); C4, C8 and CC are not frames.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
IMAGE_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "WebP")


def _image_format(head: bytes) -> str | None:
    """The image format named by a file's first 16 bytes, if it is one we read."""
    if head.startswith(_PNG_SIGNATURE):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


def _jpeg_size(f: BinaryIO) -> tuple[int, int] | None:
    """(width, height) from the first start-of-frame segment, skipping the others unread."""
    f.seek(2)
    while True:
        byte = f.read(1)
        if byte != b"\xff":
            return None
        marker = 0xFF
        while marker == 0xFF:  # any number of fill bytes may precede a marker
            byte = f.read(1)
            if not byte:
                return None
            marker = byte[0]
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a segment
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if marker in _JPEG_SOF:
            header = f.read(5)
            if len(header) < 5:
                return None
            height, width = struct.unpack(">HH", header[1:5])
            return width, height
        f.seek(length - 2, os.SEEK_CUR)


def image_header_size(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """(format, width, height) of an image read from its header only, nothing decoded.

    Formats: PNG, JPEG, BMP, WebP (lossy, lossless, extended). Raises RejectedInput for
    any other file or a header too damaged to give a size.
    """
    with open(path, "rb") as f:
        head = f.read(32)
        image_format = _image_format(head)
        size: tuple[int, int] | None = None
        if image_format == "PNG" and head[12:16] == b"IHDR" and len(head) >= 24:
            size = struct.unpack(">II", head[16:24])
        elif image_format == "JPEG":
            size = _jpeg_size(f)
        elif image_format == "BMP" and len(head) >= 26:
            (dib_size,) = struct.unpack("<I", head[14:18])
            if dib_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
                size = struct.unpack("<HH", head[18:22])
            else:  # BITMAPINFOHEADER and later: signed, negative height = top-down rows
                width, height = struct.unpack("<ii", head[18:26])
                size = (abs(width), abs(height))
        elif image_format == "WebP" and len(head) >= 30:
            chunk = head[12:16]
            if chunk == b"VP8X":  # extended: canvas size minus one, 24-bit little endian
                size = (
                    1 + int.from_bytes(head[24:27], "little"),
                    1 + int.from_bytes(head[27:30], "little"),
                )
            elif chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":  # lossy key frame
                width, height = struct.unpack("<HH", head[26:30])
                size = (width & 0x3FFF, height & 0x3FFF)
            elif chunk == b"VP8L" and head[20] == 0x2F:  # lossless: 14-bit sizes minus one
                bits = int.from_bytes(head[21:25], "little")
                size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if image_format is None:
        raise RejectedInput(f"not an image in a supported format ({', '.join(IMAGE_FORMATS)})")
    if size is None or min(size) < 1:
        raise RejectedInput(f"damaged {image_format} header: no picture size")
    return image_format, size[0], size[1]


def _to_rgb8(image: np.ndarray) -> np.ndarray:
    """An OpenCV-decoded image (BGR order, 1-4 channels, 8 or 16 bit) as uint8 (H, W, 3) RGB.

    16-bit samples are scaled to 8 bits (65535 -> 255, rounded); gray is repeated into three
    channels; an alpha channel is composited onto black (colour * alpha), which is what a
    viewer shows on a black page, rather than dropped, which would expose whatever colour
    hides under transparent pixels.
    """
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise RejectedInput(f"unsupported sample type {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[2]
    colour = image[..., :3] if channels >= 3 else np.repeat(image[..., :1], 3, axis=2)
    if channels in (2, 4):
        alpha = image[..., -1:].astype(np.uint16)
        colour = ((colour.astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
    rgb = colour[..., ::-1] if channels >= 3 else colour
    return np.ascontiguousarray(rgb)


def load_still(
    path: str | os.PathLike[str],
    *,
    size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Extracted:
    """Read an image as one frame: frames uint8 (1, H, W, 3) RGB, indices [0].

    The picture size is read from the header first, so an image over ``max_pixels`` is
    refused without being decoded. JPEG EXIF orientation is applied. See :func:`_to_rgb8`
    for gray, 16-bit and alpha. ``size`` centre-crops to a square of (size, size).
    Raises RejectedInput for a missing, empty, unsupported, oversized or undecodable file.
    """
    file = Path(path)
    _check_file(file)
    try:
        image_format, width, height = image_header_size(file)
        if width * height > max_pixels:
            raise RejectedInput(f"image {width}x{height} exceeds max_pixels={max_pixels}")
        data = np.fromfile(file, dtype=np.uint8)
    except OSError as e:
        raise RejectedInput(f"cannot read file: {e.strerror or e}") from None
    # JPEG has no alpha; IMREAD_COLOR applies its EXIF orientation. Other formats are read
    # unchanged to keep alpha and 16-bit samples.
    flags = cv2.IMREAD_COLOR if image_format == "JPEG" else cv2.IMREAD_UNCHANGED
    image = cv2.imdecode(data, flags)
    if image is None or image.size == 0:
        raise RejectedInput(f"cannot decode {image_format} image (damaged or truncated?)")
    rgb = _to_rgb8(image)
    if size is not None:
        rgb = _square(rgb, size)
    return Extracted(rgb[None], [0], 1, [0], 1)


def guess_kind(path: str | os.PathLike[str]) -> Kind:
    """ "image" if the file starts like a supported image format, else "video"."""
    try:
        # Only a regular file is opened: opening a FIFO would wait for a writer for ever.
        if not stat.S_ISREG(os.stat(path).st_mode):
            return "video"  # the extraction refuses it as not a regular file
        with open(path, "rb") as f:
            return "image" if _image_format(f.read(16)) else "video"
    except OSError:
        return "video"  # let the extraction report why it cannot be read


def extract(
    path: str | os.PathLike[str],
    kind: str,
    k: int = 5,
    *,
    short_policy: ShortPolicy = "repeat",
    size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Extracted:
    """Frames of one manifest item: ``k`` frames of a video, or the single frame of an image.

    kind: "video" (:func:`extract_frames`) or "image" (:func:`load_still`, ``k`` ignored).
    Raises RejectedInput, with the reason, for any item that cannot be used.
    """
    if kind == "video":
        return extract_frames(path, k, short_policy=short_policy, size=size, max_pixels=max_pixels)
    if kind == "image":
        return load_still(path, size=size, max_pixels=max_pixels)
    raise RejectedInput(f"unknown kind {kind!r} (expected 'video' or 'image')")
