"""Detections: connected components of pixels above the bundle's threshold, as polygons.

Each component (8-connected, ``scipy.ndimage.label``) becomes one row: its outline polygon
(``rasterio.features.shapes`` on the component labels, then reprojected to EPSG:4326), centroid
longitude and latitude, area in square metres (pixel count x pixel area on the scene's UTM grid,
exact for pixel-aligned outlines), maximum and mean probability, scene key and acquisition time.

A scene's detections are written to ``<root>/detections/<scene_key>.parquet`` when the scene
completes; ``<root>/detections.parquet`` gathers those of every complete scene. Both are
derived from the store and can be rebuilt from it (:func:`write_detections` with ``rebuild``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from affine import Affine
from rasterio.features import shapes
from scipy import ndimage
from shapely.geometry import shape as to_shape
from shapely.ops import unary_union

from oceanscan.scan._io import join, read_geoparquet, write_geoparquet
from oceanscan.scan.store import (
    FILL,
    QUANT_STEPS,
    get_scene_attrs,
    open_root,
    read_probability,
    read_scene_attrs,
    threshold_step,
)

__all__ = [
    "DETECTION_COLUMNS",
    "find_detections",
    "scene_detections_url",
    "write_detections",
    "write_scene_detections",
]

#: Columns of ``detections.parquet`` besides ``geometry``.
DETECTION_COLUMNS = (
    "scene",
    "datetime",
    "lon",
    "lat",
    "area_m2",
    "pixels",
    "max_probability",
    "mean_probability",
)

_EIGHT = np.ones((3, 3), dtype=bool)


def _empty() -> gpd.GeoDataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=float) for c in DETECTION_COLUMNS})
    frame["scene"] = frame["scene"].astype(str)
    frame["datetime"] = frame["datetime"].astype(str)
    frame["pixels"] = frame["pixels"].astype(np.int64)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def find_detections(
    stored: npt.NDArray[np.uint8],
    *,
    transform: Affine,
    crs: str,
    step: int,
    scene: str,
    datetime: str,
) -> gpd.GeoDataFrame:
    """Connected components of ``stored >= step`` (scored pixels only) as a GeoDataFrame.

    Args:
        stored: the scene's stored probability bytes (255 = not scored).
        transform: the scene grid's affine transform.
        crs: the scene CRS.
        step: smallest stored value counted as debris (:func:`oceanscan.scan.store.threshold_step`).
        scene: scene key, copied into every row.
        datetime: acquisition time, copied into every row.

    Returns:
        One row per component in EPSG:4326, columns :data:`DETECTION_COLUMNS` and ``geometry``.
    """
    hits = (stored != FILL) & (stored >= step)
    labels, count = ndimage.label(hits, structure=_EIGHT)
    if count == 0:
        return _empty()
    ids = np.arange(1, count + 1)
    # Statistics over the hit pixels alone: over the whole scene, ndimage.maximum sorts every
    # pixel (0.44 s of 0.68 s for a 2048 px scene), on the driver, while the scan streams.
    member = labels[hits] - 1
    prob = stored[hits].astype(np.float64) / QUANT_STEPS
    pixels = np.bincount(member, minlength=count).astype(np.int64)
    means = np.bincount(member, weights=prob, minlength=count) / pixels
    maxima = np.zeros(count)
    np.maximum.at(maxima, member, prob)
    parts: dict[int, list[Any]] = {}
    # ndimage.label gives int32 already, which shapes takes as it is: no copy of the scene.
    for geom, value in shapes(
        labels.astype(np.int32, copy=False), mask=hits, connectivity=8, transform=transform
    ):
        parts.setdefault(int(value), []).append(to_shape(geom))
    polygons = [p[0] if len(p) == 1 else unary_union(p) for p in (parts[i] for i in ids)]
    pixel_area = abs(transform.a * transform.e - transform.b * transform.d)
    local = gpd.GeoSeries(polygons, crs=crs)
    centroids = local.centroid.to_crs("EPSG:4326")
    return gpd.GeoDataFrame(
        {
            "scene": scene,
            "datetime": datetime,
            "lon": centroids.x.to_numpy(),
            "lat": centroids.y.to_numpy(),
            "area_m2": pixels * pixel_area,
            "pixels": pixels,
            "max_probability": maxima,
            "mean_probability": means,
        },
        geometry=local.to_crs("EPSG:4326"),
        crs="EPSG:4326",
    )


def scene_detections_url(root: str, key: str) -> str:
    """Where a scene's detections part lives."""
    return join(root, "detections", f"{key}.parquet")


def write_scene_detections(
    root: str, key: str, *, storage_options: Mapping[str, Any] | None = None
) -> int:
    """Extract one scene's detections from the store and write its part file.

    Returns:
        The number of detections.
    """
    root_group = open_root(root, storage_options=storage_options, create=False)
    attrs = get_scene_attrs(root_group, key)
    stored = read_probability(root_group, key)
    frame = find_detections(
        stored,
        transform=Affine(*attrs["spatial:transform"]),
        crs=attrs["proj:code"] or attrs["proj:wkt2"],
        step=threshold_step(float(attrs["threshold"])),
        scene=key,
        datetime=str(attrs.get("datetime", "")),
    )
    write_geoparquet(frame, scene_detections_url(root, key), storage_options=storage_options)
    return len(frame)


def write_detections(
    root: str, *, storage_options: Mapping[str, Any] | None = None, rebuild: bool = False
) -> str:
    """Gather the detections of every complete scene into ``<root>/detections.parquet``.

    Args:
        root: output root.
        storage_options: fsspec options for ``root``.
        rebuild: recompute every complete scene's part from its stored probabilities first.

    Returns:
        The URL written.
    """
    stored = read_scene_attrs(open_root(root, storage_options=storage_options, create=False))
    frames = []
    for key in sorted(k for k, a in stored.items() if a.get("status") == "complete"):
        if rebuild:
            write_scene_detections(root, key, storage_options=storage_options)
        frames.append(
            read_geoparquet(scene_detections_url(root, key), storage_options=storage_options)
        )
    frames = [f for f in frames if len(f)]
    frame = (
        gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
        if frames
        else _empty()
    )
    url = join(root, "detections.parquet")
    write_geoparquet(frame, url, storage_options=storage_options)
    return url
