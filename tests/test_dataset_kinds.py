"""Every dataset kind through the workflow, laid out on disk as users have it.

Like the catalog workflows' ``.test/config_*`` runs: each kind gets a tiny dataset in its
real layout (the one its adapter in unrender.datasets reads), with H.264 clips of real faces
(tests/real_faces.py: scikit-image's astronaut and cameraman, moving), and ``snakemake -n``
must build the DAG. ``folder`` and ``ffpp`` run the whole graph as a user would: face crops
on, frames -> modalities -> the 9 models -> metrics -> ``snakemake --report`` ->
``unrender predict`` on a clip the run never saw. Sizes, epochs and bootstrap are the
smallest the schema allows, to keep CI cheap.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.real_faces import photo, write_face_clip
from tests.test_workflow import run_snakemake
from tests.tiny_config import tiny_synth_config
from tests.workflow_runner import refusal, snakemake_command, venv_env, write_config
from unrender import manifest
from unrender.evaluate.run import ALL_MODELS
from unrender.io import read_tsv, write_image, write_tsv

pytestmark = pytest.mark.slow

Layout = Callable[[Path], dict[str, Any]]


def ffpp_layout(root: Path) -> dict[str, Any]:
    """FaceForensics++: 3 official pairs (one per split), their originals and Deepfakes."""
    pairs = {"train": ("000", "001"), "val": ("002", "003"), "test": ("004", "005")}
    index = 0
    for a, b in pairs.values():
        for target, source in ((a, b), (b, a)):
            videos = "original_sequences/youtube/c23/videos"
            write_face_clip(root / videos / f"{target}.mp4", index)
            fakes = "manipulated_sequences/Deepfakes/c23/videos"
            write_face_clip(root / fakes / f"{target}_{source}.mp4", index, fake=True)
            index += 1
    (root / "splits").mkdir()
    for split, pair in pairs.items():
        (root / "splits" / f"{split}.json").write_text(json.dumps([list(pair)]))
    return {"kind": "ffpp", "root": str(root), "options": {"compression": "c23"}}


def dfdc_layout(root: Path) -> dict[str, Any]:
    """DFDC: two training parts with metadata.json (a fake in the part after its original),
    every entry ``"split": "train"`` as in the release, and the test set with labels.csv."""
    parts = {
        0: {
            "aaa.mp4": {"label": "REAL", "split": "train"},
            "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
            "ccc.mp4": {"label": "REAL", "split": "train"},
            "eee.mp4": {"label": "REAL", "split": "train"},
        },
        1: {
            "ddd.mp4": {"label": "FAKE", "split": "train", "original": "ccc.mp4"},
            "fff.mp4": {"label": "FAKE", "split": "train", "original": "eee.mp4"},
        },
    }
    index = 0
    for part, entries in parts.items():
        folder = root / f"dfdc_train_part_{part}"
        for name, meta in entries.items():
            write_face_clip(folder / name, index, fake=meta["label"] == "FAKE")
            index += 1
        (folder / "metadata.json").write_text(json.dumps(entries))
    (root / "test").mkdir()
    (root / "test/labels.csv").write_text("filename,label\nttt.mp4,1\nuuu.mp4,0\n")
    write_face_clip(root / "test/ttt.mp4", index, fake=True)
    write_face_clip(root / "test/uuu.mp4", index + 1)
    return {"kind": "dfdc", "root": str(root)}


def celebdf_layout(root: Path) -> dict[str, Any]:
    """Celeb-DF v2: Celeb-real, YouTube-real, Celeb-synthesis and the official test list."""
    clips = {
        "Celeb-real/id0_0000.mp4": False,
        "Celeb-real/id1_0000.mp4": False,
        "YouTube-real/00170.mp4": False,
        "Celeb-synthesis/id0_id1_0000.mp4": True,
        "Celeb-synthesis/id1_id0_0000.mp4": True,
    }
    for index, (rel, fake) in enumerate(clips.items()):
        write_face_clip(root / rel, index, fake=fake)
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id1_id0_0000.mp4\n"
    )
    return {"kind": "celebdf", "root": str(root)}


def folder_layout(root: Path) -> dict[str, Any]:
    """A labelled folder: real/ and fake/ clips of 3 identities (one per split), a still
    of each photo, and labels.csv with groups and splits."""
    lines = ["path,label,group,split"]
    for index, split in enumerate(("train", "val", "test")):
        group = f"person{index}"
        write_face_clip(root / "real" / f"{group}.mp4", index)
        write_face_clip(root / "fake" / f"{group} swapped.mp4", index, fake=True)
        lines += [
            f"real/{group}.mp4,real,{group},{split}",
            f"fake/{group} swapped.mp4,1,{group},{split}",
        ]
    for name in ("astronaut", "camera"):
        write_image(root / "stills" / f"{name}.png", photo(name))
        lines.append(f"stills/{name}.png,0,{name},train")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return {"kind": "folder", "root": str(root)}


def manifest_layout(root: Path) -> dict[str, Any]:
    """A hand-written manifest TSV beside its clips."""
    rows = []
    for index in range(4):
        fake = index % 2 == 1
        path = f"clips/{index}.mp4"
        write_face_clip(root / path, index, fake=fake)
        rows.append(
            {
                "sample_id": f"clip{index}",
                "path": path,
                "label": int(fake),
                "group": f"g{index // 2}",
                "split": "",
                "kind": "video",
                "source": "test",
            }
        )
    write_tsv(root / "manifest.tsv", rows, manifest.COLUMNS)
    return {"kind": "manifest", "manifest": str(root / "manifest.tsv")}


def ffhq_stylegan_layout(root: Path) -> dict[str, Any]:
    """The image branch: an FFHQ download folder of real photos and a network pickle (a
    dry run never opens it)."""
    images = root / "ffhq" / "images1024x1024" / "00000"
    for image_id, name in enumerate(("astronaut", "camera")):
        write_image(images / f"{image_id:05d}.png", photo(name))
    (root / "ffhq.pkl").write_bytes(b"not opened by a dry run")
    return {
        "dataset": {"kind": "ffhq-stylegan"},
        "ffhq": {"root": str(root / "ffhq"), "count": 2},
        "stylegan": {"network": str(root / "ffhq.pkl"), "seeds": "0-3", "seeds_per_job": 2},
    }


LAYOUTS: dict[str, Layout] = {
    "ffpp": ffpp_layout,
    "dfdc": dfdc_layout,
    "celebdf": celebdf_layout,
    "folder": folder_layout,
    "manifest": manifest_layout,
    "ffhq-stylegan": ffhq_stylegan_layout,
}
#: The rule that writes each kind's manifest (the run's first job).
MANIFEST_RULES: dict[str, str] = {
    "synth": "synth",
    "ffpp": "adapt_dataset",
    "dfdc": "adapt_dataset",
    "celebdf": "adapt_dataset",
    "folder": "adapt_dataset",
    "manifest": "split_manifest",
    "ffhq-stylegan": "image_manifest",
}


def kind_config(kind: str, data: Path, run: str, **sections: Any) -> dict[str, Any]:
    """The config a user would write for ``kind``, its dataset laid out under ``data``; its
    paths relative to ``data``'s parent, the working directory (``root: data``), as users
    write them."""
    if kind == "synth":
        return {**tiny_synth_config(run), **sections}
    laid_out = LAYOUTS[kind](data)
    config = laid_out if "dataset" in laid_out else {"dataset": laid_out}
    for section, key in (("dataset", "root"), ("dataset", "manifest"), ("ffhq", "root")):
        if key in config.get(section, {}):
            config[section][key] = os.path.relpath(config[section][key], data.parent)
    return {
        "run": run,
        "shard_size": 4,
        "frames": {"per_video": 3, "size": 32},
        **config,
        **sections,
    }


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table that ``snakemake -n`` prints."""
    table = dry_run_output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.mark.parametrize("kind", sorted(MANIFEST_RULES))
