"""GPU requests: the rules that can use a GPU ask for one exactly when their device is CUDA.

Checked on ``snakemake -n`` of the image branch (the one dataset kind whose graph holds
stylegan_generate, decompose and train) with a perturbed test split (score_perturbed), as a
user's config would set it. cross_predict asks as score_perturbed does, from train.device.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.test_dataset_kinds import kind_config
from tests.workflow_runner import snakemake_command, venv_env, write_config
from unrender.devices import names_cuda

GPU_RULES = {"stylegan_generate", "decompose", "train", "score_perturbed"}


@pytest.mark.parametrize(
    ("name", "cuda"),
    [("cuda", True), ("cuda:1", True), ("cuda:12", True), ("auto", False), ("cpu", False)],
)
def test_names_cuda_reads_the_setting_alone(name: str, cuda: bool) -> None:
    assert names_cuda(name) is cuda


def gpus_per_rule(dry_run_output: str) -> dict[str, set[int]]:
    """Rule -> the ``gpu`` resource of each of its jobs (0 where a job has none), from the
    job blocks ``snakemake -n`` prints."""
    found: dict[str, set[int]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run_output):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if rule is None:
            continue
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        gpu = re.search(r"\bgpu=(\d+)", resources[1]) if resources else None
        found.setdefault(rule[1], set()).add(int(gpu[1]) if gpu else 0)
    return found


def dry_run_gpus(tmp_path: Path, device: str) -> dict[str, set[int]]:
    """The image branch with the irn backend, ``device`` for all three GPU settings and one
    JPEG perturbation."""
    weights = tmp_path / "irn.safetensors"
    weights.write_bytes(b"not opened by a dry run")
    config = kind_config(
        "ffhq-stylegan",
        tmp_path / "data",
        "gpus",
        modalities={"backend": "irn"},
        irn={"weights": str(weights), "device": device},
        train={"device": device},
    )
    config["stylegan"]["device"] = device
    config["evaluate"] = {"perturb": {"jpeg": [50]}}
    write_config(tmp_path, config)
    cmd = snakemake_command(tmp_path, "-n", "--cores", "1")
    proc = subprocess.run(cmd, env=venv_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return gpus_per_rule(proc.stdout)


def test_cuda_devices_give_exactly_the_gpu_rules_one_gpu(tmp_path: Path) -> None:
    gpus = dry_run_gpus(tmp_path, "cuda")
    assert gpus.keys() >= GPU_RULES, gpus
    assert {rule: gpus[rule] for rule in GPU_RULES} == {rule: {1} for rule in GPU_RULES}
    others = {rule: g for rule, g in gpus.items() if rule not in GPU_RULES}
    assert len(others) >= 5 and all(g == {0} for g in others.values()), others


def test_auto_asks_for_no_gpu(tmp_path: Path) -> None:
    gpus = dry_run_gpus(tmp_path, "auto")
    assert gpus.keys() >= GPU_RULES and all(g == {0} for g in gpus.values()), gpus
