"""The legacy ``irn-tf1`` container: our shard runner's pure parts and the container recipes.

``containers/irn-tf1/run_shard.py`` runs under Python 3.6 inside the container and cannot
import unrender, so it repeats the preprocessing and the on-disk encoding; these tests keep
its copies equal to the package's. Running it against upstream is in ``tests/test_irn.py``.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import subprocess
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from tests.tiny_config import tiny_synth_config
from tests.workflow_runner import snakemake_command, venv_env, write_config
from unrender.config import IRN_TF1_RUNNER, validate
from unrender.io import read_image
from unrender.irn import inference
from unrender.modalities import MODALITIES, files
from unrender.modalities.irn import to_contract

CONTAINER = Path(__file__).resolve().parents[1] / "containers" / "irn-tf1"
UPSTREAM_COMMIT = "69922fa494f8541dc53048c41fe9f95a5d5053d2"


def load_runner() -> ModuleType:
    """Import ``run_shard.py`` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("irn_tf1_run_shard", CONTAINER / "run_shard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    return load_runner()


def _net_outputs(h: int, w: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4)
    normal = rng.normal(size=(h, w, 3)).astype(np.float32)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    sphere = rng.uniform(0, 1, (200, 200, 3)).astype(np.float32)
    sphere[:3] = np.nan
    return {
        "albedo": rng.uniform(0, 1, (h, w, 3)).astype(np.float32),
        "normal": normal,
        "shading": rng.uniform(1e-4, 1, (h, w, 3)).astype(np.float32),
        "shadow": rng.uniform(0, 1, (h, w)).astype(np.float32),
        "lighting": rng.normal(size=(9, 3)).astype(np.float32),
        "lighting_sphere": sphere,
    }


def test_runner_is_python36_code(runner: ModuleType) -> None:
    source = (CONTAINER / "run_shard.py").read_text()
    try:
        tree = ast.parse(source, feature_version=(3, 6))
    except ValueError:  # newer Pythons parse no older grammar than 3.7
        tree = ast.parse(source, feature_version=(3, 7))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.module != "__future__", "from __future__ import annotations needs 3.7"
        annotations = []
        if isinstance(node, ast.FunctionDef):
            annotations = [a.annotation for a in node.args.args + node.args.kwonlyargs]
            annotations.append(node.returns)
        for annotation in annotations:
            # Python 3.6 evaluates annotations: only strings and plain builtins are safe.
            plain = isinstance(annotation, ast.Name) and annotation.id in {"int", "str", "bool"}
            quoted = isinstance(annotation, ast.Constant)
            assert annotation is None or plain or quoted, ast.dump(annotation)
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    # TensorFlow and upstream are imported inside functions, and unrender not at all.
    assert imported <= {"argparse", "os", "sys", "tempfile", "types", "cv2", "numpy"}


@pytest.mark.parametrize("mode", inference.MODES)
@pytest.mark.parametrize("size", [(37, 53), (256, 300)])
def test_runner_preprocessing_equals_the_port(
    runner: ModuleType, mode: str, size: tuple[int, int]
) -> None:
    image = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    input_net, mask = runner.preprocess(image, mode)
    prepared = inference.prepare(image, None, mode)
    np.testing.assert_array_equal(input_net, prepared.input_net)
    np.testing.assert_array_equal(mask, prepared.mask)


def test_runner_maps_outputs_like_the_irn_backend(runner: ModuleType) -> None:
    net = _net_outputs(20, 24)
    got = runner.to_modalities(net, 41, 37)
    renamed = {("lighting_render" if k == "lighting_sphere" else k): v for k, v in net.items()}
    want = to_contract({k: torch.from_numpy(v[None]) for k, v in renamed.items()}, 41, 37)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value[0], atol=2e-5, equal_nan=True, err_msg=key)


def test_runner_writes_the_modality_layout(runner: ModuleType, tmp_path: Path) -> None:
    maps = runner.to_modalities(_net_outputs(20, 24), 20, 24)
    runner.write_frame(str(tmp_path), "s0001", "vid_3", 4, maps)
    batch = {k: v[None] for k, v in maps.items()}
    for modality in MODALITIES:
        png = files.frame_path(tmp_path, modality, "s0001", "vid_3", 4)
        picture = read_image(png)
        want = files.encode_png(modality, batch, 0)
        np.testing.assert_array_equal(picture if want.ndim == 3 else picture[..., 0], want)
        if modality in files.NPY_MODALITIES:
            np.testing.assert_array_equal(np.load(png.with_suffix(".npy")), maps[modality])
    assert not list(tmp_path.rglob(".*")), "temporary files left behind"


def test_runner_lists_frames_and_handles_an_empty_shard(runner: ModuleType, tmp_path: Path) -> None:
    frames = tmp_path / "frames" / "s0000"
    for sample, k in (("b", 0), ("a", 10), ("a", 2)):
        (frames / sample).mkdir(parents=True, exist_ok=True)
        (frames / sample / f"{k}.png").write_bytes(b"")
    (frames / "a" / "notes.txt").write_text("not a frame")
    listed = [(s, k) for s, k, _ in runner.list_frames(str(frames))]
    assert listed == [("a", 2), ("a", 10), ("b", 0)]

    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["--frames", str(empty), "--out", str(tmp_path / "mod"), "--shard", "s0000"]
    assert runner.main([*argv, "--checkpoint", str(tmp_path / "none")]) == 0
    assert all((tmp_path / "mod" / m / "s0000").is_dir() for m in MODALITIES)


