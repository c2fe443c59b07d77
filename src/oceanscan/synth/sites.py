"""Real places at sea, and the UTM grid, MGRS tile and footprint of a synthetic scene put there.

Synthetic scenes sit in real UTM zones over real seas, in their real MGRS 100 km squares, so that
they go through the same projection and tile handling as real items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from affine import Affine
from pyproj import Transformer

from oceanscan.synth._canvas import GRID_M

__all__ = ["SEA_SITES", "Placement", "SeaSite", "footprint", "mgrs_tile", "place"]

#: Side of one MGRS square (a Sentinel-2 tile's grid square), in metres.
_MGRS_SQUARE_M = 100_000
#: The coarsest Sentinel-2 resolution (60 m): scene corners snap to it so all grids nest.
_COARSEST_M = 60
#: Points per footprint edge: densified so the polygon follows the projected grid's curved edges.
_FOOTPRINT_POINTS_PER_SIDE = 8
#: Decimal places of footprint coordinates (about 1 cm).
_LONLAT_DECIMALS = 7


@dataclass(frozen=True)
class SeaSite:
    """A real place at sea where synthetic scenes are put.

    Attributes:
        name: what the place is called.
        lon: longitude of the scene centre, degrees east.
        lat: latitude of the scene centre, degrees north.
    """

    name: str
    lon: float
    lat: float


#: Scene centres over open water near coasts with documented marine litter or Sargassum.
SEA_SITES: tuple[SeaSite, ...] = (
    SeaSite("Gulf of Honduras", -88.35, 15.95),
    SeaSite("off Durban", 31.20, -29.90),
    SeaSite("Bay of Bengal", 88.30, 17.50),
    SeaSite("Gulf of Guinea off Ada", 0.60, 5.30),
    SeaSite("Manila Bay", 120.75, 14.55),
)

_LAT_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_COL_SETS = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")  # indexed by zone % 3
_ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV"


def _utm_epsg(lon: float, lat: float) -> tuple[int, int]:
    zone = int((lon + 180) // 6) + 1
    return zone, (32600 if lat >= 0 else 32700) + zone


def mgrs_tile(zone: int, lat: float, easting: float, northing: float) -> str:
    """The MGRS 100 km square (Sentinel-2 tile id, e.g. ``"16PCC"``) of a UTM position.

    Uses the MGRS lettering of NGA's standard (NGA.STND.0037): latitude bands of 8 degrees,
    column letter sets cycling every 3 zones, row letters cycling every 2000 km with a 5-letter
    shift in even zones.

    Raises:
        ValueError: outside the UTM latitudes (-80..84) or outside a zone's columns.
    """
    if not -80 <= lat <= 84:
        raise ValueError(f"latitude {lat} is outside MGRS/UTM latitudes -80..84")
    band = _LAT_BANDS[min(int((lat + 80) // 8), len(_LAT_BANDS) - 1)]
    col_index = int(easting // _MGRS_SQUARE_M) - 1
    if not 0 <= col_index < 8:
        raise ValueError(f"easting {easting} is outside UTM zone columns (100000..900000)")
    col = _COL_SETS[zone % 3][col_index]
    shift = 5 if zone % 2 == 0 else 0
    row = _ROW_LETTERS[(int(northing // _MGRS_SQUARE_M) + shift) % 20]
    return f"{zone:02d}{band}{col}{row}"


@dataclass(frozen=True)
class Placement:
    """Where a synthetic scene lies: its UTM CRS, MGRS tile and 10 m grid.

    Attributes:
        epsg: EPSG code of the scene's UTM zone.
        tile: MGRS tile id, e.g. ``"16PCC"``.
        transform10: affine transform of the 10 m grid.
        size: side of the 10 m grid in pixels.
    """

    epsg: int
    tile: str
    transform10: Affine
    size: int


def place(site: SeaSite, size: int) -> Placement:
    """A ``size`` px 10 m grid centred on ``site``, on the 60 m lattice of its MGRS square.

    Real tiles share their upper-left corner across 10/20/60 m; snapping to 60 m from the square's
    corner keeps all three native grids nested the same way.
    """
    zone, epsg = _utm_epsg(site.lon, site.lat)
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    x, y = to_utm.transform(site.lon, site.lat)
    tile = mgrs_tile(zone, site.lat, x, y)
    west = math.floor(x / _MGRS_SQUARE_M) * _MGRS_SQUARE_M
    north = (math.floor(y / _MGRS_SQUARE_M) + 1) * _MGRS_SQUARE_M
    half = size * GRID_M / 2
    left = west + math.floor((x - half - west) / _COARSEST_M) * _COARSEST_M
    top = north - math.floor((north - (y + half)) / _COARSEST_M) * _COARSEST_M
    return Placement(epsg, tile, Affine(GRID_M, 0, left, 0, -GRID_M, top), size)


def footprint(placement: Placement) -> tuple[dict[str, Any], list[float]]:
    """Polygon (edges densified, 8 points a side) and bbox in EPSG:4326."""
    t = placement.transform10
    left, top = t.c, t.f
    right, bottom = left + placement.size * GRID_M, top - placement.size * GRID_M
    n = _FOOTPRINT_POINTS_PER_SIDE
    xs = [left + (right - left) * i / n for i in range(n)]
    ys = [top - (top - bottom) * i / n for i in range(n)]
    ring = (
        [(x, top) for x in xs]
        + [(right, y) for y in ys]
        + [(right - (x - left), bottom) for x in xs]
        + [(left, bottom + (top - y)) for y in ys]
    )
    to_ll = Transformer.from_crs(f"EPSG:{placement.epsg}", "EPSG:4326", always_xy=True)
    lons, lats = to_ll.transform([p[0] for p in ring], [p[1] for p in ring])
    coords = [
        [round(lo, _LONLAT_DECIMALS), round(la, _LONLAT_DECIMALS)]
        for lo, la in zip(lons, lats, strict=True)
    ]
    coords.append(coords[0])
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    return {"type": "Polygon", "coordinates": [coords]}, [round(v, _LONLAT_DECIMALS) for v in bbox]
