"""The hand-traced debris filaments of Durban, 2019-04-24, and their rasterisation.

``durban_20190424_filaments.geojson`` (next to this module) holds LineStrings along the centre
lines of the floating debris filaments north-east of the Durban harbour mouth, in the scene's
CRS (EPSG:32736). They were traced by eye from zoomed true-colour and FDI-anomaly images
(FDI: Biermann et al. 2020, Sci. Rep. 10:5364; anomaly = FDI minus its 15 px median) before any
model was run on the scene; the file's ``description`` says how. ``docs/realsea.md`` has the
details. The label is for evaluation only: nothing is trained on Durban.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import rasterize
from scipy import ndimage
from shapely.geometry import LineString
from shapely.geometry import shape as to_geometry

__all__ = [
    "DURBAN_FILAMENTS",
    "TRACE_MATCH_PX",
    "Filaments",
    "load_filaments",
    "rasterize_filaments",
    "trace_precision",
]

#: The traced filaments of the Durban 2019-04-24 scene.
DURBAN_FILAMENTS = Path(__file__).with_name("durban_20190424_filaments.geojson")
#: How far (pixels, 8-neighbourhood) a flag may lie from a traced pixel and still find it. The
#: trace is a centre line placed by eye on 10 m pixels and burnt in with ``all_touched`` (a
#: quarter of its pixels are ones the line only clips), so it runs one pixel beside a
#: filament's brightest pixels about as often as on them (docs/realsea.md, "How precise the
#: trace is").
TRACE_MATCH_PX = 1


@dataclass(frozen=True)
class Filaments:
    """Traced filament centre lines.

    Attributes:
        lines: one LineString per filament, in :attr:`crs` coordinates.
        ids: the features' ids, in the same order.
        crs: the CRS of the coordinates.
        description: how they were drawn (the file's ``description``).
    """

    lines: tuple[LineString, ...]
    ids: tuple[str, ...]
    crs: CRS
    description: str


def load_filaments(path: str | Path = DURBAN_FILAMENTS) -> Filaments:
    """Read a GeoJSON FeatureCollection of LineStrings with a named ``crs`` member.

    Args:
        path: the GeoJSON file, defaults to :data:`DURBAN_FILAMENTS`.

    Returns:
        The lines, their ids, CRS and description.

    Raises:
        FileNotFoundError: naming the missing file.
        ValueError: naming the file when it has no ``crs`` or no features.
        TypeError: naming the file and feature when a geometry is not a LineString.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"filament trace not found: {path}")
    doc: dict[str, Any] = json.loads(path.read_text())
    try:
        crs = CRS.from_user_input(doc["crs"]["properties"]["name"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path} lacks a named 'crs' member (e.g. EPSG:32736)") from err
    features = doc.get("features") or []
    if not features:
        raise ValueError(f"{path} holds no features")
    lines, ids = [], []
    for i, feature in enumerate(features):
        geom = to_geometry(feature["geometry"])
        if not isinstance(geom, LineString):
            raise TypeError(f"{path}: feature {i} is a {geom.geom_type}, not a LineString")
        lines.append(geom)
        ids.append(str(feature.get("id", i)))
    return Filaments(tuple(lines), tuple(ids), crs, str(doc.get("description", "")))


def rasterize_filaments(
    filaments: Filaments,
    *,
    shape: tuple[int, int],
    transform: Affine,
    crs: CRS | str,
    all_touched: bool = True,
) -> npt.NDArray[np.bool_]:
    """Burn the filament lines into a grid, one pixel wide.

    By default every pixel a line passes through is marked (``all_touched=True``), so a
    diagonal line becomes an 8-connected chain of pixels; with ``all_touched=False`` only the
    pixels the line passes through the centre of (GDAL's Bresenham line), one per row or column.

    Args:
        filaments: from :func:`load_filaments`.
        shape: ``(H, W)`` of the grid.
        transform: its affine transform.
        crs: its CRS; must equal the filaments' CRS (no reprojection is done).
        all_touched: mark every pixel a line touches (the measurement's trace) or one chain.

    Returns:
        bool ``(H, W)``, True on traced pixels.

    Raises:
        ValueError: when the CRS differs from the filaments'.
    """
    grid_crs = CRS.from_user_input(crs)
    if grid_crs != filaments.crs:
        raise ValueError(
            f"grid CRS {grid_crs.to_string()} differs from the filaments' CRS "
            f"{filaments.crs.to_string()}; reproject the lines first"
        )
    burned = rasterize(
        [(line, 1) for line in filaments.lines],
        out_shape=shape,
        transform=transform,
        fill=0,
        all_touched=all_touched,
        dtype="uint8",
    )
    return burned.astype(bool)


def trace_precision(
    filaments: Filaments,
    nir: npt.NDArray[np.floating],
    *,
    transform: Affine,
    crs: CRS | str,
    median_px: int = 15,
) -> dict[str, Any]:
    """How closely the rasterised trace follows the filaments' brightest pixels, model-free.

    Debris is brightest against its water at 842 nm (B08, a 10 m band), so the centre of a 1-3 px
    filament is its pixel of highest B08 anomaly (B08 minus its ``median_px`` median, as the
    trace's FDI anomaly). Two figures say how far the trace can be taken pixel by pixel:

    - ``clipped_share``: of the traced pixels (``all_touched``), those the lines only clip, not
      on the one-pixel chain through pixel centres;
    - ``beside_brighter_share``: of the chain's pixels, those with an untraced 8-neighbour of
      higher B08 anomaly, where the brightest pixel of the filament's cross-section lies beside
      the line.

    Args:
        filaments: from :func:`load_filaments`.
        nir: ``(H, W)`` B08 reflectance of the traced scene, NaN where there is no data.
        transform: the grid's affine transform.
        crs: the grid's CRS.
        median_px: window of the median the anomaly is taken against.

    Returns:
        ``traced_pixels``, ``chain_pixels``, ``clipped_share``, ``beside_brighter_share`` and
        ``anomaly`` (how the B08 anomaly is made).
    """
    nir = np.asarray(nir, dtype=np.float64)
    kwargs: dict[str, Any] = {"shape": nir.shape, "transform": transform, "crs": crs}
    valid = np.isfinite(nir)
    traced = rasterize_filaments(filaments, **kwargs) & valid
    chain = rasterize_filaments(filaments, all_touched=False, **kwargs) & valid
    filled = np.where(valid, nir, np.nanmedian(nir))
    anomaly = np.where(valid, filled - ndimage.median_filter(filled, size=median_px), -np.inf)
    untraced = np.where(traced, -np.inf, anomaly)
    brightest_neighbour = ndimage.maximum_filter(
        untraced, footprint=np.ones((3, 3), dtype=bool), mode="constant", cval=-np.inf
    )
    n_traced, n_chain = int(traced.sum()), int(chain.sum())
    beside = int((chain & (brightest_neighbour > anomaly)).sum())
    return {
        "traced_pixels": n_traced,
        "chain_pixels": n_chain,
        "clipped_share": float((traced & ~chain).sum() / n_traced) if n_traced else math.nan,
        "beside_brighter_share": beside / n_chain if n_chain else math.nan,
        "anomaly": f"B08 minus its {median_px} px median",
    }
