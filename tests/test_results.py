"""One tiny whole-graph run, shared: what a user reads in results/ after `snakemake`.

The run is made once per module (``tiny_results``); every evaluation option and output a
user can pick is asserted on it, so each adds assertions and jobs, not another training run.
A test that re-runs part of the graph with other options works on a copy (``rerun_copy``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_workflow import run_snakemake
from tests.tiny_config import tiny_synth_config
from tests.workflow_runner import planned_rules, snakemake_command, venv_env, write_config
from unrender import manifest
from unrender.evaluate.cross import CROSS_COLUMNS, DELTA_COLUMNS
from unrender.evaluate.robustness import ROBUSTNESS_COLUMNS
from unrender.evaluate.run import ALL_MODELS, ENSEMBLES
from unrender.io import read_image, read_tsv

pytestmark = pytest.mark.slow

RUN = "stats"
#: A second tiny synthetic run (data only) that the shared run's models are scored on.
CROSS_TARGET = "stats-target"


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The working directory and config of the whole graph on the tiny synthetic run, scored
    also on the data of a second one (evaluate.cross)."""
    workdir = tmp_path_factory.mktemp("results")
    target = tiny_synth_config(CROSS_TARGET, shard_size=7)
    target["seed"] = 1
    run_snakemake(workdir, target, "data")
    config = tiny_synth_config(RUN, shard_size=7)
    config["train"] = {"image_size": 32, "max_epochs": 2, "patience": 1, "batch_size": 8}
    config["evaluate"] = {
        "bootstrap": 100,
        "cross": [CROSS_TARGET],
        "perturb": {"jpeg": [50], "resize": [0.5]},
    }
    run_snakemake(workdir, config)
    return workdir, config


def rerun_copy(tiny_results: tuple[Path, dict], tmp_path: Path) -> tuple[Path, dict]:
    """A copy of the shared run (timestamps kept, so Snakemake reruns only what changed)."""
    workdir, config = tiny_results
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy, symlinks=True)
    return copy, json.loads(json.dumps(config))


def test_results_state_what_the_numbers_can_support(tiny_results: tuple[Path, dict]) -> None:
    """Group bootstrap, small-n honesty, Holm and DeLong, the planted signal, early stopping
    and the shortcut audit, as a user sees them."""
    workdir, _ = tiny_results
    out = workdir / "results" / RUN

    metrics = read_tsv(out / "metrics.tsv")
    video = next(r for r in metrics if (r["model"], r["level"]) == ("rgb", "video"))
    # 2 test identities, each a group of its real videos and their swaps: far below 10.
    assert (video["bootstrap_unit"], video["n_groups"], video["small_n"]) == ("group", "2", "yes")
    assert (video["clusters_real"], video["clusters_fake"]) == ("2", "2")
    comparison = read_tsv(out / "comparison.tsv")
    assert {"p_holm", "delong_p", "delong_p_holm"} <= set(comparison[0])
    for model in ("rgb", "ensemble_net", "lighting"):
        meta = json.loads((out / "models" / model / "meta.json").read_text())
        assert meta["epochs_run"] == len(meta["history"]) <= 2
        assert meta["chose_last_epoch"] == (meta["best_epoch"] == 2)
    shortcuts = {(r["level"], r["feature"]): r for r in read_tsv(out / "shortcuts.tsv")}
    # Every synthetic clip has the same size, length and codec: those carry no signal.
    for feature in ("format", "resolution", "frame_count", "duration"):
        assert float(shortcuts[("video", feature)]["auc"]) == 0.5, feature

    summary = (out / "summary.md").read_text()
    head = summary.split("**Question.**")[0]
    assert "**These data are synthetic.**" in head and "at least 80 degrees away" in head
    answer = summary.split("## Training")[0]
    assert answer.count("not tested: n too small (2 real / 2 fake groups") == 3
    tables = summary.split("## Test metrics")[1].split("## Shortcut audit")[0]
    assert "[" not in tables.replace("[95% CI]", ""), "no CI at 2 groups per class"
    assert "## Shortcut audit" in summary and "Shortcut warning" not in summary


