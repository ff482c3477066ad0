"""The per-shard stages outside Snakemake: what frames/{shard}.tsv and data_summary.tsv say."""

from __future__ import annotations

from pathlib import Path

from tests.bad_inputs import write_clip
from unrender import manifest
from unrender.io import read_tsv
from unrender.pipeline import DAMAGED_COLUMN, FrameOptions, extract_shard, summarise_data


def write_truncated_faststart(path: Path, n_frames: int = 60, keep: float = 0.3) -> None:
    """A fast-start MP4 (index first) cut to ``keep`` of its bytes: its header still claims
    ``n_frames`` frames, only the first few can be read (3 of 60 at 0.3)."""
    write_clip(path, n_frames, container_options={"movflags": "faststart"})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_repeated_frames_say_why_and_damaged_files_are_counted(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    write_truncated_faststart(root / "cut.mp4")
    write_clip(root / "short.mp4", 3)
    write_clip(root / "whole.mp4", 20)
    samples = [
        manifest.Sample(name, f"{name}.mp4", i % 2, name, "", "video", "t")
        for i, name in enumerate(("cut", "short", "whole"))
    ]
    manifest.write_samples(tmp_path / "shard.tsv", samples)
    out = tmp_path / "run"
    counts = extract_shard(
        tmp_path / "shard.tsv",
        root,
        FrameOptions.from_config({"per_video": 5, "size": 32}),
        out / "frames" / "s0000",
        out / "shards" / "s0000.tsv",
        out / "frames" / "s0000.tsv",
        out / "rejected" / "frames" / "s0000.tsv",
    )
    assert counts == (3, 0)
    rows = read_tsv(out / "frames" / "s0000.tsv")
    repeat = {
        sid: [r["repeat"] for r in rows if r["sample_id"] == sid]
        for sid in ("cut", "short", "whole")
    }
    assert "damaged" in repeat["cut"] and "short" not in repeat["cut"]
    assert repeat["short"] == ["", "short", "", "", "short"]  # 3 frames -> 0 0 1 2 2
    assert repeat["whole"] == [""] * 5
    assert all(r["requested"] and r["frame_index"] for r in rows)

    (out / "rejected" / "manifest.tsv").write_text("sample_id\tpath\tstage\treason\n")
    summarise_data(
        [out / "rejected" / "manifest.tsv", out / "rejected" / "frames" / "s0000.tsv"],
        [out / "shards" / "s0000.tsv"],
        [out / "frames" / "s0000.tsv"],
        out / "rejected.tsv",
        out / "data_summary.tsv",
    )
    summary = {r["stage"]: r for r in read_tsv(out / "data_summary.tsv")}
    assert summary["total"][DAMAGED_COLUMN] == "1"
    assert summary["total"]["accepted"] == "3"
