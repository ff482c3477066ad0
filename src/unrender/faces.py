"""Offline face detection and square face crops of the frames of one video.

Two detectors, both with their model on local disk (nothing is downloaded at run time):

- ``blazeface`` (default): MediaPipe's BlazeFace full-range model (Apache-2.0), the
  ``face_detection_full_range.tflite`` file, run with ``ai-edge-litert``. The anchor decoding
  and the weighted non-maximum suppression are ours (:class:`BlazeFace`). Found every face of
  46-138 px with up to +-30 degrees of roll in the benchmark (bench/face_detectors.md).
- ``haar``: OpenCV's Haar cascade ``haarcascade_frontalface_alt2.xml`` from ``cv2.data``; no
  extra dependency, but it loses faces beyond about +-15 degrees of roll and has no score.

A clip is cropped with one square size for all its frames (``margin`` times the median
detected face size; boxes far from that size are ignored as stray), centred on each frame's
own face. The sampled frames are seconds apart, so the face may move anywhere between
them: the size is smoothed over the clip, the position is not. Frames without a face take
the centre of the nearest frame with one.
A frame where the detector finds no face is searched again with a border around it (a
close-up face is too large for the full-range model; see :data:`RETRY_BORDERS`).
When no frame has a face, the ``no_face`` policy decides: ``fallback-center`` crops the
centred square of the frame and flags it (:attr:`FaceCrop.fallback`), ``reject`` raises
:class:`unrender.rejected.RejectedInput`.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np

from unrender.rejected import RejectedInput

DetectorName = Literal["blazeface", "haar"]
NoFacePolicy = Literal["fallback-center", "reject"]
DETECTORS: tuple[str, ...] = ("blazeface", "haar")
NO_FACE_POLICIES: tuple[str, ...] = ("fallback-center", "reject")

BLAZEFACE_MODEL = "face_detection_full_range.tflite"


@dataclass(frozen=True)
class Box:
    """A face box in pixels of its frame (x right, y down); ``score`` in [0, 1]."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


@dataclass(frozen=True)
class Square:
    """A square crop window in pixels: centre ``(cx, cy)``, side length ``side``."""

    cx: float
    cy: float
    side: float


class Detector(Protocol):
    """Finds every face of one frame."""

    def detect(self, frame: np.ndarray) -> list[Box]:
        """All faces of ``frame`` (uint8 (H, W, 3) RGB), in any order."""
        ...


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (4,) with boxes (n, 4), all as x0, y0, x1, y1."""
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, min_iou: float) -> list[Box]:
    """Merge overlapping detections: each cluster becomes its score-weighted mean box.

    boxes: float (n, 4) x0, y0, x1, y1; scores: float (n,) in [0, 1]. The best remaining box
    takes every box overlapping it by IoU >= ``min_iou``; the cluster keeps the best score.
    Averaging instead of dropping (as MediaPipe does) steadies the box between frames.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    merged: list[Box] = []
    alive = np.ones(len(scores), dtype=bool)
    for i in range(len(scores)):
        if not alive[i]:
            continue
        cluster = alive & (_iou(boxes[i], boxes) >= min_iou)
        weights = scores[cluster]
        mean = (boxes[cluster] * weights[:, None]).sum(0) / weights.sum()
        merged.append(Box(*map(float, mean), score=float(scores[i])))
        alive &= ~cluster
    return merged


def blazeface_model_path() -> Path:
    """The BlazeFace full-range .tflite shipped in unrender/data (see its README.md)."""
    shipped = importlib.resources.files("unrender") / "data" / BLAZEFACE_MODEL
    if not shipped.is_file():
        raise FileNotFoundError(
            f"BlazeFace model {shipped} is missing: reinstall unrender, or use detector 'haar'"
        )
    return Path(str(shipped))


