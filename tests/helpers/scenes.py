"""Scenes for the tests: one SceneSpec factory, and tiny Sentinel-2-like scenes written to disk
(one GeoTIFF per band at its native resolution (10, 20, 60 m) plus SCL, seeded, with land,
cloud and nodata areas)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.transform import from_origin

from oceanscan.scene import BandAsset, RasterGrid, SceneSpec
from oceanscan.sentinel2 import BAND_INFO, BANDS

__all__ = ["CRS", "scene_spec", "write_geotiff", "write_scene"]

CRS = "EPSG:32631"
#: Properties of a scene whose test does not name its own.
_PROPERTIES = {"platform": "sentinel-2a", "s2:mgrs_tile": "31UDQ", "eo:cloud_cover": 5.0}


def scene_spec(
    item_id: str = "S2A_MSIL2A_20240101T000000_T31UDQ",
    *,
    bands: Sequence[BandAsset] | None = None,
    shape: tuple[int, int] = (130, 150),
    crs: str = CRS,
    origin: tuple[float, float] = (500000.0, 5600000.0),
    collection: str = "sentinel-2-l2a",
    provider: str = "synthetic",
    datetime: str = "2024-01-01T00:00:00.000000Z",
    offset: float = 0.0,
    scl: BandAsset | None = None,
    properties: dict[str, Any] | None = None,
) -> SceneSpec:
    """A SceneSpec with a scale of 1e-4 and no footprint.

    Without ``bands`` its 11 bands share a 10 m grid of ``shape`` at ``origin`` in ``crs``, with
    hrefs that point nowhere (for tests of layout and bookkeeping); with ``bands`` (in
    :data:`~oceanscan.sentinel2.BANDS` order) the scene's grid is B02's.
    """
    if bands is None:
        grid = RasterGrid(crs, (10.0, 0.0, origin[0], 0.0, -10.0, origin[1]), shape)
        bands = [BandAsset(b, f"/nonexistent/{item_id}/{b}.tif", grid) for b in BANDS]
    return SceneSpec(
        id=item_id,
        collection=collection,
        provider=provider,
        datetime=datetime,
        bands=tuple(bands),
        grid=bands[BANDS.index("B02")].grid,
        scale=1e-4,
        offset=offset,
        scl=scl,
        footprint=None,
        properties=dict(_PROPERTIES if properties is None else properties),
    )


def write_geotiff(
    path: Path,
    data: np.ndarray,
    transform: Affine,
    *,
    crs: str = CRS,
    nodata: int | None = 0,
    block: int | None = None,
) -> RasterGrid:
    """One band as a GeoTIFF (tiled in ``block`` px squares when given); returns its grid."""
    tiling = {"tiled": True, "blockxsize": block, "blockysize": block} if block else {}
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        **tiling,
    ) as dst:
        dst.write(data, 1)
    return RasterGrid(crs, tuple(transform)[:6], data.shape)


def _write(path: Path, data: np.ndarray, res: float, origin: tuple[float, float]) -> RasterGrid:
    return write_geotiff(path, data, from_origin(origin[0], origin[1], res, res), block=32)


def write_scene(
    directory: Path,
    item_id: str,
    *,
    size: int = 192,
    seed: int = 0,
    origin: tuple[float, float] = (600000.0, 4200000.0),
) -> SceneSpec:
    """Write one scene (``size`` x ``size`` at 10 m, a multiple of 6) and return its SceneSpec."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    bands = []
    for i, info in enumerate(BAND_INFO):
        factor = info.resolution_m // 10
        n = size // factor
        smooth = 800 + 600 * np.sin(6 * xx[::factor, ::factor] + i) * np.cos(
            4 * yy[::factor, ::factor]
        )
        dn = (smooth + rng.normal(0, 150, (n, n))).clip(1, 10000).astype(np.uint16)
        # A bright streak (debris-like) and a nodata corner.
        dn[n // 3 : n // 3 + max(1, n // 32), n // 4 : 3 * n // 4] += 1500
        dn[: n // 8, : n // 8] = 0
        grid = _write(directory / f"{info.name}.tif", dn, info.resolution_m, origin)
        bands.append(BandAsset(info.name, str(directory / f"{info.name}.tif"), grid))
    scl = np.full((size // 2, size // 2), 6, dtype=np.uint8)  # water
    scl[-size // 8 :, :] = 4  # land strip along the bottom
    scl[size // 4 : size // 4 + 8, -16:] = 9  # a cloud
    scl_grid = _write(directory / "SCL.tif", scl, 20, origin)
    return scene_spec(
        item_id,
        bands=bands,
        datetime="2024-03-01T10:30:00.000000Z",
        scl=BandAsset("SCL", str(directory / "SCL.tif"), scl_grid),
        properties={"platform": "sentinel-2a", "s2:mgrs_tile": "31SDA", "eo:cloud_cover": 3.0},
    )
