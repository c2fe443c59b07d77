"""The world's land polygons, indexed once per machine so a scan parses only those near its scenes.

roaring-landmask ships OpenStreetMap's (and GSHHG's) land polygons as one WKB MultiPolygon of
about 150 MB and 745,000 polygons. Decompressing it takes about 3 s and parsing all of it with
shapely another 10 s and 600 MB, every run, although a Sentinel-2 scene touches a few hundred
polygons. So the first use writes the WKB beside an index of where each polygon's bytes start and
end and its lon/lat bounds (:class:`PolygonIndex`, in the user's cache directory); every later use
memory-maps both and parses only the polygons whose bounds meet the scene. The polygons are the
same bytes either way, so the land is identical.

The cache lives in ``$OCEANSCAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/oceanscan``, else
``~/.cache/oceanscan``, one pair of files per provider and roaring-landmask version. Where it
cannot be written, the index is kept in memory for the run.
"""

from __future__ import annotations

import logging
import os
import struct
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from oceanscan.cache import cache_dir

__all__ = ["PolygonIndex", "cache_dir", "load_polygon_index"]

log = logging.getLogger(__name__)

Provider = Literal["osm", "gshhg"]

#: WKB geometry type codes (OGC Simple Features), and the little-endian byte-order flag.
_WKB_POLYGON, _WKB_MULTIPOLYGON, _WKB_LITTLE_ENDIAN = 3, 6, 1
#: Bytes of a WKB geometry header (byte order + type) followed by a count.
_HEADER_AND_COUNT = struct.calcsize("<BII")
_POINT_BYTES = 16  # two float64
#: Bumped when the cache files' layout changes, so old caches are rebuilt, not misread.
_CACHE_LAYOUT = 1