class BlazeFace:
    """MediaPipe BlazeFace full-range detector (192x192 input, 48x48 anchor grid).

    The model regresses, for each anchor (the centre of a cell of a 48x48 grid over the
    letterboxed input), 16 numbers in input pixels: box centre offset (2), box size (2) and
    6 keypoints (12), plus one logit. Settings are those of MediaPipe's full-range graph:
    input scaled to [-1, 1], score threshold 0.6, weighted NMS at IoU 0.3.
    """

    INPUT_SIZE = 192
    GRID = 48
    MIN_SCORE = 0.6
    MIN_IOU = 0.3

    def __init__(self, model_path: str | Path | None = None, num_threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(
            model_path=str(model_path or blazeface_model_path()), num_threads=num_threads
        )
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
        # Output order is not part of the model's contract; the names are.
        self.regressor_index = next(i for n, i in outputs.items() if "regressor" in n)
        self.classifier_index = next(i for n, i in outputs.items() if "classifier" in n)
        cells = (np.arange(self.GRID, dtype=np.float32) + 0.5) / self.GRID
        ys, xs = np.meshgrid(cells, cells, indexing="ij")
        # Anchor centres in [0, 1] of the input, row by row as the model lists them.
        self.anchors = np.stack([xs.ravel(), ys.ravel()], axis=1)

    def _letterbox(self, frame: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """Fit ``frame`` into the square input, centred; return it, scale and x/y padding."""
        h, w = frame.shape[:2]
        scale = self.INPUT_SIZE / max(h, w)
        new_w, new_h = max(round(w * scale), 1), max(round(h * scale), 1)
        resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
        pad_x, pad_y = (self.INPUT_SIZE - new_w) // 2, (self.INPUT_SIZE - new_h) // 2
        canvas = np.zeros((self.INPUT_SIZE, self.INPUT_SIZE, 3), np.float32)
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized / 127.5 - 1.0
        return canvas, scale, pad_x, pad_y

    def detect(self, frame: np.ndarray) -> list[Box]:
        """All faces of ``frame`` (uint8 (H, W, 3) RGB) as boxes in frame pixels."""
        tensor, scale, pad_x, pad_y = self._letterbox(frame)
        self.interpreter.set_tensor(self.input_index, tensor[None])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.regressor_index)[0]
        logits = self.interpreter.get_tensor(self.classifier_index)[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))
        keep = scores >= self.MIN_SCORE
        if not keep.any():
            return []
        size = self.INPUT_SIZE
        centre = self.anchors[keep] * size + raw[keep, 0:2]
        half = raw[keep, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        # Back from letterbox input pixels to frame pixels.
        boxes = (boxes - np.array([pad_x, pad_y, pad_x, pad_y], np.float32)) / scale
        return weighted_nms(boxes, scores[keep], self.MIN_IOU)


class HaarCascade:
    """OpenCV's frontal-face Haar cascade alt2 (ships inside opencv-python-headless)."""

    MODEL = "haarcascade_frontalface_alt2.xml"

    def __init__(self, min_size: int = 32) -> None:
        path = Path(cv2.data.haarcascades) / self.MODEL
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise FileNotFoundError(f"OpenCV could not load the Haar cascade {path}")
        self.min_size = min_size

    def detect(self, frame: np.ndarray) -> list[Box]:
        """All faces of ``frame`` (uint8 (H, W, 3) RGB); Haar gives no score, so 1.0."""
        gray = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
        found = self.cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=4, minSize=(self.min_size, self.min_size)
        )
        return [Box(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h in found]


@functools.cache
def get_detector(name: DetectorName = "blazeface") -> Detector:
    """The detector called ``name`` (built once per process: loading costs ~50 ms)."""
    if name == "blazeface":
        return BlazeFace()
    if name == "haar":
        return HaarCascade()
    raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")


def _check_frames(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (k, H, W, 3), got {frames.dtype} {frames.shape}")


#: Border added around a frame in which no face was found, before detecting again, as a
#: fraction of the frame's height and width on each side: the frame then fills 1/2, then
#: 1/3 of the detector's input. A face that fills most of the frame is larger than the
#: faces BlazeFace's full-range model was trained on (it finds none above ~85 % of the
#: frame's width on skimage's astronaut); shrunk this way it is found again.
RETRY_BORDERS: tuple[float, ...] = (0.5, 1.0)


def pad_frame(frame: np.ndarray, border: float) -> tuple[np.ndarray, int, int]:
    """``frame`` (uint8 (H, W, 3)) inside a border of its mean colour; return it and the
    border's width and height in pixels (``border`` times W and H on each side)."""
    h, w = frame.shape[:2]
    dx, dy = round(border * w), round(border * h)
    mean = tuple(float(v) for v in frame.reshape(-1, 3).mean(0))
    padded = cv2.copyMakeBorder(frame, dy, dy, dx, dx, cv2.BORDER_CONSTANT, value=mean)
    return padded, dx, dy


def detect_largest(detector: Detector, frame: np.ndarray) -> Box | None:
    """The largest face (by box area) of ``frame`` (uint8 (H, W, 3) RGB), or ``None``.

    Where ``detector`` finds none, it looks again on the frame padded by each of
    :data:`RETRY_BORDERS` in turn (see there); boxes are in frame pixels and may reach
    beyond the frame's edges. A frame without a face costs 1 + len(RETRY_BORDERS) detections.
    """
    boxes = detector.detect(frame)
    for border in RETRY_BORDERS:
        if boxes:
            break
        padded, dx, dy = pad_frame(frame, border)
        boxes = [
            Box(b.x0 - dx, b.y0 - dy, b.x1 - dx, b.y1 - dy, b.score)
            for b in detector.detect(padded)
        ]
    return max(boxes, key=lambda b: b.area) if boxes else None


def detect_faces(frames: np.ndarray, detector: DetectorName = "blazeface") -> list[Box | None]:
    """The largest face of each frame (see :func:`detect_largest`), ``None`` where none is found.

    frames: uint8 (k, H, W, 3) RGB. Returns k entries in frame pixels.
    """
    _check_frames(frames)
    found = get_detector(detector)
    return [detect_largest(found, frame) for frame in frames]


def track_squares(boxes: Sequence[Box | None], margin: float = 1.3) -> list[Square] | None:
    """One crop square per frame from its face boxes; ``None`` when no frame has a face.

    A box whose size (max of width and height) is outside 0.5-2x the median size is a
    stray detection and counts as no face. Side: ``margin`` times the median size of the
    remaining boxes, the same for every frame. Centre: the frame's own face centre, or, for
    a frame without a face, that of the nearest frame with one (the earlier on a tie).
    """
    found = [i for i, b in enumerate(boxes) if b is not None]
    if not found:
        return None
    size = {i: max(boxes[i].width, boxes[i].height) for i in found}
    median = float(np.median(list(size.values())))
    kept = [i for i in found if 0.5 * median <= size[i] <= 2.0 * median]
    side = margin * float(np.median([size[i] for i in kept]))
    nearest = [min(kept, key=lambda j, i=i: (abs(j - i), j)) for i in range(len(boxes))]
    return [Square(*boxes[j].centre, side) for j in nearest]


def centre_square(height: int, width: int) -> Square:
    """The largest square centred in a ``height`` x ``width`` frame."""
    return Square(width / 2, height / 2, float(min(height, width)))


def crop_square(frame: np.ndarray, square: Square, size: int) -> np.ndarray:
    """Cut ``square`` out of ``frame`` (uint8 (H, W, 3)) and resize it to uint8 (size, size, 3).

    Parts of the square outside the frame are black, so the face stays centred and unscaled
    relative to the other frames of the clip.
    """
    side = max(round(square.side), 1)
    x0, y0 = round(square.cx - side / 2), round(square.cy - side / 2)
    h, w = frame.shape[:2]
    window = np.zeros((side, side, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        window[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(window, (size, size), interpolation=interpolation)


@dataclass(frozen=True)
class FaceCrop:
    """Face crops of one clip.

    frames: uint8 (k, size, size, 3) RGB. squares: the k crop windows in source pixels.
    fallback: True when no face was found and the centred squares were used instead.
    """

    frames: np.ndarray
    squares: list[Square]
    fallback: bool


def crop_faces(
    frames: np.ndarray,
    boxes: Sequence[Box | None],
    margin: float = 1.3,
    size: int = 256,
    no_face: NoFacePolicy = "fallback-center",
) -> FaceCrop:
    """Square face crops of a clip from its per-frame boxes (see :func:`track_squares`).

    frames: uint8 (k, H, W, 3) RGB; boxes: k entries from :func:`detect_faces`.
    Raises RejectedInput when no frame has a face and ``no_face`` is ``reject``.
    """
    _check_frames(frames)
    if len(boxes) != len(frames):
        raise ValueError(f"{len(boxes)} boxes for {len(frames)} frames")
    if no_face not in NO_FACE_POLICIES:
        raise ValueError(f"no_face must be one of {', '.join(NO_FACE_POLICIES)}, got {no_face!r}")
    squares = track_squares(boxes, margin)
    fallback = squares is None
    if squares is None:
        if no_face == "reject":
            raise RejectedInput(f"no face found in any of the {len(frames)} frames")
        squares = [centre_square(*frames.shape[1:3])] * len(frames)
    crops = np.stack([crop_square(f, s, size) for f, s in zip(frames, squares, strict=True)])
    return FaceCrop(crops, squares, fallback)


@dataclass(frozen=True)
class FaceOptions:
    """How faces are cropped: detector, margin (x face size), output side in px, no-face policy."""

    detector: DetectorName
    margin: float
    size: int
    no_face: NoFacePolicy

    @classmethod
    def from_config(cls, frames: Mapping[str, object]) -> FaceOptions:
        """From a ``frames`` config section (validated; the schema fills missing keys)."""
        from unrender.config import section

        f = section("frames", frames)
        return cls(f["face_detector"], f["face_margin"], f["size"], f["no_face"])


def face_crops(frames: np.ndarray, options: FaceOptions | None = None) -> FaceCrop:
    """Detect and crop the face of every frame of a clip: the frame stage's one call.

    frames: uint8 (k, H, W, 3) RGB at source resolution (crop before any resize).
    """
    options = options or FaceOptions.from_config({})
    boxes = detect_faces(frames, options.detector)
    return crop_faces(frames, boxes, options.margin, options.size, options.no_face)
