"""GeoParquet reading and writing through fsspec, so outputs land on local disks and S3 alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import fsspec
import geopandas as gpd

__all__ = ["exists", "join", "read_geoparquet", "remove", "write_geoparquet"]


def join(root: str, *parts: str) -> str:
    """``root/part/...`` for a path or URL."""
    return "/".join([root.rstrip("/"), *parts])


def _fs(url: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    return fsspec.core.url_to_fs(url, **dict(storage_options or {}))


def write_geoparquet(
    frame: gpd.GeoDataFrame, url: str, *, storage_options: Mapping[str, Any] | None = None
) -> None:
    """Write a GeoDataFrame as GeoParquet to a path or fsspec URL, creating parent folders."""
    fs, path = _fs(url, storage_options)
    parent = path.rsplit("/", 1)[0]
    if parent and parent != path:
        fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "wb") as f:
        frame.to_parquet(f, index=False)


def read_geoparquet(
    url: str, *, storage_options: Mapping[str, Any] | None = None
) -> gpd.GeoDataFrame:
    """Read a GeoParquet file from a path or fsspec URL."""
    fs, path = _fs(url, storage_options)
    with fs.open(path, "rb") as f:
        return gpd.read_parquet(f)


def exists(url: str, *, storage_options: Mapping[str, Any] | None = None) -> bool:
    """Whether a file exists at a path or fsspec URL."""
    fs, path = _fs(url, storage_options)
    return bool(fs.exists(path))


def remove(url: str, *, storage_options: Mapping[str, Any] | None = None) -> None:
    """Delete a file if it exists."""
    fs, path = _fs(url, storage_options)
    if fs.exists(path):
        fs.rm(path)
