"""What a scene is, as plain frozen data: grids, band assets and the SceneSpec.

These values travel between STAC search, Ray Data tasks and the Zarr sink (like odc-stac's
``RasterSource``): no open datasets or clients, nothing that does not pickle cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from affine import Affine

__all__ = ["BandAsset", "Land", "PixelWindow", "RasterGrid", "SceneSpec", "scene_key"]


@dataclass(frozen=True)
class RasterGrid:
    """A north-up raster grid.

    Attributes:
        crs: CRS as ``"EPSG:<code>"`` (or WKT for CRSs without an EPSG code).
        transform: GDAL-order affine coefficients ``(a, b, c, d, e, f)`` of the top-left corner.
        shape: ``(height, width)`` in pixels.
    """

    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]

    @property
    def affine(self) -> Affine:
        """The transform as an :class:`affine.Affine`."""
        return Affine(*self.transform)

    @property
    def resolution(self) -> float:
        """Pixel size in CRS units (metres for UTM), taken from the x axis."""
        return abs(self.transform[0])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        a, _, c, _, e, f = self.transform
        h, w = self.shape
        xs = (c, c + a * w)
        ys = (f, f + e * h)
        return (min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class PixelWindow:
    """A rectangle of pixels on a grid: rows ``[row, row + height)``, columns ``[col, col + width)``."""

    row: int
    col: int
    height: int
    width: int

    def to_slices(self) -> tuple[slice, slice]:
        """Numpy slices ``(rows, cols)`` of this window."""
        return slice(self.row, self.row + self.height), slice(self.col, self.col + self.width)


@dataclass(frozen=True)
class BandAsset:
    """One band of a scene as stored: where it is and on which grid.

    Attributes:
        band: oceanscan band name (``"B8A"``) or ``"SCL"``.
        href: URL or path GDAL can open (already signed if the provider needs it).
        grid: the asset's own grid (10, 20 or 60 m).
        index: the band of the file at ``href`` that holds it, counted from 1 (GDAL's
            numbering); defaults to 1, the only band of a STAC asset or a band file. A multi-band
            GeoTIFF gives each of its bands the same ``href`` and its own ``index``.
    """

    band: str
    href: str
    grid: RasterGrid
    index: int = 1


@dataclass(frozen=True)
class Land:
    """Where a scene's land is, for its ``mask`` (1 = land).

    Attributes:
        source: ``"coastline"``: the polygons in ``wkb``, from a coastline dataset, already
            buffered (Sen2Cor's land classes are then scored, see
            :data:`oceanscan.sentinel2.SCL_TO_MASK`); ``"scl"``: Sen2Cor's vegetation,
            not-vegetated and snow classes (:data:`oceanscan.sentinel2.SCL_LAND`).
        wkb: for ``"coastline"``: the land as one WKB (multi)polygon in the scene CRS, clipped to
            the scene's bounds; empty bytes for a scene with no land. Unused for ``"scl"``.
        buffer_m: metres the coastline land was grown by, seaward.
        dataset: what the polygons come from, recorded in the scene's attributes.
    """

    source: Literal["coastline", "scl"]
    wkb: bytes = b""
    buffer_m: float = 0.0
    dataset: str = ""

    def describe(self) -> str:
        """One line for the scene's attributes, e.g. ``"coastline: <dataset>, buffered 100 m"``."""
        if self.source == "scl":
            return "scl: Sen2Cor vegetation, not-vegetated and snow"
        return f"coastline: {self.dataset}, buffered {self.buffer_m:g} m"


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
#: Names Zarr gives its own metadata documents (v3 ``zarr.json``; the v2 names start with a dot and
#: are caught by the leading-dot rule). A scene group named so would address the metadata of the
#: ``scenes`` group itself; compared case-insensitively for case-insensitive filesystems.
_RESERVED = frozenset({"zarr.json"})


def scene_key(item_id: str) -> str:
    """Make a STAC item id safe as one path component (the scene's Zarr group name).

    Path separators, ``..`` and every other character outside ``[A-Za-z0-9_.-]`` become ``_``,
    so no item id can address anything outside its own group; an id equal to a name Zarr
    reserves for metadata (``zarr.json``) gets a leading ``_``.

    Raises:
        ValueError: for an empty id.
    """
    if not item_id:
        raise ValueError("STAC item id is empty; cannot name a scene group")
    key = _UNSAFE.sub("_", item_id)
    key = key.replace("..", "__")
    if key.startswith("."):
        key = "_" + key[1:]
    if key.lower() in _RESERVED:
        key = "_" + key
    return key


@dataclass(frozen=True)
class SceneSpec:
    """Everything needed to read one Sentinel-2 L2A scene, independent of its provider.

    Attributes:
        id: STAC item id.
        collection: STAC collection id.
        provider: profile name that parsed the item (``"earthsearch"``, ``"planetarycomputer"``,
            ``"synthetic"``...).
        datetime: acquisition time, ISO 8601 in UTC.
        bands: the 11 model bands in :data:`oceanscan.sentinel2.BANDS` order.
        grid: the 10 m output grid (of the 10 m bands).
        scale: DN to reflectance scale, usually 1e-4.
        offset: DN to reflectance offset, 0.0 or -0.1 (see :mod:`oceanscan.stac`).
        scl: the scene classification asset, or None when the provider has none.
        footprint: GeoJSON geometry in EPSG:4326, or None.
        properties: item properties worth keeping (cloud cover, platform, MGRS tile, baseline).
        land: where the scene's land is; None (the default, as STAC items and files give it)
            masks no land. A scan attaches it when it plans the scene
            (:func:`oceanscan.land.attach_land`).
    """

    id: str
    collection: str
    provider: str
    datetime: str
    bands: tuple[BandAsset, ...]
    grid: RasterGrid
    scale: float
    offset: float
    scl: BandAsset | None = None
    footprint: dict[str, Any] | None = field(default=None, compare=False)
    properties: dict[str, Any] = field(default_factory=dict, compare=False)
    land: Land | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """Path-safe name of the scene's group in the store."""
        return scene_key(self.id)
