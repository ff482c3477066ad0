"""The torch image, built from scratch offline, runs the torch side of the tiny workflow.

The test makes the image's build context on the host (``python -m unrender.images``: the
wheels of pyproject.toml's dependencies, pinned to this venv's versions, and the unrender
wheel of this checkout), builds containers/torch/Dockerfile with BuildKit and no network on
the debootstrap'd base (engine.py), then runs the tiny synthetic workflow twice: once on the
host and once with ``--sdm=apptainer`` through the apptainer->docker shim, where every job
of a rule that names ``containers.torch`` (all of them but the target rules) runs in the
image. Both runs must write the same bytes in every result file. Then ``unrender predict``
and ``unrender verify`` run inside the image on the container run's results.

Files that are allowed to differ, and why: provenance.json (it records the Python, the
host, the start and end times and the container the rules ran in, which is the point),
logs/ and benchmarks/ (timings; provenance leaves them out of its hashes for that reason),
and the TensorBoard event files of training, tensorboard/<model>/events.out.tfevents.<unix
time>.<host name>: the name holds the time and the host (a container's host name is its
random id) and the records hold wall times, so only their presence is compared.
The image and the BuildKit cache are removed at the end (about 10 GB); the wheel folder
pip fills (about 3 GB) stays in $UNRENDER_DOCKER_DIR/torch-wheels.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.engine import BASE_IMAGE, DOCKER_DIR, ensure_base_image, run
from tests.test_workflow import run_snakemake
from tests.tiny_config import tiny_synth_config
from tests.workflow_runner import REPO, snakemake_command, write_config
from unrender import manifest
from unrender.provenance import EXCLUDED_DIRS, PROVENANCE_FILE, image_file, read, result_files

HERE = Path(__file__).resolve().parent
TORCH_IMAGE = "unrender-test/torch:latest"
URI = f"docker://{TORCH_IMAGE}"
#: Debian's docker client: BuildKit (for RUN --mount) needs buildx with any other client.
BUILDKIT_DOCKER = "/usr/bin/docker"
#: Rules of the workflow that are only targets: no action, so nothing runs in a container.
TARGET_RULES = {"all"}
RUN = "torch"
#: TensorBoard event files: named after the time and the host, and holding wall times.
EVENTS = re.compile(r"^(tensorboard/[^/]+/events\.out\.tfevents)\.\d+\..+$")

pytestmark = pytest.mark.slow


def host_constraints(path: Path) -> Path:
    """A pip constraints file pinning every distribution of this venv but unrender."""
    pinned = sorted(
        f"{d.metadata['Name']}=={d.version}"
        for d in importlib.metadata.distributions()
        if d.metadata["Name"] and d.metadata["Name"].lower() != "unrender"
    )
    path.write_text("\n".join(pinned) + "\n")
    return path


@pytest.fixture(scope="module")
def torch_image(
    docker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The id of the torch image, built now; the image and the build cache are removed after."""
    scratch = tmp_path_factory.mktemp("torch-image")
    ensure_base_image(docker_env, scratch)
    context = scratch / "context"
    started = time.monotonic()
    run(
        [
            sys.executable,
            "-m",
            "unrender.images",
            "torch",
            str(context),
            "--repo",
            str(REPO),
            "--cache",
            str(DOCKER_DIR / "torch-wheels"),
            "--constraints",
            str(host_constraints(scratch / "constraints.txt")),
        ],
        timeout=1800,
    )
    context_s = time.monotonic() - started
    try:
        run(
            [
                BUILDKIT_DOCKER,
                "build",
                "--network=none",
                "-f",
                str(REPO / "containers" / "torch" / "Dockerfile"),
                "--build-arg",
                f"BASE={BASE_IMAGE}",
                "-t",
                TORCH_IMAGE,
                str(context),
            ],
            timeout=1800,
            env={**docker_env, "DOCKER_BUILDKIT": "1"},
        )
    finally:
        shutil.rmtree(context)  # 3 GB of wheels; pytest keeps old tmp folders
    build_s = time.monotonic() - started - context_s
    ident = run(
        ["docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", TORCH_IMAGE],
        timeout=60,
        env=docker_env,
    ).stdout.split()
    size_gb = int(ident[1]) / 1e9
    print(f"torch image: context {context_s:.0f} s, build {build_s:.0f} s, {size_gb:.2f} GB")
    try:
        yield ident[0]
    finally:
        subprocess.run(["docker", "image", "rm", "-f", TORCH_IMAGE], env=docker_env, check=False)
        subprocess.run(["docker", "builder", "prune", "-af"], env=docker_env, check=False)


