"""Static STAC catalogs (a ``catalog.json`` and its items on disk), read without a server.

The synthetic catalogs of :mod:`oceanscan.synth.catalog` are static; :func:`static_scenes` reads
one the way :func:`oceanscan.stac.search_scenes` searches an API, filtering on the client what a
server would filter: acquisition time inside the interval, footprint intersecting the area, cloud
cover at most the limit. :func:`catalog_items` is the one place a catalog path is opened.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
from shapely.geometry import box, shape

from oceanscan.errors import SceneError
from oceanscan.scene import SceneSpec
from oceanscan.stac.items import HrefModifier, item_to_scene
from oceanscan.stac.rejected import Rejected

__all__ = ["catalog_items", "static_scenes"]


def catalog_items(path: str | Path) -> Iterator[pystac.Item]:
    """Every item of a local static STAC catalog (a ``catalog.json`` or its directory).

    Raises:
        FileNotFoundError: when there is no catalog at ``path``.
    """
    path = Path(path)
    file = path / "catalog.json" if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"no STAC catalog at {str(file)!r}")
    return pystac.Catalog.from_file(str(file)).get_items(recursive=True)


def _when(item: pystac.Item) -> datetime:
    when = item.datetime or datetime.fromisoformat(str(item.properties["start_datetime"]))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _interval(value: str) -> tuple[datetime | None, datetime | None]:
    """``start/end`` (ISO 8601, ``..`` for an open end) as two datetimes."""
    start, end = value.split("/")
    return (
        None if start in ("", "..") else datetime.fromisoformat(start),
        None if end in ("", "..") else datetime.fromisoformat(end),
    )


def _selected(
    item: pystac.Item,
    *,
    interval: tuple[datetime | None, datetime | None] | None,
    area: Any,
    max_cloud_cover: float | None,
) -> bool:
    if interval is not None:
        start, end = interval
        when = _when(item)
        if (start is not None and when < start) or (end is not None and when > end):
            return False
    cloud = item.properties.get("eo:cloud_cover")
    if max_cloud_cover is not None and cloud is not None and float(cloud) > max_cloud_cover:
        return False
    if area is None:
        return True
    footprint = shape(item.geometry) if item.geometry else box(*item.bbox) if item.bbox else None
    return footprint is None or footprint.intersects(area)


def static_scenes(
    path: str | Path,
    *,
    # Where and when
    bbox: Sequence[float] | None = None,
    intersects: Mapping[str, Any] | None = None,
    datetime: str | None = None,
    max_cloud_cover: float | None = None,
    # Paging
    max_items: int | None = None,
    # Provider
    profile: str | None = None,
    href_modifier: HrefModifier | None = None,
) -> Iterator[SceneSpec | Rejected]:
    """Scenes of a local static STAC catalog, filtered like a search, lazily.

    Args:
        path: the catalog, a ``catalog.json`` or its directory.
        bbox: ``(west, south, east, north)`` in degrees; or give ``intersects``; defaults to
            anywhere.
        intersects: a GeoJSON geometry in EPSG:4326.
        datetime: an interval ``"start/end"`` of ISO 8601 times (``..`` for an open end);
            defaults to any time.
        max_cloud_cover: keep items with ``eo:cloud_cover`` at most this many percent; items
            without one are kept. Defaults to no limit.
        max_items: stop after this many results (SceneSpecs and rejections); defaults to all.
        profile: provider profile for every item; defaults to detecting it per item.
        href_modifier: see :func:`oceanscan.stac.item_to_scene`.

    Yields:
        A SceneSpec per usable item, a :class:`Rejected` (with the reason) per item that could
        not be parsed.

    Raises:
        FileNotFoundError: when there is no catalog at ``path`` (on the first ``next``).
    """
    area = box(*bbox) if bbox is not None else shape(intersects) if intersects else None
    interval = _interval(datetime) if datetime is not None else None
    count = 0
    for item in catalog_items(path):
        if not _selected(item, interval=interval, area=area, max_cloud_cover=max_cloud_cover):
            continue
        if max_items is not None and count >= max_items:
            return
        count += 1
        try:
            yield item_to_scene(item, profile=profile, href_modifier=href_modifier)
        except SceneError as err:
            yield Rejected(item.id, err.reason)
