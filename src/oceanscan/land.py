"""Land for the scan's mask, from a coastline dataset rather than from Sen2Cor's classes.

Sen2Cor's scene classification labels dense floating Sargassum and bright floating material at
sea *vegetation* or *not-vegetated*; taking those classes as land would mask exactly what oceanscan
looks for. So land comes from where land is: OpenStreetMap's land polygons as the
`roaring-landmask <https://github.com/gauteh/roaring-landmask>`_ package ships them (MIT code;
the polygons are © OpenStreetMap contributors, ODbL 1.0, and GSHHG, LGPL), grown seaward by a
buffer (default :data:`DEFAULT_BUFFER_M`) that absorbs the coastline's and the image's
geolocation errors, piers, and pixels that mix land and water. Sen2Cor's SCL then only masks
clouds, cloud shadows, saturated or defective pixels and no data
(:data:`oceanscan.sentinel2.SCL_TO_MASK`).

The driver works out each scene's land once, when it plans the scene (:func:`attach_land`): it
takes the polygons near the scene, projects them to the scene CRS, buffers them, clips them to the
scene and stores them as WKB in :attr:`SceneSpec.land`. Read tasks only rasterize that small
geometry onto their window (:func:`land_pixels`), so workers never load the world's coastline.

Synthetic scenes (:mod:`oceanscan.synth.catalog`) sit in real seas but carry land of their own
that only their SCL knows; the default land source ``auto`` therefore uses the SCL for scenes of
the ``synthetic`` provider and the coastline for every other scene.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from affine import Affine

from oceanscan.coastline import PolygonIndex, load_polygon_index
from oceanscan.scene import Land, RasterGrid, SceneSpec

if TYPE_CHECKING:
    import shapely

__all__ = [
    "DEFAULT_BUFFER_M",
    "LAND_SOURCES",
    "Coastline",
    "LandSource",
    "attach_land",
    "land_pixels",
    "land_source_for",
]

log = logging.getLogger(__name__)

#: Where a scan takes land from: ``coastline`` (:class:`Coastline`), ``scl`` (Sen2Cor's
#: vegetation, not-vegetated and snow classes) or ``auto`` (``scl`` for synthetic scenes, whose
#: land exists only in their SCL, ``coastline`` for every other scene).
LandSource = Literal["auto", "coastline", "scl"]
LAND_SOURCES: tuple[str, ...] = ("auto", "coastline", "scl")

#: Seaward buffer of the coastline land, in metres: ten 10 m pixels. It covers the coastline's
#: own error (tens of metres for OpenStreetMap's), Sentinel-2's geolocation (about 10 m), the
#: 20 m bands' mixed shore pixels, piers and moored ships, and leaves harbour basins scored.
DEFAULT_BUFFER_M = 100.0

_EARTH_M_PER_DEG = 111_320.0


class Coastline:
    """The world's land polygons from roaring-landmask, loaded on first use.

    The polygons are indexed once per machine and memory-mapped from the cache afterwards
    (:mod:`oceanscan.coastline`); only those near a scene are parsed. A scan keeps one object for
    the planning of all its scenes.

    Args:
        provider: ``"osm"`` (OpenStreetMap land polygons, the default: the most detailed) or
            ``"gshhg"`` (GSHHG full resolution).

    Raises:
        ValueError: for an unknown provider.
    """

    def __init__(self, provider: Literal["osm", "gshhg"] = "osm") -> None:
        if provider not in ("osm", "gshhg"):
            raise ValueError(f"Unknown coastline provider {provider!r}; must be 'osm' or 'gshhg'")
        self.provider = provider
        self._loaded: PolygonIndex | None = None

    @property
    def dataset(self) -> str:
        """The dataset and the package version, as recorded in each scene's attributes."""
        name = "OpenStreetMap land polygons" if self.provider == "osm" else "GSHHG full resolution"
        try:
            version = metadata.version("roaring-landmask")
        except metadata.PackageNotFoundError:
            version = "?"
        return f"{name} (roaring-landmask {version})"

    def _index(self) -> PolygonIndex:
        """The polygon index, loaded on first use (:func:`oceanscan.coastline.load_polygon_index`)."""
        if self._loaded is None:
            try:
                import roaring_landmask  # noqa: F401  # only to name the missing package
            except ImportError as err:
                raise ImportError(
                    "land from a coastline needs the roaring-landmask package: pip install "
                    "roaring-landmask (or set land: scl in the scan config)"
                ) from err
            self._loaded = load_polygon_index(self.provider)
            log.info("coastline: %d land polygons indexed (%s)", len(self._loaded), self.dataset)
        return self._loaded

    def polygons_near(self, west: float, south: float, east: float, north: float) -> Any:
        """The land polygons (lon/lat, a shapely array) whose bounds meet the box."""
        index = self._index()
        return index.polygons(index.near(west, south, east, north))

    def release(self) -> None:
        """Drop the loaded index (it is loaded again on the next use)."""
        self._loaded = None

    def land(self, grid: RasterGrid, *, buffer_m: float = DEFAULT_BUFFER_M) -> shapely.Geometry:
        """The land over one grid, in its CRS, grown by ``buffer_m`` and clipped to the grid.

        Args:
            grid: a north-up grid in a CRS with metre units (a scene's 10 m UTM grid).
            buffer_m: seaward buffer in metres, >= 0; defaults to :data:`DEFAULT_BUFFER_M`.

        Returns:
            A (multi)polygon in ``grid.crs``; empty where the grid is all sea.

        Raises:
            ValueError: for a negative or non-finite ``buffer_m``.
        """
        import shapely
        from pyproj import Transformer

        if not math.isfinite(buffer_m) or buffer_m < 0:
            raise ValueError(f"buffer_m must be a finite number of metres >= 0, got {buffer_m}")
        left, bottom, right, top = grid.bounds
        # Land within the buffer of the grid matters; a pixel more covers curved edges.
        pad = buffer_m + 2 * grid.resolution
        boxes = _lonlat_boxes(grid.crs, (left - pad, bottom - pad, right + pad, top + pad))
        pieces = []
        for west, south, east, north in boxes:
            near = self.polygons_near(west, south, east, north)
            if len(near):
                pieces.append(shapely.clip_by_rect(near, west, south, east, north))
        if not pieces:
            return shapely.Polygon()
        lonlat = np.concatenate(pieces)
        lonlat = lonlat[~shapely.is_empty(lonlat)]
        if not len(lonlat):
            return shapely.Polygon()
        to_grid = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)

        def project(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            x, y = to_grid.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        projected = shapely.transform(lonlat, project)
        if buffer_m > 0:
            projected = shapely.buffer(projected, buffer_m, quad_segs=4)
        land = shapely.clip_by_rect(shapely.union_all(projected), left, bottom, right, top)
        # A quarter pixel of tolerance keeps the rasterized land identical and the WKB small.
        return shapely.simplify(land, grid.resolution / 4)


def _lonlat_boxes(
    crs: str, bounds: tuple[float, float, float, float]
) -> list[tuple[float, float, float, float]]:
    """``(west, south, east, north)`` boxes in degrees covering ``bounds``; two across 180°."""
    from rasterio.warp import transform_bounds

    west, south, east, north = transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=21)
    if west <= east:
        return [(west, south, east, north)]
    return [(west, south, 180.0, north), (-180.0, south, east, north)]


