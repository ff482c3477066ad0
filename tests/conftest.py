"""Fixtures shared by several test modules."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from unrender import cli

CHECKPOINT_WRITER = Path(__file__).resolve().parent / "irn_checkpoint.py"


@pytest.fixture(scope="session")
def tf_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """seed -> folder holding a test checkpoint ``model.ckpt`` (written once per session)."""
    pytest.importorskip("tensorflow", reason="TF1 checkpoint conversion needs TensorFlow")
    cache: dict[int, Path] = {}

    def get(seed: int) -> Path:
        if seed not in cache:
            folder = tmp_path_factory.mktemp(f"irn_seed{seed}")
            # Written by TensorFlow in a process of its own (the script also runs by hand).
            subprocess.run(
                [
                    sys.executable,
                    str(CHECKPOINT_WRITER),
                    "--out",
                    str(folder / "model.ckpt"),
                    "--seed",
                    str(seed),
                ],
                check=True,
                capture_output=True,
            )
            cache[seed] = folder
        return cache[seed]

    return get


@pytest.fixture(scope="session")
def converted_weights(tf_checkpoint: Callable[[int], Path]) -> Callable[[int], Path]:
    """seed -> safetensors file converted by ``unrender irn convert`` (once per session)."""
    cache: dict[int, Path] = {}

    def get(seed: int) -> Path:
        if seed not in cache:
            folder = tf_checkpoint(seed)
            out = folder / "irn.safetensors"
            # The folder form (with its `checkpoint` state file) is how upstream ships weights.
            status = cli.main(["irn", "convert", "--tf-checkpoint", str(folder), "--out", str(out)])
            assert status == 0 and out.is_file()
            cache[seed] = out
        return cache[seed]

    return get
