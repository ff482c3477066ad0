"""``results/{run}/provenance.json``: what made a run, and a hash of every file it wrote.

The record holds the git commit (and whether the work tree had uncommitted changes), the
config and its hash, the manifest's hash, the versions of the key packages, the container
images, the host and what picks its numerical kernels (:func:`numerics`), the start and end
times (ISO 8601, UTC) and the SHA-256 of every result file. :func:`verify` recomputes the
file hashes years later and lists every difference.

Files that are not results are left out of the hashes: ``provenance.json`` itself, the
``logs/`` and ``benchmarks/`` folders (timings and messages differ between identical runs)
and ``report.html`` (written by ``snakemake --report`` after the run).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from unrender.io import atomic_open

PROVENANCE_FILE = "provenance.json"
#: Format version of provenance.json; bump it when a key changes meaning.
FORMAT_VERSION = 1
#: Top-level folders and files of a run that are not hashed (see the module docstring).
EXCLUDED_DIRS: frozenset[str] = frozenset({"logs", "benchmarks"})
EXCLUDED_FILES: frozenset[str] = frozenset({PROVENANCE_FILE, "report.html"})
#: Distributions whose versions are recorded (absent ones are recorded as null).
PACKAGES: tuple[str, ...] = (
    "unrender",
    "snakemake",
    "numpy",
    "opencv-python-headless",
    "av",
    "torch",
    "torchvision",
    "scikit-learn",
    "safetensors",
    "tensorflow-cpu",
    "tf-slim",
    "pyyaml",
    "jsonschema",
)
#: Environment variables that choose numerical kernels, and so the low bits of results:
#: OpenBLAS's core type, MKL's instruction set and reproducibility mode, oneDNN's and ATen's
#: CPU capability, numpy's own SIMD dispatch.
KERNEL_ENV: tuple[str, ...] = (
    "OPENBLAS_CORETYPE",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_CBWR",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "ATEN_CPU_CAPABILITY",
    "NPY_DISABLE_CPU_FEATURES",
)
_CHUNK = 1 << 20
_COMMAND_TIMEOUT_S = 30


def now() -> str:
    """The current time as ISO 8601 in UTC, to the second, e.g. ``2026-11-25T12:00:00+00:00``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes; ValueError for a FIFO, device or folder (never opened:
    reading a FIFO would block for ever)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path} is not a regular file")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def config_sha256(config: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the config as canonical JSON (sorted keys), so key order does not matter."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def result_files(run_dir: str | os.PathLike[str]) -> list[str]:
    """Paths (relative to ``run_dir``, with ``/``) of every result file, sorted."""
    root = Path(run_dir)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in EXCLUDED_DIRS]
            filenames = [f for f in filenames if f not in EXCLUDED_FILES]
        found.extend((here / f).relative_to(root).as_posix() for f in filenames)
    return sorted(found)


