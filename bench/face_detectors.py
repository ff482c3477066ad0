"""Face detectors on a moving astronaut clip: speed and hit rate; writes face_detectors.md.

The clip: ``skimage.data.astronaut()`` (NASA, public domain) scaled, rolled and moved over a
640x480 grey canvas, 30 frames, the face growing from 46 to 138 px; a second clip adds an
in-plane roll from -30 to +30 degrees. A detection is a hit when the centre of the frame's
largest box lies inside the reference face box and its width is 0.5-2x the reference's.

    .venv/bin/python bench/face_detectors.py [--frames 30] [--repeats 3] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

# The clip is the tests' real-face media (tests/real_faces.py), so the benchmark and the
# face tests see the same frames.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.real_faces import is_hit, photo_clip  # noqa: E402


def measure(name: str, frames: np.ndarray, boxes: np.ndarray, repeats: int) -> dict[str, float]:
    """Median ms/frame over ``repeats`` passes, hits, and frames with more than one box."""
    from unrender import faces

    detector = faces.get_detector(name)  # type: ignore[arg-type]
    detector.detect(frames[0])  # warm-up: first call allocates
    times, all_boxes = [], []
    for _ in range(repeats):
        for frame in frames:
            start = time.perf_counter()
            all_boxes.append(detector.detect(frame))
            times.append(time.perf_counter() - start)
    last = all_boxes[-len(frames) :]
    largest = [max(b, key=lambda x: x.area) if b else None for b in last]
    return {
        "ms": 1000 * statistics.median(times),
        "hits": sum(is_hit(b, r) for b, r in zip(largest, boxes, strict=True)),
        "extra": sum(len(b) > 1 for b in last),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("face_detectors.md"))
    args = parser.parse_args(argv)

    from unrender import faces

    cv2.setNumThreads(2)
    clips = {
        "astronaut": photo_clip(args.frames),
        "astronaut+roll": photo_clip(args.frames, roll_deg=(-30.0, 30.0)),
    }
    n = args.frames
    lines = [
        "# Face detectors: speed and hit rate",
        "",
        f"Written by `bench/face_detectors.py --frames {n} --repeats {args.repeats}` on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__}, 2 threads each, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end.",
        "",
        f"Clip: skimage's astronaut on a 640x480 canvas, {n} frames, face 46 -> 138 px wide, "
        "moving on an ellipse; '+roll' adds an in-plane roll from -30 to +30 degrees. Hit: the "
        "centre of the largest box is inside the reference box and its width is 0.5-2x. "
        "ms/frame: median over all frames and passes after one warm-up call.",
        "",
        f"| detector | ms/frame | hits astronaut /{n} | hits astronaut+roll /{n} "
        "| frames with >1 box |",
        "|---|---|---|---|---|",
    ]
    for name in faces.DETECTORS:
        rows = {clip: measure(name, *data, args.repeats) for clip, data in clips.items()}
        speed = statistics.median(r["ms"] for r in rows.values())
        extra = sum(r["extra"] for r in rows.values())
        lines.append(
            f"| {name} | {speed:.1f} | {rows['astronaut']['hits']} "
            f"| {rows['astronaut+roll']['hits']} | {extra}/{2 * n} |"
        )
        print(lines[-1], flush=True)
    lines += [
        "",
        "Choice: **blazeface** is the default (`frames.face_detector`): it finds the face at "
        "every size and roll here and is the faster of the two; `haar` is the fallback that "
        "needs nothing beyond OpenCV, for upright faces.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
