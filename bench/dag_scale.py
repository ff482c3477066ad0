"""How long ``snakemake -n`` takes, and how much memory, on a 20,000-video manifest.

Writes a manifest of N placeholder videos (empty files: a dry run opens none), then times a
dry run of the repository's Snakefile on it (``dataset.kind: manifest``, ``shard_size`` 64 and
the default ``max_shards``, as a user gets them) beside the same graph without the cap on
shards (one shard per 64 videos), a toy graph with one job per video on the same manifest,
and the bare start-up of Snakemake (``snakemake --version``) as the floor no workflow gets
under. Each command runs
``--repeats`` times; the table gives the median and the range of the wall time and the peak
resident memory of the process (``ru_maxrss`` from ``wait4``). Goal for ours, a ratio in
the same run so machine load cancels: median <= 2 x that of ``snakemake --version``, and
<= 300 MB. Writes bench/dag_scale.md.

    .venv/bin/python bench/dag_scale.py [--videos 20000] [--repeats 3] [--shard-size 64]
        [--max-shards N] [--shard-one] [--profile] [--snakefile PATH] [--work DIR] [--out PATH]

``--shard-one`` adds our Snakefile at ``shard_size: 1`` without a cap (one job per video
through the real rules; minutes). ``--profile`` adds the top of a cProfile of our dry run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Our dry run against the bare start-up (``snakemake --version``) of the same run.
GOAL_RATIO = 2.0
GOAL_MB = 300.0

#: One job per video, nothing else: the graph a per-video rule gives.
TOY_SNAKEFILE = """\
import csv

with open(config["manifest"], newline="") as f:
    PATHS = {r["sample_id"]: r["path"] for r in csv.DictReader(f, delimiter="\\t")}


rule all:
    input:
        expand("out/{sample}.tsv", sample=PATHS),


rule per_video:
    input:
        lambda wildcards: f"{config['root']}/{PATHS[wildcards.sample]}",
    output:
        "out/{sample}.tsv",
    shell:
        "touch {output}"
"""


@dataclass(frozen=True)
class Measured:
    """One graph's dry runs: wall seconds of each run, peak RSS in MB, job count."""

    name: str
    seconds: list[float]
    peak_mb: float
    jobs: int | None
    judged: bool  # whether the goal applies (our graph) or the row is a reference


def write_dataset(
    work: Path, n_videos: int, shards: dict[str, tuple[int, int | None]]
) -> dict[str, Path]:
    """Placeholder videos, their manifest, the toy graph, and one config of ours per entry of
    ``shards`` (name -> ``shard_size`` and ``max_shards``; None: the config's default)."""
    from unrender.datasets import write_manifest
    from unrender.datasets.common import row

    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_videos):
        name = f"v{i:06d}.mp4"
        (data / name).touch()
        # Four videos per group, like an original and three fakes made from it.
        rows.append(row(f"v{i:06d}", name, i % 2, f"g{i // 4:06d}", "", "video", "bench"))
    manifest = work / "manifest.tsv"
    write_manifest(manifest, rows)
    configs = {}
    for name, (size, max_shards) in shards.items():
        config = work / f"config_{name}.yaml"
        config.write_text(
            f"run: dagscale\ndataset:\n  kind: manifest\n  manifest: {manifest}\n"
            f"  root: {data}\nshard_size: {size}\n"
            + (f"max_shards: {max_shards}\n" if max_shards is not None else "")
        )
        configs[name] = config
    toy = work / "toy" / "Snakefile"
    toy.parent.mkdir(exist_ok=True)
    toy.write_text(TOY_SNAKEFILE)
    return {"data": data, "manifest": manifest, "toy": toy, **configs}


def run_measured(command: list[str], timeout: float) -> tuple[float, float, str]:
    """Run ``command``; return wall seconds, peak RSS in MB and its output (stdout+stderr)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        while True:
            # wait4 gives this child's own resource usage, peak memory included.
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                process.kill()
                raise TimeoutError(f"{' '.join(command)} ran past {timeout:.0f} s")
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{text[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, text  # ru_maxrss is in KiB on Linux


def job_count(output: str) -> int | None:
    """The ``total N`` line of Snakemake's job statistics."""
    match = re.search(r"^total\s+(\d+)\s*$", output, re.MULTILINE)
    return int(match[1]) if match else None


def measure(
    name: str, command: list[str], repeats: int, timeout: float, judged: bool = False
) -> Measured:
    """Run ``command`` ``repeats`` times (see :class:`Measured`)."""
    runs = [run_measured(command, timeout) for _ in range(repeats)]
    print(f"{name}: {[round(r[0], 2) for r in runs]} s", flush=True)
    peak = max(r[1] for r in runs)
    return Measured(name, [r[0] for r in runs], peak, job_count(runs[-1][2]), judged)