def test_dry_run_builds_the_dag_of_every_dataset_kind(kind: str, tmp_path: Path) -> None:
    config = kind_config(kind, tmp_path / "data", kind.replace("-", "_"))
    write_config(tmp_path, config)
    cmd = snakemake_command(tmp_path, "-n", "--cores", "1")
    proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = job_counts(proc.stdout)
    # The kind's own manifest rule runs, the other kinds' do not.
    assert jobs.get(MANIFEST_RULES[kind]) == 1
    others = set(MANIFEST_RULES.values()) - {MANIFEST_RULES[kind], "split_manifest"}
    assert not others & set(jobs), jobs
    assert jobs["split_manifest"] == 1 and jobs["train"] == 7 and jobs["evaluate"] == 1
    assert jobs["extract_frames"] == jobs["decompose"] >= 1


@pytest.mark.parametrize("kind", ["dfdc", "celebdf"])
def test_an_official_test_set_is_the_test_split_and_val_comes_from_the_rest(
    kind: str, tmp_path: Path
) -> None:
    """DFDC names every training video ``train`` and Celeb-DF lists its test videos: the
    listed test videos are the whole test split (no identity drags its other videos in), and
    DFDC's val is drawn from its train groups, so that training can choose an epoch."""
    config = kind_config(kind, tmp_path / "data", kind)
    run_snakemake(tmp_path, config, f"results/{kind}/splits.tsv")
    out = tmp_path / "results" / kind
    named = {r["sample_id"]: r["split"] for r in read_tsv(out / "adapted" / "manifest.tsv")}
    splits = {r["sample_id"]: r["split"] for r in read_tsv(out / "splits.tsv")}
    assert splits.keys() == named.keys()
    assert {s for s, sp in splits.items() if sp == "test"} == {
        s for s, sp in named.items() if sp == "test"
    }
    assert "train" in splits.values()
    if kind == "dfdc":
        val = [s for s, sp in splits.items() if sp == "val"]
        labels = {r["sample_id"]: r["label"] for r in read_tsv(out / "adapted" / "manifest.tsv")}
        assert {labels[s] for s in val} == {"0", "1"}  # a real and the fake made from it


