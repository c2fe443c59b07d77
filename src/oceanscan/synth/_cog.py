"""Writing one band of a synthetic scene as a Cloud-Optimized GeoTIFF, as a provider stores it.

Coarser bands are area averages of the 10 m reflectance (the sensor integrates over its larger
footprint), and reflectance is stored as uint16 DN with nodata 0, as in Sentinel-2 L2A products.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine

from oceanscan.sentinel2 import DN_NODATA, REFLECTANCE_SCALE

__all__ = ["COG_BLOCK_PX", "area_mean", "to_dn", "write_cog"]

#: Side of a COG's internal tiles, in pixels (GDAL's COG driver default).
COG_BLOCK_PX = 512
_UINT16_MAX = np.iinfo(np.uint16).max


def area_mean(x: npt.NDArray[np.float32], factor: int) -> npt.NDArray[np.float32]:
    """Mean over ``factor`` x ``factor`` blocks; partial blocks at the edges average what they hold."""
    if factor == 1:
        return x
    h, w = x.shape
    hh, ww = -(-h // factor), -(-w // factor)
    padded = np.full((hh * factor, ww * factor), np.nan, dtype=np.float64)
    padded[:h, :w] = x
    blocks = padded.reshape(hh, factor, ww, factor)
    with np.errstate(invalid="ignore"):
        out = np.nanmean(blocks, axis=(1, 3))
    return out.astype(np.float32)


def to_dn(refl: npt.NDArray[np.float32], offset: float) -> npt.NDArray[np.uint16]:
    """Reflectance -> uint16 DN with ``offset`` (0 or -0.1); NaN -> 0 (nodata), valid DN >= 1."""
    dn = np.rint((refl.astype(np.float64) - offset) / REFLECTANCE_SCALE)
    out = np.clip(np.nan_to_num(dn, nan=0.0), DN_NODATA + 1, _UINT16_MAX).astype(np.uint16)
    out[np.isnan(refl)] = DN_NODATA
    return out


def _overview_count(shape: tuple[int, int]) -> int:
    """Overview levels: halvings until the image fits one 512 px block, and at least one.

    GDAL's AUTO makes none for images smaller than a block; a COG without overviews would make
    zoomed-out reads fetch every pixel.
    """
    largest = max(shape)
    return max(1, math.ceil(math.log2(largest / COG_BLOCK_PX))) if largest > 1 else 0


def write_cog(
    path: Path, data: npt.NDArray[Any], transform: Affine, epsg: int, nodata: int
) -> None:
    """One band as a COG: 512 px internal tiles, deflate, overviews, nodata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": f"EPSG:{epsg}",
        "transform": transform,
        "nodata": nodata,
        "BLOCKSIZE": COG_BLOCK_PX,
        "COMPRESS": "DEFLATE",
        "PREDICTOR": "2",
        "OVERVIEW_COUNT": _overview_count(data.shape),
        "OVERVIEW_RESAMPLING": "NEAREST" if data.dtype == np.uint8 else "AVERAGE",
        "NUM_THREADS": "1",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