def land_source_for(spec: SceneSpec, source: LandSource) -> Literal["coastline", "scl"]:
    """The land source a scene gets: ``auto`` is ``scl`` for synthetic scenes, else ``coastline``.

    Raises:
        ValueError: for a source not in :data:`LAND_SOURCES`.
    """
    if source not in LAND_SOURCES:
        raise ValueError(f"Unknown land source {source!r}; must be one of {LAND_SOURCES}")
    if source == "auto":
        return "scl" if spec.provider == "synthetic" else "coastline"
    return source


def attach_land(
    spec: SceneSpec,
    *,
    source: LandSource = "auto",
    buffer_m: float = DEFAULT_BUFFER_M,
    coastline: Coastline | None = None,
) -> SceneSpec:
    """A copy of ``spec`` with its :class:`~oceanscan.scene.Land` set.

    Args:
        spec: the scene.
        source: where land comes from (:data:`LandSource`); defaults to ``"auto"``.
        buffer_m: seaward buffer of coastline land in metres; defaults to
            :data:`DEFAULT_BUFFER_M`.
        coastline: the loaded coastline to reuse across scenes; defaults to a new one (about 4 s
            to load), used only when the scene's land comes from the coastline.

    Returns:
        The scene with ``land`` set; everything else unchanged.
    """
    import shapely

    chosen = land_source_for(spec, source)
    if chosen == "scl":
        return dataclasses.replace(spec, land=Land(source="scl"))
    coastline = coastline or Coastline()
    geometry = coastline.land(spec.grid, buffer_m=buffer_m)
    wkb = b"" if geometry.is_empty else bytes(shapely.to_wkb(geometry))
    land = Land(source="coastline", wkb=wkb, buffer_m=float(buffer_m), dataset=coastline.dataset)
    return dataclasses.replace(spec, land=land)


@functools.lru_cache(maxsize=8)
def _geometry(wkb: bytes) -> Any:
    import shapely

    return shapely.from_wkb(wkb)


def land_pixels(
    land: Land,
    transform: Affine | tuple[float, float, float, float, float, float],
    shape: tuple[int, int],
) -> npt.NDArray[np.bool_]:
    """Which pixels of a window are coastline land (pixel centres inside the polygons).

    Args:
        land: a scene's land with ``source == "coastline"``.
        transform: GDAL-order geotransform of the window's top-left corner, in the scene CRS.
        shape: ``(height, width)`` of the window.

    Returns:
        Boolean ``(height, width)``; all False for ``scl`` land or a scene without land.
    """
    import shapely
    from rasterio import features

    out = np.zeros(shape, dtype=bool)
    if land.source != "coastline" or not land.wkb:
        return out
    affine = transform if isinstance(transform, Affine) else Affine(*transform)
    h, w = shape
    x0, y0 = affine @ (0, 0)
    x1, y1 = affine @ (w, h)
    window = shapely.clip_by_rect(
        _geometry(land.wkb), min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
    )
    if window.is_empty:
        return out
    burned = features.rasterize([(window, 1)], out_shape=shape, transform=affine, dtype=np.uint8)
    return burned.astype(bool)
