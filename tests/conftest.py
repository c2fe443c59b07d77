"""Session fixtures: the ../shared reference data, one in-process Ray instance, real servers on
loopback (pgstac, SeaweedFS S3, nginx) and local multi-process Ray clusters for ``ray job submit``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.ray_cluster import start_ray_cluster
from tests.helpers.servers import (
    PgstacServer,
    RangeServer,
    S3Server,
    range_servers,
    running_pgstac,
    running_s3,
)
from tests.helpers.shared import shared_path

# The coastline's polygon index (oceanscan.coastline) is cached here rather than in the user's
# cache directory; it survives between runs of the suite on one machine.
os.environ.setdefault(
    "OCEANSCAN_CACHE_DIR", str(Path(tempfile.gettempdir()) / "oceanscan-tests-cache")
)


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


@pytest.fixture(scope="session")
def pgstac_server() -> Iterator[PgstacServer]:
    """A stac-fastapi-pgstac STAC API on a fresh PostgreSQL cluster (about 5 s to start)."""
    with running_pgstac() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS ``weed mini`` S3 server with keys set and one bucket (about 2 s to start)."""
    with running_s3() as server:
        yield server


@pytest.fixture(scope="session")
def range_http_server() -> Iterator[Callable[[Path], RangeServer]]:
    """A factory: ``range_http_server(directory)`` starts nginx serving it (about 0.1 s)."""
    with range_servers() as start:
        yield start


@pytest.fixture
def ray_head() -> Iterator[str]:
    """A one-node Ray cluster (a head with 2 CPUs); yields its job server address."""
    with start_ray_cluster(head_cpus=2) as cluster:
        yield cluster.address