def test_evaluate_options_rerun_only_the_evaluation(
    tiny_results: tuple[Path, dict], tmp_path: Path
) -> None:
    """The same models, evaluated by video, with CIs from 1 unit per class on, and a warning
    from AUC 0.5: only the evaluation reruns."""
    workdir, config = rerun_copy(tiny_results, tmp_path)
    out = workdir / "results" / RUN
    config["evaluate"] = {
        "bootstrap": 100,
        "unit": "video",
        "min_per_class": 1,
        "shortcut_warning_auc": 0.5,
    }
    proc = run_snakemake(workdir, config)
    assert "rule train:" not in proc.stdout + proc.stderr
    metrics = read_tsv(out / "metrics.tsv")
    video = next(r for r in metrics if (r["model"], r["level"]) == ("rgb", "video"))
    assert (video["bootstrap_unit"], video["small_n"]) == ("video", "no")
    assert int(video["clusters_real"]) == int(video["n_units"]) - int(video["clusters_fake"])
    summary = (out / "summary.md").read_text()
    assert "bootstrap over" in summary and "resamples of the test *videos*" in summary
    assert "Shortcut warning**: `frame_count` alone reaches test AUC 0.500" in summary


def test_cross_targets_and_perturbations_rerun_no_evaluation_of_the_run(
    tiny_results: tuple[Path, dict], tmp_path: Path
) -> None:
    """The shared run as it was before a user added evaluate.cross and evaluate.perturb: only
    the summary (its cross input goes) would rerun, not evaluate or the shortcut audit, whose
    params hold just the options that change their scores."""
    workdir, config = rerun_copy(tiny_results, tmp_path)
    config["evaluate"] = {"bootstrap": config["evaluate"]["bootstrap"]}
    write_config(workdir, config)
    cmd = snakemake_command(workdir, "-n", "--cores", "1")
    proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    planned = planned_rules(proc.stdout)
    assert "summary" in planned  # the dry run did see the change
    assert not planned & {"evaluate", "shortcuts", "train", "lighting_consistency"}, planned


def test_a_changed_decompose_option_reruns_the_shards_and_fewer_cores_do_not(
    tiny_results: tuple[Path, dict], tmp_path: Path
) -> None:
    """modalities.batch_size is an option of every decompose job: changing it reruns them
    (Snakemake compares the rule's params with the last run's), while fewer cores, which give
    the jobs fewer threads, rerun none (threads are in the command, not in the params)."""
    workdir, config = rerun_copy(tiny_results, tmp_path)

    def dry_run(cfg: dict) -> subprocess.CompletedProcess:
        write_config(workdir, cfg)
        cmd = snakemake_command(workdir, "-n", "--cores", "1")
        proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc

    assert "decompose" not in planned_rules(dry_run(config).stdout)
    config["modalities"] = {"backend": "classical", "batch_size": 5}
    proc = dry_run(config)
    assert "decompose" in planned_rules(proc.stdout)
    assert "Params have changed since last execution" in proc.stdout


def test_cross_dataset_scores_every_model_on_the_target_run(
    tiny_results: tuple[Path, dict],
) -> None:
    """evaluate.cross: every model on the other run's test split, in cross.tsv and summary.md
    as the field prints it (rows = models, columns = test sets, plus the average)."""
    workdir, _ = tiny_results
    out = workdir / "results" / RUN
    target = workdir / "results" / CROSS_TARGET
    samples = [
        s for p in sorted((target / "shards").glob("*.tsv")) for s in manifest.read_samples(p)
    ]
    tests = [s for s in samples if s.split == "test"]
    assert 0 < len(tests) < len(samples)  # the synthetic manifest marks a test split

    rgb = read_tsv(out / "cross" / CROSS_TARGET / "rgb.tsv")
    assert {r["sample_id"] for r in rgb} == {s.sample_id for s in tests}
    assert {r["split"] for r in rgb} == {"test"}
    rows = read_tsv(out / "cross.tsv")
    assert list(rows[0]) == list(CROSS_COLUMNS)
    keys = {(r["target"], r["model"], r["level"]) for r in rows}
    levels = {r["level"] for r in rows}
    assert "video" in levels and "frame" in levels
    assert keys == {(CROSS_TARGET, m, lv) for m in ALL_MODELS for lv in levels}
    assert len(rows) == len(keys)
    video = {r["model"]: r for r in rows if r["level"] == "video"}
    assert int(video["rgb"]["n"]) == sum(s.kind == "video" for s in tests)
    assert video["rgb"]["n_groups"] == str(len({s.group for s in tests if s.kind == "video"}))
    for model, row in video.items():
        assert 0 <= float(row["auc"]) <= 1
        compared = model in ENSEMBLES
        assert all((row[c] != "") == compared for c in DELTA_COLUMNS), model
    assert float(video["ensemble_mean"]["auc_baseline"]) == float(video["rgb"]["auc"])

    summary = (out / "summary.md").read_text()
    section = summary.split("## Cross-dataset AUC (evaluate.cross)")[1].split("## Shortcut")[0]
    table = section.split("### video level")[1].split("###")[0]
    assert f"| model | {CROSS_TARGET} | avg |" in table
    for model in ALL_MODELS:
        auc = float(video[model]["auc"])
        assert f"| {model} | {auc:.3f} | {auc:.3f} |" in table, model
    assert "| ensemble_stacked | " in table.split("ΔAUC vs RGB")[1]