@pytest.mark.parametrize(
    ("kind", "spoil", "message"),
    [
        ("folder", "labels.csv", "labels.csv does not exist"),
        ("celebdf", "List_of_testing_videos.txt", "List_of_testing_videos.txt does not exist"),
        ("dfdc", "dfdc_train_part_0/metadata.json", "metadata.json: line 1: invalid JSON"),
    ],
)
def test_a_dataset_laid_out_otherwise_stops_in_one_line(
    kind: str, spoil: str, message: str, tmp_path: Path
) -> None:
    config = kind_config(kind, tmp_path / "data", kind)
    damaged = tmp_path / "data" / spoil
    if damaged.suffix == ".json":
        damaged.write_text("{not json")
    else:
        damaged.unlink()
    write_config(tmp_path, config)
    cmd = snakemake_command(tmp_path, "-n", "--cores", "1")
    proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=600)
    said = refusal(proc)
    assert said.startswith(f"dataset.kind {kind}, root data: ") and message in said, said


def run_whole_graph(kind: str, tmp_path: Path) -> Path:
    """Run ``kind``'s tiny dataset through ``rule all`` and ``--report``; return its run folder."""
    config = kind_config(
        kind,
        tmp_path / "data",
        kind,
        frames={"per_video": 3, "size": 32, "face": True},
        train={"image_size": 16, "max_epochs": 1, "batch_size": 8},
        evaluate={"bootstrap": 100},
    )
    run_snakemake(tmp_path, config)
    run_snakemake(tmp_path, config, "--report", str(tmp_path / "report.html"))
    return tmp_path / "results" / kind


@pytest.mark.parametrize("kind", ["folder", "ffpp"])
def test_whole_graph_runs_on_real_face_clips(kind: str, tmp_path: Path) -> None:
    out = run_whole_graph(kind, tmp_path)

    # Every clip was accepted and its face found (no centre-crop fallback).
    summary = {r["stage"]: r for r in read_tsv(out / "data_summary.tsv")}
    n = len(manifest.read(out / "adapted" / "manifest.tsv"))
    assert summary["total"] == {
        "stage": "total",
        "accepted": str(n),
        "rejected": "0",
        "face_fallback": "0",
        "frames_repeated_damaged": "0",
    }
    faces = {r["face"] for p in (out / "frames").glob("*.tsv") for r in read_tsv(p)}
    assert faces == {"detected"}

    # The 10-model table, the report, and predict on a clip the run never saw.
    metrics = read_tsv(out / "metrics.tsv")
    assert len(ALL_MODELS) == 10 and {r["model"] for r in metrics} == set(ALL_MODELS)
    scored = {(r["model"], r["level"]) for r in metrics if int(r["n"]) > 0}
    assert {(m, level) for m in ALL_MODELS for level in ("frame", "video")} <= scored
    report = (tmp_path / "report.html").read_text(errors="replace")
    assert "metrics.tsv" in report and "roc.png" in report
    held_out = write_face_clip(tmp_path / "held_out.mp4", 5, fake=True)
    proc = subprocess.run(
        ["unrender", "predict", str(held_out), "--run", str(out), "--json", "--device", "cpu"],
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = json.loads(proc.stdout)["scores"]
    assert list(scores) == list(ALL_MODELS)
    assert all(0.0 <= p <= 1.0 for p in scores.values())
