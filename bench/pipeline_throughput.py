"""Videos per hour through the whole graph, at two dataset sizes, and where the time goes.

Runs ``snakemake --cores N`` on the repository's Snakefile in a fresh folder per size, on the
embedded synthetic data (config/demo.yaml with ``synth.identities`` changed): frames ->
classical modalities -> packs -> the 7 trainings -> evaluate. Every model trains exactly
``--epochs`` epochs (``patience`` = ``max_epochs``), so the training cost per video does not
depend on when early stopping fires. Per size it reports the run's wall time, the CPU
seconds of all its jobs (user + system of Snakemake's children), videos per hour, and per
stage (the first folder of a rule's ``benchmark:`` file: train, pack, decompose, ...) the
job-seconds (``s``) and CPU seconds (``cpu_time``) of Snakemake's benchmark files. Two sizes
give a line: ``cost = fixed + per_video * videos``, in wall and CPU seconds.

Other work on the machine inflates wall time, not CPU seconds much, so the load average
(``os.getloadavg``) is printed before and after each run.

Usage::

    python bench/pipeline_throughput.py [--identities 8 16] [--epochs 3] [--cores 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    """One whole-graph run: its size, its times and the per-stage benchmark sums."""

    identities: int
    videos: int
    samples: int
    wall_s: float
    cpu_s: float
    load_before: float
    load_after: float
    stage_s: dict[str, float]
    stage_cpu_s: dict[str, float]

    @property
    def videos_per_hour(self) -> float:
        return 3600 * self.videos / self.wall_s


def run_config(identities: int, epochs: int) -> dict:
    """config/demo.yaml with ``identities`` identities and a fixed ``epochs`` per model."""
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["run"] = "throughput"
    config["synth"]["identities"] = identities
    config["train"]["max_epochs"] = epochs
    config["train"]["patience"] = epochs
    return config


def stage_sums(benchmarks: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Per stage (first folder under ``benchmarks/``, else the file's stem): summed ``s`` and
    ``cpu_time`` of every benchmark file."""
    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    for path in sorted(benchmarks.rglob("*.tsv")):
        parts = path.relative_to(benchmarks).parts
        stage = parts[0] if len(parts) > 1 else path.stem
        with path.open() as f:
            for row in csv.DictReader(f, delimiter="\t"):
                wall[stage] += float(row["s"])
                cpu[stage] += float(row["cpu_time"]) if row["cpu_time"] != "NA" else 0.0
    return dict(wall), dict(cpu)


def count_samples(run_dir: Path) -> tuple[int, int]:
    """(videos, all samples) accepted into the run's shards."""
    kinds = []
    for shard in sorted((run_dir / "shards").glob("*.tsv")):
        with shard.open() as f:
            kinds += [row.get("kind", "video") for row in csv.DictReader(f, delimiter="\t")]
    return kinds.count("video"), len(kinds)


def run_once(identities: int, epochs: int, cores: int, keep: Path | None) -> Run:
    """One whole-graph run in a fresh folder (under ``keep`` if given, else a temp dir)."""
    work = Path(tempfile.mkdtemp(prefix=f"throughput{identities}_", dir=keep))
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump(run_config(identities, epochs)))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(config),
        "--cores",
        str(cores),
        "--quiet",
    ]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"snakemake failed in {work}:\n{done.stderr[-3000:]}")
    run_dir = work / "results" / "throughput"
    videos, samples = count_samples(run_dir)
    stage_s, stage_cpu_s = stage_sums(run_dir / "benchmarks")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(
        identities,
        videos,
        samples,
        wall,
        cpu,
        load_before,
        os.getloadavg()[0],
        stage_s,
        stage_cpu_s,
    )


def report(runs: list[Run], epochs: int, cores: int) -> list[str]:
    """Markdown: one row per size, the fixed/per-video fit, and the per-stage shares."""
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; `--cores {cores}`, {epochs} epochs per model.",
        "",
        "| identities | videos | samples | wall s | CPU s | videos/hour (wall) | "
        "load before / after |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.identities} | {r.videos} | {r.samples} | {r.wall_s:.0f} | {r.cpu_s:.0f} | "
            f"{r.videos_per_hour:.0f} | {r.load_before:.1f} / {r.load_after:.1f} |"
        )
    if len(runs) >= 2 and runs[-1].videos != runs[0].videos:
        a, b = runs[0], runs[-1]
        dv = b.videos - a.videos
        for what, x, y in (("wall", a.wall_s, b.wall_s), ("CPU", a.cpu_s, b.cpu_s)):
            per_video = (y - x) / dv
            lines.append(
                f"\n{what}: {per_video:.2f} s per video + {x - per_video * a.videos:.0f} s "
                f"fixed (line through the {a.videos}- and {b.videos}-video runs)"
            )
    stages = sorted({s for r in runs for s in r.stage_s}, key=lambda s: -runs[-1].stage_s.get(s, 0))
    lines += [
        "",
        "Share per stage of the benchmark files' job-seconds (`s`) and CPU seconds "
        "(`cpu_time`); jobs run side by side, so job-seconds add up to more than the wall time.",
        "",
        "| stage | " + " | ".join(f"{r.videos} videos: s (share), CPU s" for r in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for stage in stages:
        cells = []
        for r in runs:
            total = sum(r.stage_s.values())
            s = r.stage_s.get(stage, 0.0)
            cells.append(f"{s:.1f} ({100 * s / total:.0f} %), {r.stage_cpu_s.get(stage, 0):.1f}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="run under this folder and keep the runs")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    runs = [run_once(n, args.epochs, args.cores, args.keep) for n in sorted(args.identities)]
    print("\n".join(report(runs, args.epochs, args.cores)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