def test_container_recipes_pin_upstream_and_install_the_runner() -> None:
    spython = pytest.importorskip("spython.main.parse.parsers", reason="needs spython (dev extra)")
    dockerfile = (CONTAINER / "Dockerfile").read_text()
    assert not dockerfile.startswith("# syntax=")
    definition = spython.SingularityParser(str(CONTAINER / "irn-tf1.def")).recipe["spython-base"]
    assert definition.fromHeader.startswith("nvcr.io/nvidia/tensorflow:")
    assert any("run_shard.py" in f for f in definition.files)
    assert any(UPSTREAM_COMMIT in line for line in definition.install)
    docker = spython.DockerParser(str(CONTAINER / "Dockerfile")).recipe["spython-base"]
    assert docker.fromHeader.startswith("nvcr.io/nvidia/tensorflow:")
    # Where the workflow's decompose job calls it (unrender.config.decompose_argv).
    assert docker.files == [["containers/irn-tf1/run_shard.py", IRN_TF1_RUNNER]]
    assert any(IRN_TF1_RUNNER in f for f in definition.files)
    assert f"IRN_COMMIT={UPSTREAM_COMMIT}" in dockerfile


# --- through Snakemake, as a user runs it ------------------------------------------------

#: Shards of tests/tiny_config.py's run (14 samples, 4 per shard).
SHARDS_OF_THE_TINY_RUN = ("s0000", "s0001", "s0002", "s0003")


def _decompose_commands(tmp_path: Path, modalities: dict, irn: dict) -> tuple[list, list]:
    """The images ``snakemake -n -p --sdm apptainer data`` of the tiny run would pull, and the
    argv of each decompose job's shell command."""
    config = {**tiny_synth_config("d"), "modalities": modalities, "irn": irn}
    write_config(tmp_path, config)
    # Snakemake checks that apptainer exists before a dry run; none is run.
    fake = tmp_path / "bin" / "apptainer"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'apptainer version 1.3.0'\n")
    fake.chmod(0o755)
    env = venv_env()
    env["PATH"] = f"{fake.parent}{os.pathsep}{env['PATH']}"
    cmd = snakemake_command(tmp_path, "--sdm", "apptainer", "-n", "-p", "--cores", "2", "data")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    pulled = re.findall(r"^Singularity image (\S+) will be pulled", proc.stdout, re.M)
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout)
    commands = [
        shlex.split(re.search(r"^Shell command: (.*) > \S+ 2>&1$", block, re.M)[1])
        for block in blocks
        if block.startswith("rule decompose:")
    ]
    assert len(commands) == len(SHARDS_OF_THE_TINY_RUN), proc.stdout[-3000:]
    return pulled, commands


@pytest.mark.slow
def test_the_workflow_runs_upstreams_code_in_its_image_for_irn_tf1(
    tmp_path: Path, runner: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "ckpt" / "model.ckpt"
    checkpoint.parent.mkdir()
    Path(f"{checkpoint}.index").write_bytes(b"")
    modalities = {"backend": "irn-tf1", "batch_size": 3}
    pulled, commands = _decompose_commands(
        tmp_path, modalities, {"weights": str(checkpoint), "mode": "iiw"}
    )
    assert validate(tiny_synth_config("d"))["containers"]["irn_tf1"] in pulled
    parsed: list = []
    monkeypatch.setattr(runner, "run_shard", lambda args: parsed.append(args) or 0)
    for argv in commands:
        assert argv[:2] == ["python3", IRN_TF1_RUNNER]
        assert runner.main(argv[2:]) == 0  # the runner's own parser takes the rule's options
    assert sorted(args.shard for args in parsed) == list(SHARDS_OF_THE_TINY_RUN)
    for args in parsed:
        assert (args.checkpoint, args.mode, args.batch_size, args.threads) == (
            str(checkpoint),
            "iiw",
            3,
            2,
        )
        assert (args.frames, args.out) == (f"results/d/frames/{args.shard}", "results/d/modalities")


@pytest.mark.slow
def test_the_other_backends_run_unrender_decompose_in_the_torch_image(tmp_path: Path) -> None:
    from unrender import cli

    pulled, commands = _decompose_commands(tmp_path, {"backend": "classical"}, {})
    assert validate(tiny_synth_config("d"))["containers"]["irn_tf1"] not in pulled
    for argv in commands:
        # In a container, the image's python (its venv is on PATH there).
        assert argv[:4] == ["python", "-m", "unrender", "decompose"]
        args = cli.build_parser(argv[3:]).parse_args(argv[3:])
        assert (args.backend, args.frames, args.out, args.threads) == (
            "classical",
            Path(f"results/d/frames/{args.shard.stem}"),
            Path("results/d/modalities"),
            2,
        )
        assert args.shard == Path(f"results/d/shards/{args.shard.stem}.tsv")