def file_hashes(run_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Relative path -> hex SHA-256 of every result file of a run (see :func:`result_files`)."""
    root = Path(run_dir)
    return {rel: sha256_file(root / rel) for rel in result_files(root)}


def _run(cmd: list[str], cwd: str | os.PathLike[str] | None = None) -> str | None:
    """stdout of a command, stripped, or None if it is missing, fails or hangs."""
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_state(repo: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"commit": hex or None, "dirty": bool or None}`` of the git work tree at ``repo``.

    None means unknown: not a git checkout, or no git. Dirty means uncommitted changes to
    tracked files or untracked files that git does not ignore.
    """
    commit = _run(["git", "rev-parse", "HEAD"], cwd=repo)
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _run(["git", "status", "--porcelain"], cwd=repo)
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution, None for those not installed."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> str | None:
    """The CPU's model name (Linux's ``/proc/cpuinfo``), else ``platform.processor()``, else
    None."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def numerics(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """What picks the low bits of floating-point results in this process.

    ``{"cpu": model name or None, "blas": [{"library", "version", "architecture", "file"}]
    for each BLAS this process has loaded, numpy's and others' (OpenCV ships its own),
    "env": {name: value} of the set KERNEL_ENV}``. The same wheels on another CPU, or with
    another ``OPENBLAS_CORETYPE``, can return other bits (numpy's OpenBLAS picks its kernels
    by CPU), so two runs that differ here may differ in every file derived from
    floating-point sums while both are correct.
    """
    import numpy  # noqa: F401  (loads numpy's BLAS, so threadpoolctl sees it)
    from threadpoolctl import threadpool_info

    blas = [
        {
            "library": info.get("internal_api"),
            "version": info.get("version"),
            "architecture": info.get("architecture"),
            "file": _package_file(info.get("filepath")),
        }
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    env = {name: environ[name] for name in KERNEL_ENV if name in environ}
    return {"cpu": cpu_model(), "blas": blas, "env": env}


def _package_file(path: str | None) -> str | None:
    """``numpy.libs/libscipy_openblas64_....so``: a library's file and the folder naming its
    package, without the host's site-packages path."""
    return None if not path else "/".join(Path(path).parts[-2:])


def numerics_line(record: Mapping[str, Any]) -> str:
    """One line of a provenance record's :func:`numerics`: CPU, BLAS kernels, kernel variables."""
    found = record.get("numerics")
    if found is None:
        return "numerics: not recorded (provenance.json written before unrender recorded it)"
    blas = ", ".join(
        f"{b['library']} {b['version']} ({b['architecture']} kernels)" for b in found["blas"]
    )
    env = " ".join(f"{name}={value}" for name, value in sorted(found["env"].items()))
    return (
        f"numerics: CPU {found['cpu'] or 'unknown'}; BLAS {blas or 'none loaded'}; "
        f"{env or 'no kernel-selecting variable set'}"
    )


def image_file(
    uri: str, workdir: str | os.PathLike[str], apptainer_dir: str | os.PathLike[str]
) -> Path:
    """The file Snakemake's ``--sdm apptainer`` hands to ``apptainer exec`` for ``uri``.

    A local image (``x.sif``, ``file://x.sif``) is that file, relative to ``workdir``; any
    other URI (``docker://REF``) is the copy Snakemake pulled once,
    ``apptainer_dir/<md5 of the URI>.simg``, and never pulls again: that copy, not the
    registry's current image, is what the rules ran in.
    """
    if "://" not in uri or uri.startswith("file://"):
        return Path(workdir) / uri.removeprefix("file://")
    digest = hashlib.md5(uri.encode(), usedforsecurity=False).hexdigest()
    return Path(apptainer_dir) / f"{digest}.simg"


def image_id(
    uri: str,
    workdir: str | os.PathLike[str] = ".",
    apptainer_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """``{"uri": uri, "id": ..., "ran_in": ...}`` of a container image.

    ``id``: for ``docker://REF`` the ``docker image inspect`` id when a Docker engine answers,
    else None; for a local image file (relative to ``workdir``) ``sha256:`` of its bytes, else
    None. ``ran_in``: ``{"path": the image file of :func:`image_file`, "sha256": "sha256:"
    of its bytes}`` when the rules ran with ``--sdm apptainer`` (``apptainer_dir`` given) and
    that file exists; None when no rule ran in the image (on the host, or not pulled).
    """
    ident = None
    if uri.startswith("docker://"):
        if shutil.which("docker"):
            ident = _run(["docker", "image", "inspect", "--format", "{{.Id}}", uri[9:]])
    else:
        path = Path(workdir) / uri.removeprefix("file://")
        ident = f"sha256:{sha256_file(path)}" if path.is_file() else None
    ran_in = None
    if apptainer_dir is not None:
        path = image_file(uri, workdir, apptainer_dir)
        if path.is_file():
            ran_in = {"path": str(path), "sha256": f"sha256:{sha256_file(path)}"}
    return {"uri": uri, "id": ident or None, "ran_in": ran_in}


def host_context(
    repo: str | os.PathLike[str],
    containers: Mapping[str, str],
    workdir: str | os.PathLike[str] = ".",
    apptainer_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """What only the submitting host can tell: the workflow checkout's git state (``repo``)
    and each configured container image (URIs relative to ``workdir``; ``apptainer_dir``
    is Snakemake's image folder when it runs rules with ``--sdm apptainer``, else None)."""
    return {
        "git": git_state(repo),
        "containers": {
            name: image_id(uri, workdir, apptainer_dir) for name, uri in sorted(containers.items())
        },
    }


def container_lines(record: Mapping[str, Any]) -> list[str]:
    """One line per container image of a provenance record: what the rules ran in."""
    lines = []
    for name, image in sorted((record.get("containers") or {}).items()):
        ran_in = image.get("ran_in")
        if ran_in is None:
            where = "no rule ran in it (no --sdm apptainer, or no job of the run used it)"
        else:
            where = f"the rules ran in {ran_in['path']} ({ran_in['sha256']})"
        lines.append(f"{name}: {image['uri']} (id {image.get('id') or 'unknown'}), {where}")
    return lines


def build(
    run_dir: str | os.PathLike[str],
    config: Mapping[str, Any],
    manifest: str | os.PathLike[str] | None,
    context: Mapping[str, Any],
    started: str | None,
    workdir: str | os.PathLike[str] = ".",
) -> dict[str, Any]:
    """The provenance record of a finished run, as a JSON-ready dict.

    ``manifest`` is the manifest the run started from (hashed when it exists), ``context``
    the :func:`host_context` taken on the submitting host, ``started`` the ISO start time
    (None if unknown) and ``workdir`` the folder relative paths in the config refer to.
    """
    manifest_record = None
    if manifest is not None:
        path = Path(workdir) / manifest
        manifest_record = {
            "path": str(manifest),
            "sha256": sha256_file(path) if path.is_file() else None,
        }
    return {
        "format": FORMAT_VERSION,
        "run": config.get("run"),
        "git": context["git"],
        "config_sha256": config_sha256(config),
        "config": dict(config),
        "manifest": manifest_record,
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "containers": context["containers"],
        "host": {"name": socket.gethostname(), "platform": platform.platform()},
        "numerics": numerics(),
        "started": started,
        "finished": now(),
        "files": file_hashes(run_dir),
    }


def write(run_dir: str | os.PathLike[str], record: Mapping[str, Any]) -> Path:
    """Write ``record`` to ``run_dir/provenance.json`` atomically; return its path."""
    path = Path(run_dir) / PROVENANCE_FILE
    with atomic_open(path) as f:
        json.dump(record, f, indent=1, sort_keys=True, default=str)
        f.write("\n")
    return path


def read(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance record of a run; FileNotFoundError/ValueError say what to do."""
    path = Path(run_dir) / PROVENANCE_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: is {run_dir} a finished run folder (results/RUN)? "
            "Rerun the workflow to write it."
        )
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); it was damaged after the run") from e
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        raise ValueError(f"{path} has no 'files' table; it is not an unrender provenance file")
    return record


def verify(run_dir: str | os.PathLike[str]) -> list[str]:
    """Every difference between a run folder and its provenance.json, one line each, sorted.

    Lines start with ``modified:``, ``missing:`` or ``extra:`` and a path relative to
    ``run_dir`` (a recorded file now a FIFO or unreadable is ``modified``, a dangling
    symbolic link ``missing``; every file is checked, whatever the earlier ones gave); a
    record whose config no longer matches its own config hash gives a ``config:`` line.
    An empty list means the run is exactly as it was written.
    """
    record = read(run_dir)
    recorded: dict[str, str] = record["files"]
    root = Path(run_dir)
    present = set(result_files(root))
    differences = [f"extra: {rel}" for rel in sorted(present - recorded.keys())]
    for rel, digest in sorted(recorded.items()):
        if rel not in present:
            differences.append(f"missing: {rel}")
            continue
        try:
            if sha256_file(root / rel) != digest:
                differences.append(f"modified: {rel}")
        except FileNotFoundError:
            differences.append(f"missing: {rel} (a symbolic link to nothing)")
        except (OSError, ValueError) as e:
            differences.append(f"modified: {rel} ({e.strerror if isinstance(e, OSError) else e})")
    if config_sha256(record.get("config", {})) != record.get("config_sha256"):
        differences.append("config: the recorded config does not match config_sha256")
    differences.extend(_manifest_difference(root, record.get("manifest")))
    return sorted(differences)


def _manifest_difference(run_dir: Path, manifest: Mapping[str, Any] | None) -> list[str]:
    """A ``manifest:`` line if the run's manifest is still there but its bytes changed.

    Relative manifest paths are resolved against the working directory of the run,
    ``run_dir/../..`` (``results/{run}``). A manifest that is gone is not a difference: the
    raw data often stays behind when results are archived.
    """
    if not manifest or manifest.get("sha256") is None:
        return []
    path = run_dir.resolve().parents[1] / manifest["path"]
    if path.is_file() and sha256_file(path) != manifest["sha256"]:
        return [f"manifest: {manifest['path']} changed since the run"]
    return []
