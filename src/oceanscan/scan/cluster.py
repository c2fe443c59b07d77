"""Whether every node of the Ray cluster can reach the output root.

The write tasks of a scan run on whichever node Ray schedules them, and each writes its tile
cores straight into ``<root>/scenes.zarr``. On one machine a local path is fine; on a cluster of
several nodes a local path names a different disk on every node, so the tiles would scatter over
the workers' disks (or fail where the directory does not exist) while the driver records the
scenes complete in its own. Such a root is refused before anything is written.
"""

from __future__ import annotations

import logging

from oceanscan.errors import ConfigError

__all__ = ["alive_nodes", "check_root_reachable", "is_node_local"]

log = logging.getLogger(__name__)


def is_node_local(root: str) -> bool:
    """Whether ``root`` is a plain local path, on the disk of the node that uses it.

    URLs (``s3://``, ``gs://``, ``az://``, ``http://``...) are shared by construction, and an
    explicit ``file://`` URL states that the path is a filesystem mounted at the same place on
    every node (NFS, EFS, Lustre).
    """
    return "://" not in root


def alive_nodes() -> int | None:
    """Number of alive nodes of the Ray cluster this process is connected to; None without Ray."""
    import ray

    if not ray.is_initialized():
        return None
    return len([n for n in ray.nodes() if n.get("Alive")])


def check_root_reachable(root: str, *, nodes: int | None = None) -> None:
    """Refuse a node-local ``root`` when the Ray cluster has more than one node.

    Args:
        root: the scan output root, a path or a URL.
        nodes: alive nodes of the cluster; defaults to asking the connected Ray (no check when
            Ray is not initialised: a local Ray started later has one node).

    Raises:
        ConfigError: for a local path on a cluster of several nodes, saying which URL to use.
    """
    if not is_node_local(root):
        return
    if nodes is None:
        nodes = alive_nodes()
    if nodes is None or nodes <= 1:
        return
    raise ConfigError(
        f"root {root!r} is a local path, but the Ray cluster has {nodes} nodes: the tasks that "
        "write tiles run on every node and would each write to their own disk. Use a URL that "
        "every node can reach, such as s3://bucket/prefix or gs://bucket/prefix (with "
        "storage_options for credentials or an endpoint), or, for a filesystem mounted at the "
        "same path on every node, file:///absolute/path"
    )
