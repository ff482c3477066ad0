"""evaluate.cross: which samples a target gives, its readiness check, cross.tsv rows and the
summary table (the whole graph is tested on the shared tiny run, tests/test_results.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_config import tiny_synth_config
from tests.workflow_runner import refusal, snakemake_command, venv_env, write_config
from unrender.evaluate import predictions
from unrender.evaluate.cross import CROSS_COLUMNS, DELTA_COLUMNS, cross_rows, scored_samples
from unrender.evaluate.run import ALL_MODELS, ENSEMBLES
from unrender.evaluate.targets import (
    TargetNotReady,
    check_targets,
    target_inputs,
    target_shards,
)
from unrender.manifest import Sample
from unrender.modalities import MODALITIES
from unrender.report.cross import cross_lines


def _sample(sample_id: str, split: str) -> Sample:
    return Sample(sample_id, f"{sample_id}.mp4", 0, sample_id, split, "video", "")


def test_a_target_with_a_test_list_gives_it_and_one_without_gives_everything() -> None:
    listed = [_sample("a", "test"), _sample("b", ""), _sample("c", "train")]
    assert scored_samples(listed) == {"a"}
    assert scored_samples([_sample("a", ""), _sample("b", "")]) == {"a", "b"}


def _ready_target(results: Path, name: str, shards: tuple[str, ...]) -> Path:
    run = results / name
    for shard in shards:
        (run / "shards").mkdir(parents=True, exist_ok=True)
        (run / "shards" / f"{shard}.tsv").write_text("")
        (run / "frames" / shard).mkdir(parents=True)
        for m in MODALITIES:
            (run / "modalities" / m / shard).mkdir(parents=True)
    (run / "data_summary.tsv").write_text("")
    return run


def test_a_target_is_ready_once_its_data_stage_has_run(tmp_path: Path) -> None:
    run = _ready_target(tmp_path, "celebdf", ("s0000", "s0001"))
    assert [p.name for p in target_shards(tmp_path, "celebdf")] == ["s0000.tsv", "s0001.tsv"]
    inputs = target_inputs(tmp_path, "celebdf")
    assert inputs["frames"] == [str(run / "frames" / s) for s in ("s0000", "s0001")]
    assert len(inputs["modalities"]) == len(MODALITIES) * 2

    with pytest.raises(TargetNotReady) as absent:
        target_shards(tmp_path, "dfdc")
    assert str(absent.value) == (
        f"evaluate.cross: target run 'dfdc' has no frames under {tmp_path / 'dfdc'}; make them "
        "first with `snakemake data --configfile <the config with run: dfdc>`"
    )
    (run / "modalities" / "shadow" / "s0001").rmdir()
    with pytest.raises(TargetNotReady, match="'celebdf' has no modalities of shard s0001"):
        target_shards(tmp_path, "celebdf")


def test_a_run_is_not_its_own_target_and_a_target_is_named_once() -> None:
    check_targets("ffpp", ["celebdf", "dfdc"])
    with pytest.raises(ValueError, match="lists the run itself"):
        check_targets("ffpp", ["celebdf", "ffpp"])
    with pytest.raises(ValueError, match="lists dfdc more than once"):
        check_targets("ffpp", ["dfdc", "celebdf", "dfdc"])


def _tables(seed: int) -> dict[str, predictions.Predictions]:
    """Predictions of every model on 8 videos of 3 frames (4 real, 4 fake), one group each."""
    rng = np.random.default_rng(seed)
    ids = np.repeat([f"v{i}" for i in range(8)], 3)
    labels = np.repeat([0, 1] * 4, 3)
    base = predictions.from_rows(
        ids, np.tile(range(3), 8), ["test"] * 24, labels, [0.5] * 24, ["video"] * 24
    )
    return {
        m: base.with_prob(np.clip(0.3 * labels + rng.random(24) * 0.7, 0, 1)) for m in ALL_MODELS
    }


def test_cross_rows_have_every_model_and_level_and_ensembles_compared() -> None:
    tables = _tables(0)
    groups = {f"v{i}": f"g{i}" for i in range(8)}
    rows = cross_rows(tables, "celebdf", groups, n_resamples=20, seed=0, min_per_class=2)
    assert [(r["model"], r["level"]) for r in rows] == [
        (m, lv) for lv in ("frame", "video") for m in ALL_MODELS
    ]
    assert all(set(r) == set(CROSS_COLUMNS) and r["target"] == "celebdf" for r in rows)
    for r in rows:
        assert all((r[c] != "") == (r["model"] in ENSEMBLES) for c in DELTA_COLUMNS)
        assert r["small_n"] == "no" and float(r["auc_lo"]) <= float(r["auc"]) <= float(r["auc_hi"])
    video = {r["model"]: r for r in rows if r["level"] == "video"}
    assert (video["rgb"]["n"], video["rgb"]["n_groups"]) == (8, 8)
    assert video["ensemble_net"]["auc_baseline"] == video["rgb"]["auc"]


def test_the_summary_table_has_models_as_rows_targets_as_columns_and_their_mean() -> None:
    groups = {f"v{i}": f"g{i}" for i in range(8)}
    rows = [
        {k: str(v) for k, v in r.items()}
        for target, seed in (("celebdf", 0), ("dfdc", 1))
        for r in cross_rows(_tables(seed), target, groups, 20, 0, min_per_class=2)
    ]
    lines = cross_lines(rows, "ffpp", min_per_class=2)
    video = lines[lines.index("### video level") :]
    header = video.index("| model | celebdf | dfdc | avg |")
    auc = {(r["target"], r["model"]): r for r in rows if r["level"] == "video"}
    for i, model in enumerate(ALL_MODELS):
        cells = [c.strip() for c in video[header + 2 + i].strip("|").split("|")]
        a, b = (float(auc[(t, model)]["auc"]) for t in ("celebdf", "dfdc"))
        assert cells[0] == model and cells[1].startswith(f"{a:.3f} [")
        assert cells[3] == f"{(a + b) / 2:.3f}"
    assert any(line.startswith("| ensemble_stacked | ") and "p Holm" in line for line in video)
    assert cross_lines([], "ffpp", 2) == []

    # Under min_per_class no CI is printed, and the caption does not promise one.
    small = [{**r, "small_n": "yes"} for r in rows]
    lines = cross_lines(small, "ffpp", min_per_class=2)
    assert not [line for line in lines if "[95% CI]" in line or "p Holm" in line]
    assert "ΔAUC vs RGB, point estimates only (n too small for CIs and p-values):" in lines
    mixed = [{**r, "small_n": "yes"} if r["target"] == "dfdc" else r for r in rows]
    captions = [line for line in cross_lines(mixed, "ffpp", 2) if line.startswith("ΔAUC")]
    assert captions and all(
        c.endswith("(point estimates only where n is too small):") for c in captions
    )


@pytest.mark.slow
def test_a_target_without_data_stops_the_workflow_in_one_line(tmp_path: Path) -> None:
    config = tiny_synth_config("ffpp")
    config["evaluate"] = {"cross": ["celebdf"]}
    write_config(tmp_path, config)
    cmd = snakemake_command(tmp_path, "--cores", "1", "--dry-run")
    proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=300)
    assert refusal(proc) == (
        "config: evaluate.cross: target run 'celebdf' has no frames under results/celebdf; "
        "make them first with `snakemake data --configfile <the config with run: celebdf>`"
    )
    assert not (tmp_path / "results").exists()