def test_saliency_figure_maps_each_picture_model(tiny_results: tuple[Path, dict]) -> None:
    """report/saliency.png: Grad-CAM of the 5 picture models on test fakes and reals."""
    from unrender.report.saliency import model_saliency, pick_examples
    from unrender.train.inputs import PICTURE_MODELS

    workdir, _ = tiny_results
    out = workdir / "results" / RUN
    figure = read_image(out / "report" / "saliency.png")
    assert figure.ndim == 3 and figure.shape[1] > figure.shape[0] > 200
    examples = pick_examples(out / "predictions" / "rgb.tsv", sorted(out.glob("shards/*.tsv")))
    labels = [e.item.label for e in examples]
    assert labels == sorted(labels, reverse=True) and set(labels) == {0, 1}
    log = (out / "logs" / "saliency.log").read_text()
    assert all(m in log for m in PICTURE_MODELS) and examples[0].item.sample_id in log
    for model in PICTURE_MODELS:
        name, pictures, cams = model_saliency(out, out / "models" / model, examples)
        assert name == model and pictures.shape == (len(examples), 32, 32, 3)
        assert cams.shape == (len(examples), 32, 32)
        assert float(cams.min()) >= 0 and float(cams.max()) <= 1 + 1e-6


def test_lighting_consistency_is_a_model_of_the_run(tiny_results: tuple[Path, dict]) -> None:
    """The training-free detector: its predictions, val threshold, metrics rows, a column of
    the stacked ensemble, and its line in summary.md."""
    workdir, _ = tiny_results
    out = workdir / "results" / RUN
    rows = read_tsv(out / "predictions" / "lighting_consistency.tsv")
    rgb = read_tsv(out / "predictions" / "rgb.tsv")
    key = ("sample_id", "k", "split", "label", "kind")
    assert [[r[c] for c in key] for r in rows] == [[r[c] for c in key] for r in rgb]
    assert all(0 <= float(r["prob"]) < 1 for r in rows)
    calibration = json.loads((out / "models/lighting_consistency/calibration.json").read_text())
    assert calibration["threshold"] > 0 and calibration["chosen_on"].startswith("val")
    metrics = {(r["model"], r["level"]): r for r in read_tsv(out / "metrics.tsv")}
    for level in {lv for model, lv in metrics if model == "rgb"}:
        row, rgb_row = metrics[("lighting_consistency", level)], metrics[("rgb", level)]
        assert row["n"] == rgb_row["n"]
        if rgb_row["auc"] == "nan":  # one class at this level (the tiny test split's images)
            assert row["auc"] == "nan"
        else:
            assert 0 <= float(row["auc"]) <= 1
    stacker = json.loads((out / "models/ensemble_stacked/stacker.json").read_text())
    assert stacker["inputs"][-1] == "lighting_consistency" and len(stacker["coef"]) == 6
    assert "| lighting_consistency |" in (out / "summary.md").read_text()


