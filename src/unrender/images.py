"""Build contexts of the workflow images, made on the host so the image build needs no network.

``python -m unrender.images torch CONTEXT [--constraints FILE] [--cache DIR]`` fills
``CONTEXT/wheels/`` with every wheel the torch image installs: the runtime dependencies of
pyproject.toml (torch and torchvision as the CUDA builds PyPI serves for Linux), wheels
built here for the few that only publish sources, and the unrender wheel of this checkout.
``CONTEXT/wheels/requirements.txt`` pins each of them (``name==version``), so the image holds
exactly the set that was downloaded. ``containers/torch/Dockerfile`` installs from there with
``pip --no-index``.

The wheels are resolved for this interpreter, so it must be CPython 3.11 on Linux x86_64,
the Python of Debian 12 that the image runs.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

#: The image's interpreter: Debian 12's python3.
IMAGE_PYTHON = (3, 11)
REQUIREMENTS = "requirements.txt"
#: ``name-version-...whl``: the distribution and version fields of a wheel file name.
WHEEL_NAME = re.compile(r"^([^-]+)-([^-]+)-")
PIP_TIMEOUT_S = 1800


def runtime_requirements(pyproject: Path) -> list[str]:
    """The ``[project] dependencies`` of ``pyproject`` (no extras), as written there."""
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def pins(wheels: Path) -> list[str]:
    """``name==version`` of every wheel in ``wheels``, sorted by name (PEP 503 normalised)."""
    found = {}
    for wheel in wheels.glob("*.whl"):
        m = WHEEL_NAME.match(wheel.name)
        if m is None:
            raise ValueError(f"{wheel} is not a wheel file name (name-version-...whl)")
        name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
        if name in found and found[name] != m.group(2):
            raise ValueError(f"{wheels} holds two versions of {name}: {found[name]}, {m.group(2)}")
        found[name] = m.group(2)
    return [f"{name}=={version}" for name, version in sorted(found.items())]


def check_interpreter() -> None:
    """Raise RuntimeError unless this is CPython IMAGE_PYTHON on Linux x86_64 (the image's ABI)."""
    here = (sys.implementation.name, sys.version_info[:2], sys.platform)
    if here != ("cpython", IMAGE_PYTHON, "linux") or platform.machine() != "x86_64":
        wanted = "{}.{}".format(*IMAGE_PYTHON)
        raise RuntimeError(
            f"the torch image's wheels are resolved for CPython {wanted} on Linux x86_64 "
            f"(Debian 12); this is {sys.implementation.name} {sys.version.split()[0]} on "
            f"{sys.platform}: run `python{wanted} -m unrender.images` on such a machine"
        )


def torch_context(
    repo: Path, context: Path, cache: Path, constraints: Path | None = None
) -> list[str]:
    """Fill ``context/wheels`` for containers/torch/Dockerfile from the checkout ``repo``;
    return its pins.

    ``cache`` is where pip downloads and builds the wheels (~3 GB; the context then takes
    exactly the ones this resolution needs, whatever else the folder holds). ``constraints``
    is a pip constraints file (e.g. a ``pip freeze`` of the host), to build the image with
    the versions of a given environment.
    """
    check_interpreter()
    requirements = runtime_requirements(repo / "pyproject.toml")
    cache.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    # `pip wheel` rather than `pip download`: it also builds the few dependencies that
    # publish only sources (e.g. connection_pool), which `download --only-binary` refuses.
    resolve = [*pip, "wheel", "--quiet", "-w", str(cache), *requirements]
    if constraints is not None:
        resolve += ["-c", str(constraints)]
    subprocess.run(resolve, check=True, timeout=PIP_TIMEOUT_S)
    # The cache may hold other versions from earlier calls: resolve again from it alone
    # and copy exactly what this resolution takes.
    wheels = context / "wheels"
    if wheels.exists():
        shutil.rmtree(wheels)
    wheels.mkdir(parents=True)
    own = [*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    subprocess.run([*own, str(repo)], check=True, timeout=PIP_TIMEOUT_S)
    needed = [*pip, "wheel", "--quiet", "--no-index", "--find-links", str(cache)]
    needed += ["-w", str(wheels), *requirements]
    if constraints is not None:
        needed += ["-c", str(constraints)]
    subprocess.run(needed, check=True, timeout=PIP_TIMEOUT_S)
    pinned = pins(wheels)
    (wheels / REQUIREMENTS).write_text("\n".join(pinned) + "\n")
    return pinned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unrender.images", description=__doc__)
    parser.add_argument("image", choices=["torch"], help="which image's context to make")
    parser.add_argument("context", type=Path, help="build context folder to fill")
    parser.add_argument(
        "--repo", type=Path, default=Path("."), help="unrender checkout (default: %(default)s)"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("build/wheel-cache"),
        help="folder pip downloads and builds the wheels into (default: %(default)s)",
    )
    parser.add_argument("--constraints", type=Path, help="pip constraints file, e.g. a pip freeze")
    args = parser.parse_args(argv)
    try:
        pinned = torch_context(args.repo, args.context, args.cache, args.constraints)
    except (RuntimeError, ValueError, subprocess.CalledProcessError) as e:
        print(f"unrender.images: {e}", file=sys.stderr)
        return 1
    print(f"{args.context / 'wheels'}: {len(pinned)} wheels, pinned in {REQUIREMENTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
