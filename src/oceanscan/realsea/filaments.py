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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import rasterize
from shapely.geometry import LineString
from shapely.geometry import shape as to_geometry

__all__ = ["DURBAN_FILAMENTS", "Filaments", "load_filaments", "rasterize_filaments"]

#: The traced filaments of the Durban 2019-04-24 scene.
DURBAN_FILAMENTS = Path(__file__).with_name("durban_20190424_filaments.geojson")


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
    filaments: Filaments, *, shape: tuple[int, int], transform: Affine, crs: CRS | str
) -> npt.NDArray[np.bool_]:
    """Burn the filament lines into a grid, one pixel wide.

    Every pixel a line passes through is marked (``all_touched=True``), so a diagonal line
    becomes an 8-connected chain of pixels.

    Args:
        filaments: from :func:`load_filaments`.
        shape: ``(H, W)`` of the grid.
        transform: its affine transform.
        crs: its CRS; must equal the filaments' CRS (no reprojection is done).

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
        all_touched=True,
        dtype="uint8",
    )
    return burned.astype(bool)