def job_counts(snakemake_stderr: str) -> dict[str, int]:
    """rule -> number of jobs, from the "Job stats" table Snakemake prints before it runs."""
    table = snakemake_stderr.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    rows = [line.split() for line in table.splitlines()[3:]]
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[0] != "total"}


def result_bytes(run_dir: Path) -> dict[str, bytes | None]:
    """Relative path -> bytes of every file of a run folder but logs/ and benchmarks/;
    TensorBoard event files under their name without time and host, with None for bytes."""
    files: dict[str, bytes | None] = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if not path.is_file() or rel.parts[0] in EXCLUDED_DIRS:
            continue
        if events := EVENTS.match(rel.as_posix()):
            assert events.group(1) not in files, f"two event files in {rel.parent}"
            files[events.group(1)] = None
        else:
            files[rel.as_posix()] = path.read_bytes()
    return files


def shim_exec(env: dict[str, str], workdir: Path, image: Path, *command: str) -> str:
    """stdout of ``apptainer exec IMAGE COMMAND`` through the shim, in ``workdir``."""
    return run(
        [str(HERE / "apptainer"), "exec", str(image), *command], timeout=300, env=env, cwd=workdir
    ).stdout


def test_the_tiny_workflow_runs_in_the_torch_image_as_on_the_host(
    docker_env: dict[str, str], torch_image: str, tmp_path: Path
) -> None:
    # One short epoch: the comparison needs training to run, not to learn.
    config = {**tiny_synth_config(RUN, shard_size=7), "train": {"max_epochs": 1, "image_size": 32}}
    host_dir, workdir = tmp_path / "host", tmp_path / "container"
    host_dir.mkdir()
    workdir.mkdir()
    run_snakemake(host_dir, config)

    write_config(workdir, {**config, "containers": {"torch": URI}})
    shim_log = tmp_path / "shim.log"
    path = os.pathsep.join([str(HERE), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {**docker_env, "PATH": path, "APPTAINER_SHIM_LOG": str(shim_log)}
    proc = run(
        [
            "timeout",
            "-s",
            "INT",
            "-k",
            "15",
            "1200",
            *snakemake_command(workdir, "--cores", "2", "--sdm=apptainer"),
        ],
        timeout=1260,
        env=env,
        cwd=workdir,
    )

    # Every job but the target rules ran through the shim, in the image built above.
    jobs = job_counts(proc.stderr)
    executed = [line.split("\t") for line in shim_log.read_text().splitlines()]
    assert {(ref, ident) for ref, ident, _ in executed} == {(TORCH_IMAGE, torch_image)}
    assert len(executed) == sum(n for rule, n in jobs.items() if rule not in TARGET_RULES), jobs
    assert {"synth", "extract_frames", "decompose", "train", "evaluate", "summary"} <= set(jobs)

    host_out, out = host_dir / "results" / RUN, workdir / "results" / RUN
    on_host, in_image = result_bytes(host_out), result_bytes(out)
    assert sorted(on_host) == sorted(in_image)
    differ = sorted(rel for rel in on_host if on_host[rel] != in_image[rel])
    assert differ == [PROVENANCE_FILE], differ
    assert len(in_image) == len(result_files(out)) + 1  # every result file was compared

    # provenance.json: the image the rules ran in, and the image's own Python.
    record = read(out)
    pointer = image_file(URI, workdir, workdir / ".snakemake" / "singularity")
    assert pointer.read_text().split() == [TORCH_IMAGE, torch_image]
    ran_in = record["containers"]["torch"]["ran_in"]
    assert ran_in["path"] == str(pointer)
    assert read(host_out)["containers"]["torch"]["ran_in"] is None
    image_python = shim_exec(
        env, workdir, pointer, "python", "-c", "import sys; print(sys.version)"
    )
    assert record["python"] == image_python.split()[0]  # provenance ran in the image

    verified = shim_exec(env, workdir, pointer, "unrender", "verify", f"results/{RUN}")
    assert f"OK, {len(record['files'])} files match" in verified
    assert f"the rules ran in {pointer} ({ran_in['sha256']})" in verified

    samples = manifest.read_samples(out / "dataset" / "manifest.tsv")
    video = Path("results") / RUN / "dataset" / next(s.path for s in samples if s.kind == "video")
    predict = ["unrender", "predict", str(video), "--run", f"results/{RUN}", "--json"]
    predict += ["--device", "cpu"]
    scored_in_image = json.loads(shim_exec(env, workdir, pointer, *predict))
    scored_on_host = json.loads(
        run(predict, timeout=300, cwd=workdir, env={**os.environ, "PATH": path}).stdout
    )
    assert scored_in_image == scored_on_host
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", ran_in["sha256"])
