"""End-to-end Snakemake runs in a temporary working directory.

These run the real Snakefile with the real rules and scripts; they are the promise that
the workflow runs on a fresh checkout.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs import bad_manifests, make_bad_corpus, write_clip, write_corpus_manifest
from tests.workflow_runner import (
    planned_jobs,
    planned_rules,
    refusal,
    snakemake_command,
    venv_env,
    write_config,
)
from unrender import manifest, rejected
from unrender.io import read_image, read_tsv, write_image, write_tsv
from unrender.modalities import MODALITIES
from unrender.modalities.files import NPY_MODALITIES
from unrender.pipeline import DAMAGED_COLUMN
from unrender.train.inputs import PACK_PARTS

pytestmark = pytest.mark.slow


def run_snakemake(workdir: Path, config: dict, *targets: str) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` with ``config``; fail with its log.

    The limit is for a machine shared with other work: the shared tiny whole-graph run of
    tests/test_results.py took over 20 min at load 10-13 on 2 cores."""
    write_config(workdir, config)
    cmd = snakemake_command(workdir, "--cores", "2", *targets)
    proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=2400)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    return proc


def assert_complete_samples(out: Path, per_video: int) -> int:
    """Every accepted sample has its frames and all 5 modalities; return the sample count."""
    n = 0
    for shard_tsv in sorted((out / "shards").glob("*.tsv")):
        shard = shard_tsv.stem
        for s in manifest.read_samples(shard_tsv):
            k = per_video if s.kind == "video" else 1
            names = sorted(p.name for p in (out / "frames" / shard / s.sample_id).iterdir())
            assert names == [f"{i}.png" for i in range(k)], (s.sample_id, names)
            for m in MODALITIES:
                folder = out / "modalities" / m / shard / s.sample_id
                for i in range(k):
                    assert read_image(folder / f"{i}.png").dtype == np.uint8
                    if m in NPY_MODALITIES:
                        assert np.isfinite(np.load(folder / f"{i}.npy")).all()
            n += 1
    return n


def test_bad_inputs_are_rejected_with_reasons_and_the_run_completes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = make_bad_corpus(data)
    for i in range(2):  # two ordinary clips beside the bad ones (distinct: 20 and 21 frames)
        write_clip(data / f"good{i}.mp4", 20 + i)
        rows.append(
            {
                "sample_id": f"good{i}",
                "path": f"good{i}.mp4",
                "label": i,
                "group": f"g{i}",
                "split": "",
                "kind": "video",
                "source": "test",
                "expect": "",
            }
        )
    write_corpus_manifest(data / "manifest.tsv", rows)
    config = {
        "run": "bad",
        "dataset": {"kind": "manifest", "manifest": str(data / "manifest.tsv")},
        "shard_size": 7,
        "frames": {"per_video": 5, "size": 32, "max_image_pixels": 10_000_000},
    }
    run_snakemake(tmp_path, config, "data")
    out = tmp_path / "results" / "bad"

    refused = rejected.read(out / "rejected.tsv")
    expected = {(r["sample_id"], r["path"]): r["expect"] for r in rows if r["expect"]}
    got = {(r.sample_id, r.path): r.stage for r in refused}
    assert got == expected
    assert all(r.reason for r in refused)

    accepted_ids = {r["sample_id"] for r in rows if not r["expect"]}
    assert assert_complete_samples(out, 5) == len(accepted_ids)
    summary = {r["stage"]: r for r in read_tsv(out / "data_summary.tsv")}
    assert summary["total"]["accepted"] == str(len(accepted_ids))
    assert summary["total"]["rejected"] == str(len(refused))
    # Nothing is silently dropped: every manifest row is accepted or has a rejection.
    assert len(accepted_ids) + len(refused) == len(rows)
    damaged = {
        r["sample_id"]
        for p in (out / "frames").glob("*.tsv")
        for r in read_tsv(p)
        if r["repeat"] == "damaged"
    }
    assert damaged == {"bad-corrupt-middle", "bad-truncated-faststart"}
    assert summary["total"][DAMAGED_COLUMN] == "2"


@pytest.mark.parametrize("name", sorted(bad_manifests()))
def test_a_malformed_manifest_fails_before_any_job_in_one_line(tmp_path: Path, name: str) -> None:
    content, message = bad_manifests()[name]
    (tmp_path / "manifest.tsv").write_bytes(content)
    config = {"run": "m", "dataset": {"kind": "manifest", "manifest": "manifest.tsv"}}
    write_config(tmp_path, config)
    cmd = snakemake_command(tmp_path, "--cores", "1", "--dry-run", "data")
    proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=300)
    assert f"manifest.tsv: {message}" in refusal(proc)
    assert not (tmp_path / "results").exists()


def test_irn_backend_runs_the_data_graph_with_converted_weights(
    tmp_path: Path, converted_weights
) -> None:
    from tests.tiny_config import tiny_synth_config

    config = tiny_synth_config("irn", shard_size=7)
    config["modalities"] = {"backend": "irn", "batch_size": 4}
    config["irn"] = {"weights": str(converted_weights(0)), "device": "cpu"}
    run_snakemake(tmp_path, config, "data")
    out = tmp_path / "results" / "irn"
    assert assert_complete_samples(out, 3) == 14
    assert rejected.read(out / "rejected.tsv") == []
    # The irn backend wrote these (classical would give other values): the lighting of a
    # frame is the IRN++ PCA projection, so it lies in the PCA's affine subspace.
    from unrender.sh import illumination_pca

    mean, vectors = illumination_pca()
    lighting = np.load(next((out / "modalities" / "lighting").glob("*/*/0.npy")))
    offset = lighting.reshape(27) - mean
    residual = offset - vectors.T @ np.linalg.lstsq(vectors.T, offset, rcond=None)[0]
    assert np.abs(residual).max() < 1e-4 < np.abs(offset).max()


