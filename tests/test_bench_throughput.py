"""bench/pipeline_throughput.py: its sums over Snakemake's benchmark files and its fit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "pipeline_throughput.py"
spec = importlib.util.spec_from_file_location("pipeline_throughput", SCRIPT)
assert spec is not None and spec.loader is not None
throughput = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = throughput  # dataclasses look their module up there
spec.loader.exec_module(throughput)

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _benchmark(path: Path, s: float, cpu: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{s}\t0:00:01\t1\t1\t1\t1\t0\t0\t0\t{cpu}\n")


def test_stage_sums_group_files_by_their_first_folder(tmp_path: Path) -> None:
    _benchmark(tmp_path / "train" / "rgb.tsv", 10.0, "12.5")
    _benchmark(tmp_path / "train" / "albedo.tsv", 5.0, "4.0")
    _benchmark(tmp_path / "pack" / "frames" / "s0000.tsv", 2.0, "NA")
    _benchmark(tmp_path / "evaluate.tsv", 3.0, "1.0")
    wall, cpu = throughput.stage_sums(tmp_path)
    assert wall == {"evaluate": 3.0, "pack": 2.0, "train": 15.0}
    assert cpu == {"evaluate": 1.0, "pack": 0.0, "train": 16.5}


def test_report_fits_fixed_and_per_video_cost() -> None:
    def run(videos: int, wall: float, cpu: float) -> object:
        return throughput.Run(videos // 4, videos, videos, wall, cpu, 1.0, 1.0, {"train": wall}, {})

    lines = "\n".join(throughput.report([run(32, 200.0, 300.0), run(64, 300.0, 500.0)], 1, 2))
    # wall: (300 - 200) / 32 = 3.125 s per video, 200 - 32 * 3.125 = 100 s fixed.
    assert "wall: 3.12 s per video + 100 s fixed" in lines
    assert "CPU: 6.25 s per video + 100 s fixed" in lines
    assert "| 8 | 32 | 32 | 200 | 300 | 576 |" in lines
    assert run(32, 200.0, 300.0).videos_per_hour == pytest.approx(576.0)