@dataclass(frozen=True)
class PolygonIndex:
    """Land polygons as WKB bytes, with each polygon's byte range and lon/lat bounds.

    Attributes:
        wkb: the provider's MultiPolygon WKB (a memory map when read from the cache).
        starts: ``(n,)`` offset of each polygon's own WKB (a complete Polygon) within ``wkb``.
        ends: ``(n,)`` offset just past it.
        bounds: ``(n, 4)`` ``west, south, east, north`` of each polygon's exterior ring.
    """

    wkb: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    bounds: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.starts)

    def near(self, west: float, south: float, east: float, north: float) -> npt.NDArray[np.bool_]:
        """Which polygons' bounds meet the box (lon/lat degrees)."""
        b = self.bounds
        return (b[:, 0] <= east) & (b[:, 2] >= west) & (b[:, 1] <= north) & (b[:, 3] >= south)

    def polygons(self, which: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
        """The selected polygons as a shapely array, parsed from their bytes."""
        import shapely

        data = self.wkb
        pieces = [
            data[s:e].tobytes() for s, e in zip(self.starts[which], self.ends[which], strict=True)
        ]
        return shapely.from_wkb(pieces) if pieces else np.empty(0, dtype=object)


def build_polygon_index(wkb: bytes) -> PolygonIndex:
    """Walk a little-endian WKB MultiPolygon once: each polygon's byte range and bounds.

    Raises:
        ValueError: for WKB that is not a little-endian MultiPolygon of Polygons, or whose
            length does not match its contents.
    """
    try:
        return _walk(wkb)
    except struct.error as err:  # a count that runs past the end of the bytes
        raise ValueError(f"truncated WKB MultiPolygon of {len(wkb)} bytes: {err}") from err


def _walk(wkb: bytes) -> PolygonIndex:
    order, kind, count = struct.unpack_from("<BII", wkb, 0)
    if order != _WKB_LITTLE_ENDIAN or kind != _WKB_MULTIPOLYGON:
        raise ValueError(
            f"expected a little-endian WKB MultiPolygon, got order {order} type {kind}"
        )
    starts = np.empty(count, dtype=np.int64)
    ends = np.empty(count, dtype=np.int64)
    bounds = np.empty((count, 4), dtype=np.float64)
    offset = _HEADER_AND_COUNT
    for i in range(count):
        starts[i] = offset
        order, kind, rings = struct.unpack_from("<BII", wkb, offset)
        if order != _WKB_LITTLE_ENDIAN or kind != _WKB_POLYGON:
            raise ValueError(f"polygon {i} at byte {offset}: order {order} type {kind}")
        offset += _HEADER_AND_COUNT
        for ring in range(rings):
            (points,) = struct.unpack_from("<I", wkb, offset)
            offset += 4
            if ring == 0:  # the exterior ring bounds the polygon
                if offset + _POINT_BYTES * points > len(wkb):
                    raise struct.error(f"ring of {points} points at byte {offset}")
                xy = np.frombuffer(wkb, np.float64, 2 * points, offset).reshape(-1, 2)
                bounds[i] = (*xy.min(axis=0), *xy.max(axis=0))
            offset += _POINT_BYTES * points
        ends[i] = offset
    if offset != len(wkb):
        raise ValueError(f"WKB of {len(wkb)} bytes ends its {count} polygons at byte {offset}")
    return PolygonIndex(np.frombuffer(wkb, dtype=np.uint8), starts, ends, bounds)


def _provider_wkb(provider: Provider) -> bytes:
    import roaring_landmask

    choice = (
        roaring_landmask.LandmaskProvider.Osm
        if provider == "osm"
        else roaring_landmask.LandmaskProvider.Gshhg
    )
    return bytes(roaring_landmask.Shapes.wkb(choice))


def _cache_paths(provider: Provider) -> tuple[Path, Path]:
    version = metadata.version("roaring-landmask")
    stem = f"coastline-{provider}-roaring-landmask-{version}-layout{_CACHE_LAYOUT}"
    return cache_dir() / f"{stem}.wkb", cache_dir() / f"{stem}.npz"


def _read_cache(wkb_path: Path, index_path: Path) -> PolygonIndex | None:
    try:
        with np.load(index_path) as index:
            starts, ends, bounds = index["starts"], index["ends"], index["bounds"]
        wkb = np.memmap(wkb_path, dtype=np.uint8, mode="r")
    except (OSError, KeyError, ValueError) as err:
        log.info("coastline cache %s not usable (%s); rebuilding it", index_path, err)
        return None
    if len(starts) == 0 or ends[-1] != len(wkb):
        log.info("coastline cache %s does not match %s; rebuilding it", index_path, wkb_path)
        return None
    return PolygonIndex(wkb, starts, ends, bounds)


def _write_cache(index: PolygonIndex, wkb_path: Path, index_path: Path) -> None:
    """Both files written to temporary names and renamed: a reader sees whole files or none."""
    wkb_path.parent.mkdir(parents=True, exist_ok=True)
    for path, write in (
        (wkb_path, lambda f: f.write(index.wkb.tobytes())),
        (
            index_path,
            lambda f: np.savez(f, starts=index.starts, ends=index.ends, bounds=index.bounds),
        ),
    ):
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", delete=False
        ) as f:
            write(f)
        os.replace(f.name, path)


def load_polygon_index(provider: Provider = "osm", *, use_cache: bool = True) -> PolygonIndex:
    """The provider's land polygons, from the cache when it holds them, else built (and cached).

    Args:
        provider: ``"osm"`` or ``"gshhg"``.
        use_cache: read and write the cache (:func:`oceanscan.cache.cache_dir`); False builds in memory only.

    Raises:
        ImportError: without the roaring-landmask package.
    """
    if not use_cache:
        return build_polygon_index(_provider_wkb(provider))
    wkb_path, index_path = _cache_paths(provider)
    if wkb_path.exists() and index_path.exists():
        cached = _read_cache(wkb_path, index_path)
        if cached is not None:
            return cached
    index = build_polygon_index(_provider_wkb(provider))
    try:
        _write_cache(index, wkb_path, index_path)
    except OSError as err:
        log.warning("coastline cache not written to %s (%s); kept in memory", wkb_path.parent, err)
    return index