def test_robustness_scores_every_model_on_each_perturbed_test_split(
    tiny_results: tuple[Path, dict],
) -> None:
    """evaluate.perturb: one JPEG quality and one resize, each a row per model and level of
    robustness.tsv beside the clean test split's, and the figure in the report."""
    workdir, config = tiny_results
    out = workdir / "results" / RUN
    rows = read_tsv(out / "robustness.tsv")
    assert rows and tuple(rows[0]) == ROBUSTNESS_COLUMNS
    keys = [(r["perturbation"], r["model"], r["level"]) for r in rows]
    names = ("none", "jpeg50", "resize0.5")
    # The clean rows are metrics.tsv's AUCs and CIs; each perturbation has the same rows.
    metrics = {(r["model"], r["level"]): r for r in read_tsv(out / "metrics.tsv")}
    assert {m for m, _ in metrics} == set(ALL_MODELS)
    assert sorted(keys) == sorted((p, *key) for p in names for key in metrics)
    assert {(r["perturbation"], r["kind"], r["amount"]) for r in rows} == {
        ("none", "none", ""),
        ("jpeg50", "jpeg", "50"),
        ("resize0.5", "resize", "0.5"),
    }
    by_key = {k: r for k, r in zip(keys, rows, strict=True)}
    for (name, model, level), r in by_key.items():
        clean = metrics[(model, level)]
        assert r["n"] == clean["n"] and r["n_groups"] == clean["n_groups"]
        if r["auc"] != "nan":  # nan: a level with one class (the tiny test split's images)
            assert 0 <= float(r["auc_lo"]) <= float(r["auc_hi"]) <= 1 and 0 <= float(r["auc"]) <= 1
        if name == "none":
            assert [r[c] for c in ("auc", "auc_lo", "auc_hi")] == [
                clean[c] for c in ("auc", "auc_lo", "auc_hi")
            ]
        # Paired with the clean split: a change from it, and RGB's change is its own baseline.
        before = by_key[("none", model, level)]["auc"]
        if "nan" not in (r["auc"], before):
            change = float(r["auc"]) - float(before)
            assert float(r["delta_auc"]) == pytest.approx(change, abs=2e-6)
            assert by_key[(name, "rgb", level)]["delta_vs_rgb"] == "0.000000"
            assert float(r["delta_lo"]) <= float(r["delta_hi"])
            if name == "none":
                assert [r[c] for c in ("delta_auc", "delta_lo", "delta_hi")] == ["0.000000"] * 3
    # Only the test samples were perturbed, each frame of them, and decomposed again.
    splits = {r["sample_id"]: r["split"] for r in read_tsv(out / "splits.tsv")}
    for name in names[1:]:
        perturbed = out / "perturb" / name
        for shard_tsv in sorted((out / "shards").glob("*.tsv")):
            shard = shard_tsv.stem
            test = [s for s in manifest.read_samples(shard_tsv) if splits[s.sample_id] == "test"]
            kept = manifest.read_samples(perturbed / "shards" / shard_tsv.name)
            assert [s.sample_id for s in kept] == [s.sample_id for s in test]
            for s in test:
                for frame in (out / "frames" / shard / s.sample_id).glob("*.png"):
                    twin = perturbed / "frames" / shard / s.sample_id / frame.name
                    assert read_image(twin).shape == read_image(frame).shape
                    assert (read_image(twin) != read_image(frame)).any(), twin
                    light = perturbed / "modalities" / "lighting" / shard / s.sample_id
                    assert (light / f"{frame.stem}.npy").is_file()
    # summary.md prints the table: AUC per perturbation, and each model's change against RGB's.
    summary = (out / "summary.md").read_text()
    section = summary.split("## Robustness to laundering (evaluate.perturb)")[1]
    video = section.split("### video level")[1].split("###")[0]
    assert "| model | none | jpeg50 | resize0.5 |" in video
    assert "| model | jpeg50 | resize0.5 |" in video
    for model in ALL_MODELS:
        auc = [by_key[(name, model, "video")]["auc"] for name in names]
        assert f"| {model} | " + " | ".join(f"{float(a):.3f}" for a in auc) + " |" in video
    assert "n too small" in video and "[" not in video  # 2 groups per class: no intervals
    report = workdir / "report.html"
    run_snakemake(workdir, config, "--report", str(report))
    html = report.read_text(errors="replace")
    assert "robustness.png" in html and "robustness.tsv" in html
