"""Where a run's scenes come from: a STAC API search or a local static catalog, per region.

Both yield :class:`~oceanscan.scene.SceneSpec` for usable items and
:class:`~oceanscan.stac.Rejected` (with the reason) for items that cannot be scanned, lazily, so
the scene list can be long. The search window of a region is its configured window, or with
``--since-last`` the end of the last successful run of that region up to now.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
from shapely.geometry import box, shape

from oceanscan.errors import SceneError
from oceanscan.scan.config import Region
from oceanscan.scan.ledger import last_search_end
from oceanscan.scene import SceneSpec
from oceanscan.stac import Rejected, item_to_scene, search_scenes

__all__ = ["SearchWindow", "catalog_scenes", "search_window", "stac_scenes"]


class SearchWindow(dict[str, str]):
    """A region's search window as recorded in the store: ``{name, start, end}`` (ISO 8601)."""

    @property
    def interval(self) -> str:
        """RFC 3339 interval ``start/end`` for a STAC search."""
        return f"{self['start']}/{self['end']}"


def search_window(
    region: Region,
    *,
    runs: Sequence[Mapping[str, Any]] = (),
    since_last: bool = False,
    now: datetime | None = None,
) -> SearchWindow:
    """The window to search for ``region``.

    Args:
        region: the region.
        runs: the store's run records (for ``since_last``).
        since_last: start at the end of the last successful run of this region, when there is
            one (and it is later than the region's own start).
        now: the end of open windows; defaults to the current time.

    Returns:
        ``{name, start, end}`` in UTC ISO 8601.
    """
    end = region.end or (now or datetime.now(UTC))
    start = region.start
    if since_last:
        last = last_search_end(runs, region.name)
        if last is not None and last > start:
            start = last
    return SearchWindow(name=region.name, start=start.isoformat(), end=end.isoformat())


def stac_scenes(
    url: str,
    region: Region,
    window: SearchWindow,
    *,
    collections: Sequence[str],
    limit: int | None = None,
) -> Iterator[SceneSpec | Rejected]:
    """Search a STAC API for a region's scenes in ``window``."""
    return search_scenes(
        url,
        bbox=region.bbox,
        intersects=region.geometry,
        datetime=window.interval,
        max_cloud_cover=region.max_cloud_cover,
        collections=collections,
        max_items=limit,
    )


def _when(item: pystac.Item) -> datetime:
    when = item.datetime or datetime.fromisoformat(str(item.properties["start_datetime"]))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _selected(item: pystac.Item, region: Region | None, window: SearchWindow | None) -> bool:
    if window is not None:
        start, end = datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
        if not start <= _when(item) <= end:
            return False
    if region is None:
        return True
    cloud = item.properties.get("eo:cloud_cover")
    if cloud is not None and float(cloud) > region.max_cloud_cover:
        return False
    area = box(*region.bbox) if region.bbox is not None else shape(region.geometry)
    footprint = shape(item.geometry) if item.geometry else box(*item.bbox) if item.bbox else None
    return footprint is None or footprint.intersects(area)


def catalog_scenes(
    path: str | Path,
    *,
    region: Region | None = None,
    window: SearchWindow | None = None,
    limit: int | None = None,
) -> Iterator[SceneSpec | Rejected]:
    """Scenes of a local static STAC catalog (a ``catalog.json`` or its directory).

    Items are filtered like a search would: acquisition time inside ``window``, footprint
    intersecting the region, cloud cover at most the region's maximum.

    Raises:
        FileNotFoundError: when there is no catalog at ``path``.
    """
    path = Path(path)
    file = path / "catalog.json" if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"no STAC catalog at {str(file)!r}")
    catalog = pystac.Catalog.from_file(str(file))
    count = 0
    for item in catalog.get_items(recursive=True):
        if not _selected(item, region, window):
            continue
        if limit is not None and count >= limit:
            return
        count += 1
        try:
            yield item_to_scene(item)
        except SceneError as err:
            yield Rejected(item.id, err.reason)
