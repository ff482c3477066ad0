"""Each container's Dockerfile and Apptainer .def install the same things.

Both recipes are parsed with spython and reduced to what the image ends up holding: base
image, apt packages, pip requirements, cloned repositories and commits, copied files and
environment. Shell variables (Dockerfile ARG/ENV defaults, %post assignments) are expanded
first, so ``pip install "${OPENCV_PACKAGE}"`` and ``pip install opencv-python-headless==4.8``
compare equal.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from spython.main.parse.parsers import DockerParser, SingularityParser

CONTAINERS = Path(__file__).resolve().parents[1] / "containers"
NAMES = ("torch", "irn-tf1", "stylegan2-ada")
SEPARATORS = {"&&", "||", ";", "|", "(", ")", "&"}
#: pip install options followed by a value that is not a requirement.
PIP_VALUE_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "-f", "--find-links", "-i"}
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
#: A Dockerfile ``RUN --mount=type=bind,...`` (spython keeps it at the start of an install line).
BIND_MOUNT = re.compile(r"^--mount=type=bind,(\S+)")


@dataclass(frozen=True)
class Contents:
    """What a recipe puts in its image."""

    base: str
    apt: frozenset[str]
    pip: frozenset[str]
    clones: frozenset[tuple[str, str]]  # (repository URL, commit)
    files: frozenset[tuple[str, str]]  # (source in the build context, path in the image)
    environment: frozenset[str]


def commands(script: str) -> list[list[str]]:
    """Simple commands of a shell script as token lists; continuations joined, comments dropped."""
    found: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        for token in lexer:
            if token in SEPARATORS:
                found.append(current)
                current = []
            else:
                current.append(token)
        found.append(current)
    return [c for c in found if c]


def expand(script: str) -> str:
    """``script`` with ``$NAME`` and ``${NAME}`` replaced by the values it assigns to NAME."""
    values: dict[str, str] = {}
    for command in commands(script):
        if len(command) == 1 and (m := ASSIGNMENT.match(command[0])):
            values[m.group(1)] = m.group(2)
    pattern = re.compile(r"\$\{(\w+)\}|\$(\w+)")
    return pattern.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), script)


def installed(script: str) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """apt packages, pip requirements and (url, commit) clones that a shell script installs."""
    apt: set[str] = set()
    pip: set[str] = set()
    urls: list[str] = []
    commits: list[str] = []
    for command in commands(expand(script)):
        words = [posixpath.basename(w) if "/bin/" in w else w for w in command]
        for i, word in enumerate(words[:-1]):
            if word == "apt-get" and words[i + 1] == "install":
                apt |= {w for w in words[i + 2 :] if not w.startswith("-")}
            if word in ("pip", "pip3") and words[i + 1] == "install":
                args = iter(words[i + 2 :])
                for arg in args:
                    if arg in PIP_VALUE_OPTIONS:
                        next(args, None)
                    elif not arg.startswith("-"):
                        pip.add(arg)
            if word == "git" and "clone" in words[i + 1 :]:
                urls.append(words[words.index("clone") + 1])
            if word == "--detach":
                commits.append(words[i + 1])
    assert len(urls) == len(commits), f"every clone is pinned to a commit: {urls} {commits}"
    return apt, pip, set(zip(urls, commits, strict=True))


def one_stage(recipe: dict[str, Any], path: Path) -> Any:
    assert len(recipe) == 1, f"{path}: one build stage expected, got {list(recipe)}"
    return next(iter(recipe.values()))


def bind_mounts(lines: list[str]) -> set[tuple[str, str]]:
    """(source, target) of each ``RUN --mount=type=bind`` of a Dockerfile: like a .def's
    %files entry that %post deletes, the build sees them and the image does not keep them."""
    found = set()
    for line in lines:
        if m := BIND_MOUNT.match(line.strip()):
            options = dict(option.split("=", 1) for option in m.group(1).split(","))
            found.add((options.get("source", "."), options["target"]))
    return found


def docker_contents(path: Path) -> Contents:
    stage = one_stage(DockerParser(str(path)).recipe, path)
    # spython puts Dockerfile ARG and ENV defaults into .install as NAME=value lines.
    apt, pip, clones = installed("\n".join(stage.install))
    files = {
        (src, posixpath.join(dst, posixpath.basename(src)) if dst.endswith("/") else dst)
        for src, dst in stage.files
    } | bind_mounts(stage.install)
    return Contents(
        stage.fromHeader,
        frozenset(apt),
        frozenset(pip),
        frozenset(clones),
        frozenset(files),
        frozenset(stage.environ),
    )


def apptainer_contents(path: Path) -> Contents:
    stage = one_stage(SingularityParser(str(path)).recipe, path)
    apt, pip, clones = installed("\n".join(stage.install))
    files = {tuple(line.split()) for line in stage.files}
    environment = {e.removeprefix("export ") for e in stage.environ}
    return Contents(
        stage.fromHeader,
        frozenset(apt),
        frozenset(pip),
        frozenset(clones),
        frozenset(files),  # type: ignore[arg-type]
        frozenset(environment),
    )


def test_the_shell_reduction_sees_through_variables_and_continuations() -> None:
    script = (
        "PKG=opencv-python-headless==4.8.0.76\nURL=https://example.org/x.git\n"
        "apt-get update \\\n&& apt-get install -y --no-install-recommends git ca-certificates\n"
        'git clone "$URL" /opt/x && git -C /opt/x checkout --detach abc123  # pinned\n'
        '/opt/venv/bin/pip install --no-cache-dir --no-deps "${PKG}" /opt/unrender\n'
    )
    apt, pip, clones = installed(script)
    assert apt == {"git", "ca-certificates"}
    assert pip == {"opencv-python-headless==4.8.0.76", "/opt/unrender"}
    assert clones == {("https://example.org/x.git", "abc123")}


@pytest.mark.parametrize("name", NAMES)
def test_dockerfile_and_def_install_the_same_things(name: str) -> None:
    folder = CONTAINERS / name
    docker = docker_contents(folder / "Dockerfile")
    apptainer = apptainer_contents(folder / f"{name}.def")
    assert docker.base and "$" not in docker.base
    assert docker.apt or docker.pip, f"{name}: the reduction found nothing installed"
    for field in Contents.__dataclass_fields__:
        assert getattr(docker, field) == getattr(apptainer, field), (name, field)