def dry_run(snakefile: Path, workdir: Path, *options: str) -> list[str]:
    """A quiet ``snakemake -n`` command that still prints the job statistics."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--cores",
        "1",
        "--quiet",
        "rules",
        *options,
    ]


def profile_dry_run(command: list[str], top: int = 25) -> str:
    """cProfile of one dry run in this process (``command`` minus the interpreter)."""
    from snakemake.cli import main as snakemake_main

    profiler = cProfile.Profile()
    argv, cwd = sys.argv, os.getcwd()
    sys.argv = ["snakemake", *command[3:]]
    try:
        profiler.runcall(snakemake_main)
    except SystemExit:
        pass
    finally:
        # Snakemake changes into --directory; come back for the caller's relative paths.
        sys.argv = argv
        os.chdir(cwd)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def table(results: list[Measured]) -> list[str]:
    """The markdown table; the first row is the start-up every ratio is taken against."""
    startup = statistics.median(results[0].seconds)
    lines = [
        f"| graph | jobs | wall s, median (min-max) | x start-up | peak RSS MB | goal "
        f"(<= {GOAL_RATIO:g} x start-up, <= {GOAL_MB:.0f} MB) |",
        "|---|---|---|---|---|---|",
    ]
    for m in results:
        med = statistics.median(m.seconds)
        met = med <= GOAL_RATIO * startup and m.peak_mb <= GOAL_MB
        goal = ("ok" if met else "missed") if m.judged else "(reference)"
        lines.append(
            f"| {m.name} | {m.jobs if m.jobs is not None else '-'} | {med:.2f} "
            f"({min(m.seconds):.2f}-{max(m.seconds):.2f}) | {med / startup:.2f} | "
            f"{m.peak_mb:.0f} | {goal} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20_000)
    parser.add_argument("--shard-size", type=int, default=64)
    parser.add_argument("--max-shards", type=int, help="ours' cap (default: the config's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shard-one", action="store_true", help="also ours at shard_size 1")
    parser.add_argument("--profile", action="store_true", help="append a cProfile of ours")
    parser.add_argument("--snakefile", type=Path, default=REPO / "Snakefile")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per dry run")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("dag_scale.md"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dag_scale_") as scratch:
        work = args.work or Path(scratch)
        uncapped = args.videos  # a cap no manifest of --videos rows reaches
        shards = {
            "ours": (args.shard_size, args.max_shards),
            "uncapped": (args.shard_size, uncapped),
            "one": (1, uncapped),
        }
        files = write_dataset(work, args.videos, shards)
        ours, ours_uncapped = (
            dry_run(args.snakefile, work / name, "--configfile", str(files[name]))
            for name in ("ours", "uncapped")
        )
        cap = f"max_shards {args.max_shards}" if args.max_shards else "default max_shards"
        toy = dry_run(
            files["toy"],
            work / "toy_run",
            "--config",
            f"manifest={files['manifest']}",
            f"root={files['data']}",
        )
        version = [sys.executable, "-m", "snakemake", "--version"]
        results = [
            measure("Snakemake start-up only (`--version`)", version, args.repeats, args.timeout),
            measure(
                f"ours: shard_size {args.shard_size}, {cap}", ours, args.repeats, args.timeout, True
            ),
            measure(
                f"ours without the cap: shards of {args.shard_size}",
                ours_uncapped,
                args.repeats,
                args.timeout,
            ),
            measure("toy: one job per video", toy, args.repeats, args.timeout),
        ]
        if args.shard_one:
            one = dry_run(args.snakefile, work / "ours1", "--configfile", str(files["one"]))
            results.append(
                measure("ours: shards of 1 (a job per video)", one, 1, args.timeout, True)
            )
        profile = profile_dry_run(ours) if args.profile else ""

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "# DAG scale: `snakemake -n` on a large manifest",
        "",
        f"Written by `bench/dag_scale.py --videos {args.videos} --repeats {args.repeats}"
        f"{f' --shard-size {args.shard_size}' if args.shard_size != 64 else ''}"
        f"{f' --max-shards {args.max_shards}' if args.max_shards else ''}"
        f"{' --shard-one' if args.shard_one else ''}"
        f"{f' --snakefile {args.snakefile}' if args.snakefile != REPO / 'Snakefile' else ''}` "
        f"on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{load} at the end (other work on the machine inflates the times).",
        "",
        f"{args.videos} placeholder videos in one manifest (`dataset.kind: manifest`). Wall time "
        "and peak resident memory of the whole `snakemake -n` process, start-up included.",
        "",
        *table(results),
        "",
    ]
    if profile:
        lines += ["## Where our dry run spends its time (cProfile)", "", "```", profile, "```", ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
