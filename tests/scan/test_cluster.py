"""A root the workers cannot reach is refused on a cluster of several nodes (oceanscan.scan.cluster).

The refusal on a real two-node cluster, under ``ray job submit``, is in tests/test_jobs_scan.py.
"""

from __future__ import annotations

import pytest

from oceanscan.errors import ConfigError
from oceanscan.scan.cluster import alive_nodes, check_root_reachable, is_node_local
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.runner import scan_regions


@pytest.mark.parametrize(
    ("root", "local"),
    [
        ("scans", True),
        ("/data/scans", True),
        ("./scans/", True),
        ("s3://bucket/scans", False),
        ("gs://bucket/scans", False),
        ("az://container/scans", False),
        ("file:///mnt/shared/scans", False),  # stated to be mounted on every node
    ],
)
def test_which_roots_are_node_local(root, local):
    assert is_node_local(root) is local


def test_a_local_root_is_refused_only_with_several_nodes():
    check_root_reachable("scans", nodes=1)
    check_root_reachable("s3://bucket/scans", nodes=4)
    check_root_reachable("file:///mnt/shared/scans", nodes=4)
    with pytest.raises(ConfigError) as info:
        check_root_reachable("scans", nodes=3)
    message = str(info.value)
    assert "'scans' is a local path" in message and "3 nodes" in message
    assert "s3://bucket/prefix" in message and "file:///" in message


def test_scan_regions_refuses_before_the_store_is_created(tmp_path, monkeypatch):
    from oceanscan.scan import cluster

    monkeypatch.setattr(cluster, "alive_nodes", lambda: 2)  # the count a real cluster would give
    root = tmp_path / "out"
    config = ScanConfig(model=str(tmp_path / "b"), root=str(root), catalog=str(tmp_path))
    with pytest.raises(ConfigError, match="local path"):
        scan_regions(config, bundle=object())  # the root is checked before the bundle is used
    assert not root.exists()


@pytest.mark.ray
def test_the_session_ray_is_one_node_and_accepts_a_local_root(ray_session):
    assert alive_nodes() == 1
    check_root_reachable("scans")
