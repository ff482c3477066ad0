"""The Docker engine fixture of the container tests (see engine.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.containers.engine import docker_engine


@pytest.fixture(scope="session")
def docker_env() -> Iterator[dict[str, str]]:
    """Environment whose DOCKER_HOST is the tests' private Docker engine (one per session)."""
    yield from docker_engine()