def test_extra_manifest_columns_are_named_when_the_workflow_starts(tmp_path: Path) -> None:
    write_clip(tmp_path / "a.mp4", 6)
    rows = [
        {
            "sample_id": "a",
            "path": "a.mp4",
            "label": 0,
            "group": "a",
            "split": "",
            "kind": "video",
            "source": "",
            "notes": "left alone",
        }
    ]
    write_tsv(tmp_path / "manifest.tsv", rows, [*manifest.COLUMNS, "notes"])
    write_config(
        tmp_path, {"run": "x", "dataset": {"kind": "manifest", "manifest": "manifest.tsv"}}
    )
    cmd = snakemake_command(tmp_path, "--cores", "1", "--dry-run", "data")
    proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "manifest.tsv: ignoring column(s) notes" in proc.stdout + proc.stderr


@pytest.mark.parametrize(("sha256", "parses"), [("ab" * 32, True), ("not-hex", False)])
def test_stylegan_network_sha256_is_a_config_option(
    tmp_path: Path, sha256: str, parses: bool
) -> None:
    for image_id in range(2):
        write_image(
            tmp_path / "ffhq" / "images1024x1024" / f"{image_id:05d}.png",
            np.zeros((8, 8, 3), np.uint8),
        )
    (tmp_path / "ffhq.pkl").write_bytes(b"\x80")
    config = {
        "run": "g",
        "dataset": {"kind": "ffhq-stylegan"},
        "ffhq": {"root": "ffhq", "count": 2},
        "stylegan": {"network": "ffhq.pkl", "seeds": "0-1", "network_sha256": sha256},
    }
    write_config(tmp_path, config)
    cmd = snakemake_command(tmp_path, "--cores", "1", "--dry-run", "data")
    proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == parses, output[-3000:]
    if not parses:
        assert "network_sha256" in output


def test_each_model_waits_only_for_its_inputs(tmp_path: Path) -> None:
    from tests.tiny_config import tiny_synth_config

    write_config(tmp_path, tiny_synth_config("inputs"))
    jobs = {}
    for model in ("rgb", "albedo", "ensemble_net"):
        target = f"results/inputs/models/{model}/model.safetensors"
        cmd = snakemake_command(tmp_path, "-n", target)
        proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
        jobs[model] = planned_rules(proc.stdout)
    assert {"extract_frames", "pack", "train"} <= jobs["rgb"]
    assert "decompose" not in jobs["rgb"]
    assert "decompose" in jobs["albedo"] and "decompose" in jobs["ensemble_net"]


def test_max_shards_caps_the_jobs_per_stage_and_shards_grow(tmp_path: Path) -> None:
    from tests.tiny_config import tiny_synth_config

    # 14 samples in shards of 2 would be 7 shards; at most 3 makes 3 shards of 5.
    config = {**tiny_synth_config("capped", shard_size=2), "max_shards": 3}
    write_config(tmp_path, config)
    proc = subprocess.run(
        snakemake_command(tmp_path, "-n"), env=venv_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    jobs = planned_jobs(proc.stdout)
    assert jobs["extract_frames"] == jobs["decompose"] == 3
    assert jobs["pack"] == 3 * len(PACK_PARTS)
    run_snakemake(tmp_path, config, "results/capped/rejected/manifest.tsv")
    out = tmp_path / "results" / "capped" / "manifest"
    sizes = [len(manifest.read_samples(p)) for p in sorted(out.glob("*.tsv"))]
    assert sizes == [5, 5, 4]


def test_one_split_for_every_model_and_packs_are_temporary(tmp_path: Path) -> None:
    from tests.tiny_config import tiny_synth_config
    from unrender.evaluate import predictions
    from unrender.train.splits import read_splits

    config = tiny_synth_config("split")
    # What is checked is which rows each model sees, not skill: one epoch.
    config["train"] = {"max_epochs": 1, "image_size": 32}
    models = ("rgb", *MODALITIES, "ensemble_net")
    run_snakemake(tmp_path, config, *[f"results/split/predictions/{m}.tsv" for m in models])
    out = tmp_path / "results" / "split"
    splits = read_splits(out / "splits.tsv")
    groups: dict[str, set[str]] = {}
    for row in read_tsv(out / "splits.tsv"):
        groups.setdefault(row["group"], set()).add(row["split"])
    assert all(len(sides) == 1 for sides in groups.values()), groups  # no group straddles
    accepted = [s for p in sorted((out / "shards").glob("*.tsv")) for s in manifest.read_samples(p)]
    assert sorted(splits) == sorted(s.sample_id for s in accepted)
    rows = {}
    for model in models:
        pred = predictions.read(out / "predictions" / f"{model}.tsv")
        rows[model] = list(zip(pred.sample_id, pred.k, pred.split, strict=True))
        assert all(splits[sid] == split for sid, _, split in rows[model])
    assert len({tuple(r) for r in rows.values()}) == 1  # the 7 models see the same rows
    assert {split for _, _, split in rows["rgb"]} == {"val", "test"}
    assert not list((out / "packs").glob("*/*")), "packs are temp(): gone after training"
