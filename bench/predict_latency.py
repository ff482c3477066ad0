"""How long one ``unrender predict`` takes, against what it cannot avoid (issue 16, item 7).

On one 16 s 640x480 H.264 clip (25 fps, a real face moving over a grey canvas:
``tests/real_faces.photo_clip``), times whole processes, in rounds that alternate the
commands, and reports medians:

- the import floor: ``python -c "import torch, torchvision"``;
- ``unrender extract`` of the clip's 5 frames and ``unrender decompose`` of those frames;
- ``unrender predict`` of the clip (its default, ``--threads 1``) and with
  ``--threads $(nproc)`` (torch's own default, what predict did before).

Goal: predict <= 1.25 x (floor + extract + decompose), all measured in the same run.

The models: ``--run results/demo`` (a trained run folder), else a run folder written here
with the demo's preparation (5 frames of 128 px, classical backend, 64 px model inputs) and
random-init ResNet-18 weights: latency does not depend on the weights' values.

    .venv/bin/python bench/predict_latency.py [--run results/demo] [--repeats 3] [--out PATH]

Writes bench/predict_latency.md (and caches the clip under bench/out/, git-ignored).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SECONDS, FPS = 16, 25
GOAL_RATIO = 1.25
#: The demo's preparation of frames and modalities, and its models' input size.
DEMO_FRAMES = {"per_video": 5, "size": 128, "short_video": "repeat"}
DEMO_IMAGE_SIZE = 64


def write_clip(path: Path) -> Path:
    """The 16 s 640x480 clip at ``path`` (made once)."""
    if not path.is_file():
        sys.path.insert(0, str(REPO))
        from tests.real_faces import photo_clip, write_video

        frames, _ = photo_clip(SECONDS * FPS)
        write_video(path, frames, fps=FPS)
    return path


def write_untrained_run(run: Path) -> Path:
    """A run folder with random-init checkpoints of every model, prepared as the demo's."""
    import torch

    from unrender.train import checkpoint
    from unrender.train.inputs import MODEL_INPUTS
    from unrender.train.models import build_model

    torch.manual_seed(0)
    for name in MODEL_INPUTS:
        meta = {
            "model": name,
            "arch": "resnet18",
            "options": {"image_size": DEMO_IMAGE_SIZE},
            "preprocess": {"frames": DEMO_FRAMES, "backend": "classical", "backend_options": {}},
        }
        checkpoint.save(run / "models" / name, build_model(name), meta)
    return run


def timed(command: list[str]) -> float:
    """Wall seconds of ``command`` (output discarded; a failure stops the benchmark)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def uptime() -> str:
    return "{:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained run folder, e.g. results/demo")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "predict_latency.md")
    args = parser.parse_args(argv)

    clip = write_clip(BENCH / "out" / "predict_clip_16s_640x480.mp4")
    unrender = [sys.executable, "-m", "unrender.cli"]
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        run = args.run or write_untrained_run(work / "run")
        frames = work / "frames"
        commands = {
            "import floor (`import torch, torchvision`)": [
                sys.executable,
                "-c",
                "import torch, torchvision",
            ],
            "`unrender extract` (5 frames)": [
                *unrender,
                *("extract", str(clip), "--out", str(frames), "--frames", "5", "--size", "128"),
            ],
            "`unrender decompose` (those 5)": [
                *unrender,
                "decompose",
                *(str(frames / f"{k}.png") for k in range(5)),
                *("--out", str(work / "modalities")),
            ],
            "`unrender predict` (default, --threads 1)": [
                *unrender,
                *("predict", str(clip), "--run", str(run), "--device", "cpu"),
            ],
            f"`unrender predict --threads {cpus}` (torch's default)": [
                *unrender,
                *("predict", str(clip), "--run", str(run), "--device", "cpu"),
                *("--threads", str(cpus)),
            ],
        }
        load_before = uptime()
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(args.repeats):
            for name, command in commands.items():
                times[name].append(timed(command))
            print(f"round {round_ + 1}: " + ", ".join(f"{t[-1]:.2f}" for t in times.values()))
        load_after = uptime()
    median = {name: statistics.median(t) for name, t in times.items()}
    names = list(commands)
    floor = median[names[0]] + median[names[1]] + median[names[2]]
    ratios = {name: median[name] / floor for name in names[3:]}
    lines = [
        "# One prediction: `unrender predict` against its floor",
        "",
        f"Written by `bench/predict_latency.py --repeats {args.repeats}"
        + (f" --run {args.run}" if args.run else "")
        + f"` on {platform.machine()}, {cpus} CPUs, Python {platform.python_version()}; "
        f"load average {load_before} before, {load_after} after (other work on the machine "
        "inflates the times).",
        "",
        f"One {SECONDS} s {640}x{480} H.264 clip at {FPS} fps; whole processes, start-up "
        f"included; medians of {args.repeats} alternating rounds. Models: "
        + (
            f"the trained run `{args.run}`."
            if args.run
            else "random-init ResNet-18s "
            "prepared as the demo's (5 frames of 128 px, classical backend, 64 px inputs)."
        ),
        "",
        "| command | wall s, median (min-max) |",
        "|---|---|",
        *(
            f"| {name} | {median[name]:.2f} ({min(times[name]):.2f}-{max(times[name]):.2f}) |"
            for name in names
        ),
        "",
        f"Floor = import + extract + decompose = {floor:.2f} s. Goal: predict <= "
        f"{GOAL_RATIO} x floor.",
        "",
        *(
            f"- {name}: {ratio:.2f} x floor, goal " + ("met" if ratio <= GOAL_RATIO else "not met")
            for name, ratio in ratios.items()
        ),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
