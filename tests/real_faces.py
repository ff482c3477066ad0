"""Test media with real faces: scikit-image's photos, moved, scaled and cropped.

Two public-domain photos that scikit-image ships hold a face: ``astronaut`` (Eileen
Collins, NASA; colour) and ``camera`` (the cameraman; grey, shown as RGB). Each comes with a
hand-checked face box. From them:

- :func:`photo_clip`: the photo scaled, rolled and moved over a grey canvas, with the
  reference face box of every frame (the face detector benchmark and the face tests);
- :func:`close_up`: a crop in which the face fills a given fraction of the width;
- :func:`write_video` / :func:`write_face_clip`: such clips as small H.264 files, for the
  datasets the workflow tests lay out on disk.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

#: Photo name -> its face box x0, y0, x1, y1 in pixels of the 512x512 photo (astronaut: hand
#: placed from the hairline to the chin; camera: BlazeFace's box, checked by eye).
FACE_BOXES: dict[str, tuple[float, float, float, float]] = {
    "astronaut": (175.0, 68.0, 275.0, 168.0),
    "camera": (204.0, 125.0, 274.0, 196.0),
}
CANVAS: tuple[int, int] = (480, 640)  # height, width
BACKGROUND = 110


@functools.cache
def photo(name: str) -> np.ndarray:
    """The scikit-image photo ``name`` (a key of :data:`FACE_BOXES`) as uint8 (512, 512, 3) RGB."""
    from skimage import data

    image = getattr(data, name)()
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def photo_clip(
    n_frames: int,
    face_px: tuple[float, float] = (46.0, 138.0),
    roll_deg: tuple[float, float] = (0.0, 0.0),
    canvas: tuple[int, int] = CANVAS,
    name: str = "astronaut",
    phase: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A clip of the photo ``name`` moving on a grey canvas, and its reference face boxes.

    The face width goes linearly from ``face_px[0]`` to ``face_px[1]`` pixels and its roll
    from ``roll_deg[0]`` to ``roll_deg[1]`` degrees (counter-clockwise) while the face centre
    travels an ellipse around the canvas centre, starting ``phase`` turns (0..1) along it.
    Returns frames uint8 (n, H, W, 3) RGB and boxes float64 (n, 4) x0, y0, x1, y1 in pixels:
    the reference face box, scaled and moved with the face (not rotated).
    """
    image = photo(name)
    x0, y0, x1, y1 = FACE_BOXES[name]
    face_centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    height, width = canvas
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    boxes = np.empty((n_frames, 4))
    for i, t in enumerate(np.linspace(0.0, 1.0, n_frames)):
        face_width = face_px[0] + t * (face_px[1] - face_px[0])
        scale = face_width / (x1 - x0)
        roll = roll_deg[0] + t * (roll_deg[1] - roll_deg[0])
        angle = 2 * np.pi * (t + phase)
        cx = width / 2 + 0.25 * width * np.cos(angle)
        cy = height / 2 + 0.15 * height * np.sin(angle)
        matrix = cv2.getRotationMatrix2D(face_centre, roll, scale)
        matrix[:, 2] += (cx - face_centre[0], cy - face_centre[1])
        frames[i] = cv2.warpAffine(
            image,
            matrix,
            (width, height),
            flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(BACKGROUND,) * 3,
        )
        half = face_width / 2
        boxes[i] = (cx - half, cy - half, cx + half, cy + half)
    return frames, boxes


def close_up(name: str, fill: float, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A square crop of the photo ``name`` whose face is ``fill`` times the crop's width.

    The crop is centred on the face box and resized to uint8 (size, size, 3) RGB; parts
    beyond the photo are mirrored in. Returns it and the face box (4,) in its pixels.
    """
    x0, y0, x1, y1 = FACE_BOXES[name]
    side = (x1 - x0) / fill
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = size / side
    matrix = np.float32([[scale, 0, size / 2 - cx * scale], [0, scale, size / 2 - cy * scale]])
    crop = cv2.warpAffine(
        photo(name), matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT
    )
    half = fill * size / 2
    return crop, np.array([size / 2 - half, size / 2 - half, size / 2 + half, size / 2 + half])


def is_hit(found: object, reference: np.ndarray) -> bool:
    """Whether a detected box (a :class:`unrender.faces.Box` or None) hits ``reference`` (4,):
    its centre is inside the reference box and its width 0.5-2x the reference's."""
    if found is None:
        return False
    cx, cy = found.centre  # type: ignore[attr-defined]
    x0, y0, x1, y1 = reference
    inside = x0 <= cx <= x1 and y0 <= cy <= y1
    return inside and 0.5 <= found.width / (x1 - x0) <= 2.0  # type: ignore[attr-defined]


def write_video(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    """Encode frames uint8 (n, H, W, 3) RGB, H and W even, as an H.264 ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames.shape[1:3]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _inner(box: np.ndarray, width: int, height: int) -> tuple[slice, slice]:
    """Row and column slices of the middle 60 % of ``box`` (x0, y0, x1, y1), clipped to a
    ``width`` x ``height`` image."""
    x0, y0, x1, y1 = box
    dx, dy = 0.2 * (x1 - x0), 0.2 * (y1 - y0)
    xs = np.clip(np.round([x0 + dx, x1 - dx]), 0, width).astype(int)
    ys = np.clip(np.round([y0 + dy, y1 - dy]), 0, height).astype(int)
    return slice(ys[0], ys[1]), slice(xs[0], xs[1])


def write_face_clip(path: Path, index: int, fake: bool = False, n_frames: int = 8) -> Path:
    """A small (160x120, ``n_frames`` frames) H.264 clip of a real face at ``path``.

    ``index`` picks the photo (astronaut or camera, alternately) and where on its path the
    face starts, so clips of one dataset differ. A ``fake`` clip stands in for a face swap:
    the inner face of every frame is the other photo's, resized into place.
    """
    names = sorted(FACE_BOXES)
    name = names[index % len(names)]
    frames, boxes = photo_clip(
        n_frames, face_px=(48.0, 64.0), canvas=(120, 160), name=name, phase=index / 7
    )
    if fake:
        # Like a face swap, replace the inner face (eyes to mouth: the middle 60 % of the
        # box) and keep the outline, hair and background of the target.
        other = names[(index + 1) % len(names)]
        donor = photo(other)[_inner(np.array(FACE_BOXES[other]), 512, 512)]
        for frame, box in zip(frames, boxes, strict=True):
            inner = _inner(box, 160, 120)
            height, width = frame[inner].shape[:2]
            if height and width:
                frame[inner] = cv2.resize(donor, (width, height), interpolation=cv2.INTER_AREA)
    return write_video(path, frames)
