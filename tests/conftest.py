"""Shared fixtures: the ../shared reference data and one Ray instance for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Real-server fixtures: pgstac, SeaweedFS S3, nginx (tests/servers.py); a local multi-process Ray
# cluster for `ray job submit` (tests/ray_cluster.py).
pytest_plugins = ["servers", "ray_cluster"]
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; fails (not skips) under CI=true when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared reference data missing: {path}")
        pytest.skip(f"shared reference data missing: {path}")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray instance shared by every test that needs it (ray.init costs ~10 s here)."""
    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=512 * 1024**2,
            log_to_driver=False,
            configure_logging=False,
        )
    yield
    ray.shutdown()
