"""provenance.json and ``unrender verify``: hashes of every result file, checked later."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.test_workflow import run_snakemake
from tests.tiny_config import tiny_synth_config
from unrender import cli
from unrender.provenance import (
    KERNEL_ENV,
    build,
    config_sha256,
    container_lines,
    cpu_model,
    file_hashes,
    host_context,
    image_file,
    numerics,
    numerics_line,
    read,
    sha256_file,
    verify,
    write,
)

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"run": "r", "containers": {"torch": "images/torch.sif"}}


def make_run(root: Path) -> Path:
    """A small run folder with results, a log and a benchmark, and its provenance.json."""
    run_dir = root / "results" / "r"
    files = {
        "metrics.tsv": "model\tauc\nrgb\t0.5\n",
        "frames/s0000/a/0.png": "png bytes",
        "logs/train.log": "took 3 s",
        "benchmarks/train.tsv": "s\n3.0\n",
    }
    for rel, text in files.items():
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / rel).write_text(text)
    (root / "manifest.tsv").write_text("sample_id\n")
    context = host_context(REPO, CONFIG.get("containers", {}), root)
    write(
        run_dir, build(run_dir, CONFIG, "manifest.tsv", context, "2026-01-01T00:00:00+00:00", root)
    )
    return run_dir


def test_record_holds_hashes_of_results_only_and_the_run_context(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    record = read(run_dir)
    # Logs and benchmarks differ between identical runs; provenance.json cannot hash itself.
    assert sorted(record["files"]) == ["frames/s0000/a/0.png", "metrics.tsv"]
    assert record["files"] == file_hashes(run_dir)
    assert record["config"] == CONFIG
    assert record["config_sha256"] == config_sha256(CONFIG)
    assert len(record["git"]["commit"] or "0" * 40) == 40
    assert record["packages"]["unrender"] is not None
    assert record["containers"]["torch"] == {"uri": "images/torch.sif", "id": None, "ran_in": None}
    assert record["manifest"]["sha256"] == sha256_file(tmp_path / "manifest.tsv")
    assert record["started"] <= record["finished"]
    assert verify(run_dir) == []


def test_the_record_names_the_cpu_and_blas_kernels_its_low_bits_came_from(tmp_path: Path) -> None:
    # numpy's OpenBLAS picks kernels by CPU unless OPENBLAS_CORETYPE says otherwise; the same
    # wheels then return other bits (CI saw a container without the variable differ).
    found = numerics({"OPENBLAS_CORETYPE": "Haswell", "HOME": "/home/x"})
    assert found["env"] == {"OPENBLAS_CORETYPE": "Haswell"}
    assert found["cpu"] == cpu_model()
    assert any(b["file"].startswith("numpy.libs/") and b["architecture"] for b in found["blas"])
    assert read(make_run(tmp_path))["numerics"]["blas"] == found["blas"]

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\nflags\t: fpu\n")
    assert cpu_model(cpuinfo) == "Some CPU @ 2.0GHz"
    record = {
        "numerics": {
            "cpu": "Some CPU",
            "blas": [{"library": "openblas", "version": "0.3.31", "architecture": "SkylakeX"}],
            "env": {},
        }
    }
    assert numerics_line(record) == (
        "numerics: CPU Some CPU; BLAS openblas 0.3.31 (SkylakeX kernels); "
        "no kernel-selecting variable set"
    )
    assert numerics_line({}).startswith("numerics: not recorded")


def test_the_image_the_rules_ran_in_is_the_file_apptainer_was_given(tmp_path: Path) -> None:
    uri = "docker://unrender/torch:0.1.0"
    pulled = image_file(uri, tmp_path, tmp_path / "img")
    # Snakemake names a pulled image after the MD5 of its URI (deployment/singularity.py).
    assert pulled == tmp_path / "img" / f"{hashlib.md5(uri.encode()).hexdigest()}.simg"
    assert image_file("file://images/t.sif", tmp_path, tmp_path / "img") == (
        tmp_path / "images" / "t.sif"
    )
    pulled.parent.mkdir()
    pulled.write_bytes(b"image bytes")
    containers = {"torch": uri, "irn_tf1": "docker://unrender/irn-tf1:0.1.0"}
    inside = host_context(REPO, containers, tmp_path, tmp_path / "img")["containers"]
    assert inside["torch"]["ran_in"] == {
        "path": str(pulled),
        "sha256": f"sha256:{hashlib.sha256(b'image bytes').hexdigest()}",
    }
    assert inside["irn_tf1"]["ran_in"] is None  # no job pulled it
    on_host = host_context(REPO, containers, tmp_path)["containers"]
    assert on_host["torch"]["ran_in"] is None
    lines = container_lines({"containers": inside})
    assert lines[0].startswith("irn_tf1: docker://unrender/irn-tf1:0.1.0 ")
    assert "no rule ran in it" in lines[0]
    assert lines[1].endswith(f"the rules ran in {pulled} ({inside['torch']['ran_in']['sha256']})")


def test_config_hash_ignores_key_order_but_not_values() -> None:
    assert config_sha256({"a": 1, "b": {"c": 2, "d": 3}}) == config_sha256(
        {"b": {"d": 3, "c": 2}, "a": 1}
    )
    assert config_sha256({"a": 1}) != config_sha256({"a": 2})


def test_verify_lists_modified_missing_extra_files_and_a_changed_manifest(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    (run_dir / "metrics.tsv").write_text("model\tauc\nrgb\t0.9\n")
    (run_dir / "frames/s0000/a/0.png").unlink()
    (run_dir / "frames/s0000/a/1.png").write_text("new")
    (run_dir / "logs/train.log").write_text("took 4 s")  # not a result: no difference
    (tmp_path / "manifest.tsv").write_text("sample_id\nx\n")
    assert verify(run_dir) == [
        "extra: frames/s0000/a/1.png",
        "manifest: manifest.tsv changed since the run",
        "missing: frames/s0000/a/0.png",
        "modified: metrics.tsv",
    ]


def test_verify_lists_fifos_and_dangling_links_without_blocking(tmp_path: Path) -> None:
    import os

    run_dir = make_run(tmp_path)
    (run_dir / "metrics.tsv").unlink()
    os.mkfifo(run_dir / "metrics.tsv")  # reading it would wait for a writer for ever
    png = run_dir / "frames/s0000/a/0.png"
    png.unlink()
    png.symlink_to(run_dir / "gone.png")
    assert verify(run_dir) == [
        "missing: frames/s0000/a/0.png (a symbolic link to nothing)",
        f"modified: metrics.tsv ({run_dir / 'metrics.tsv'} is not a regular file)",
    ]


def test_verify_catches_a_record_whose_config_was_edited(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    path = run_dir / "provenance.json"
    record = json.loads(path.read_text())
    record["config"]["run"] = "other"
    path.write_text(json.dumps(record))
    assert verify(run_dir) == ["config: the recorded config does not match config_sha256"]


def test_verify_without_provenance_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Rerun the workflow"):
        verify(tmp_path)
    assert cli.main(["verify", str(tmp_path)]) == 2


@pytest.mark.slow
def test_workflow_writes_provenance_and_verify_catches_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_snakemake(tmp_path, tiny_synth_config("prov"))
    run_dir = tmp_path / "results" / "prov"
    record = read(run_dir)
    assert record["config"]["run"] == "prov"
    assert record["started"] is not None and record["started"] <= record["finished"]
    kinds = {rel.split("/")[0] for rel in record["files"]}
    assert {"dataset", "shards", "frames", "modalities", "rejected.tsv"} <= kinds
    assert record["manifest"]["sha256"] == record["files"]["dataset/manifest.tsv"]
    # The provenance job's own kernel-selecting variables: it inherits the caller's.
    kernel_env = {name: os.environ[name] for name in KERNEL_ENV if name in os.environ}
    assert record["numerics"]["env"] == kernel_env
    assert cli.main(["verify", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and numerics_line(record) in out

    frame = next(rel for rel in sorted(record["files"]) if rel.startswith("frames/"))
    modality = next(rel for rel in sorted(record["files"]) if rel.startswith("modalities/"))
    for change, expected in [
        (lambda d: (d / frame).write_bytes(b"\x89PNG tampered"), f"modified: {frame}"),
        (lambda d: (d / modality).unlink(), f"missing: {modality}"),
        (lambda d: (d / "frames" / "stray.png").write_bytes(b"x"), "extra: frames/stray.png"),
    ]:
        copy = tmp_path / "copies" / "results" / expected.split(":")[0]
        shutil.copytree(run_dir, copy)
        change(copy)
        assert cli.main(["verify", str(copy)]) == 1
        assert expected in capsys.readouterr().err
