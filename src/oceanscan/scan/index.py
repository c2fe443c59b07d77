"""``<root>/index.parquet``: one GeoParquet row per scene, derived from the store's attributes.

Analysts filter scenes here (by time, tile, status, debris found) before opening any Zarr group;
operations read failed scenes and their reasons. It is rebuilt from the store after every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
from pyproj import Transformer
from shapely.geometry import box, shape

from oceanscan.scan._io import join, write_geoparquet
from oceanscan.scan.store import open_root, read_scene_attrs

__all__ = ["INDEX_COLUMNS", "build_index", "write_index"]

#: Columns of ``index.parquet`` besides ``geometry`` (the footprint, EPSG:4326).
INDEX_COLUMNS = (
    "scene",
    "item_id",
    "collection",
    "provider",
    "datetime",
    "platform",
    "mgrs_tile",
    "cloud_cover",
    "processing_baseline",
    "reflectance_offset",
    "status",
    "reason",
    "scored_pixels",
    "debris_pixels",
    "max_probability",
    "detections",
    "threshold",
    "model_sha256",
    "run_id",
)


def _footprint(attrs: Mapping[str, Any]) -> Any:
    if attrs.get("footprint"):
        return shape(attrs["footprint"])
    if attrs.get("spatial:bbox") and (attrs.get("proj:code") or attrs.get("proj:wkt2")):
        crs = attrs.get("proj:code") or attrs["proj:wkt2"]
        to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        left, bottom, right, top = to_lonlat.transform_bounds(*attrs["spatial:bbox"])
        return box(left, bottom, right, top)
    return None


def build_index(root: str, *, storage_options: Mapping[str, Any] | None = None) -> gpd.GeoDataFrame:
    """One row per scene group in the store, columns :data:`INDEX_COLUMNS` plus footprint."""
    stored = read_scene_attrs(open_root(root, storage_options=storage_options, create=False))
    records = []
    geometries = []
    for key in sorted(stored):
        attrs = stored[key]
        records.append({"scene": key, **{c: attrs.get(c) for c in INDEX_COLUMNS[1:]}})
        geometries.append(_footprint(attrs))
    frame = gpd.GeoDataFrame(
        records, columns=list(INDEX_COLUMNS), geometry=geometries, crs="EPSG:4326"
    )
    for column in ("scored_pixels", "debris_pixels", "detections"):
        frame[column] = frame[column].astype("Int64")
    for column in ("cloud_cover", "max_probability", "reflectance_offset", "threshold"):
        frame[column] = frame[column].astype("Float64")
    return frame


def write_index(root: str, *, storage_options: Mapping[str, Any] | None = None) -> str:
    """Rebuild ``<root>/index.parquet`` from the store; returns its URL."""
    url = join(root, "index.parquet")
    write_geoparquet(
        build_index(root, storage_options=storage_options), url, storage_options=storage_options
    )
    return url
