"""Where a run's scenes come from: a STAC API search or a local static catalog per region, or files.

Both yield :class:`~oceanscan.scene.SceneSpec` for usable items and
:class:`~oceanscan.stac.Rejected` (with the reason) for items that cannot be scanned, lazily, so
the scene list can be long. The search window of a region is its configured window, or with
``--since-last`` from an overlap before the end of the last finished run of that region (earlier
when a failed scene waits for a retry) up to now: see :mod:`oceanscan.scan.ledger`. Files given as
``input`` (:func:`input_scenes`, :mod:`oceanscan.inputs`) need no region and no window.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shapely.geometry import box, shape

from oceanscan.scan.config import Region, ScanConfig
from oceanscan.scan.ledger import last_search_end, retry_start, since_last_start
from oceanscan.scene import SceneSpec
from oceanscan.stac import HrefModifier, Rejected, search_scenes, static_scenes

__all__ = [
    "SearchWindow",
    "catalog_scenes",
    "input_scenes",
    "region_area",
    "search_window",
    "source_options",
    "stac_scenes",
]


@dataclass(frozen=True)
class SearchWindow:
    """A region's search window, recorded in the store's run record as ``{name, start, end}``.

    Attributes:
        name: the region's name.
        start: start of the window, ISO 8601 in UTC.
        end: end of the window, ISO 8601 in UTC.
    """

    name: str
    start: str
    end: str

    @property
    def interval(self) -> str:
        """RFC 3339 interval ``start/end`` for a STAC search."""
        return f"{self.start}/{self.end}"


def region_area(region: Region) -> Any:
    """A region's area as a shapely geometry in EPSG:4326."""
    return box(*region.bbox) if region.bbox is not None else shape(region.geometry)


def search_window(
    region: Region,
    *,
    runs: Sequence[Mapping[str, Any]] = (),
    since_last: bool = False,
    now: datetime | None = None,
    overlap: timedelta = timedelta(0),
    stored: Mapping[str, Mapping[str, Any]] | None = None,
    max_attempts: int | None = None,
) -> SearchWindow:
    """The window to search for ``region``.

    Args:
        region: the region.
        runs: the store's run records (for ``since_last``).
        since_last: start ``overlap`` before the end of the last finished run of this region,
            or earlier to retry a failed scene (see
            :func:`oceanscan.scan.ledger.since_last_start`); the region's own start without a
            previous run.
        now: the end of open windows; defaults to the current time.
        overlap: how far before the last run's end a ``since_last`` window starts; defaults
            to none.
        stored: the store's scene attributes by key, to find failed scenes to retry.
        max_attempts: attempts at a failing scene before it is given up (and not retried).

    Returns:
        ``{name, start, end}`` in UTC ISO 8601.
    """
    end = region.end or (now or datetime.now(UTC))
    start = region.start
    if since_last:
        retry_from = retry_start(
            stored or {},
            area=region_area(region),
            max_attempts=max_attempts,
            not_before=region.start,
        )
        start = since_last_start(
            last_search_end(runs, region.name),
            region_start=region.start,
            overlap=overlap,
            retry_from=retry_from,
        )
        start = min(start, end)
    return SearchWindow(name=region.name, start=start.isoformat(), end=end.isoformat())


def stac_scenes(
    url: str,
    region: Region,
    window: SearchWindow,
    *,
    collections: Sequence[str],
    limit: int | None = None,
    profile: str | None = None,
    href_modifier: HrefModifier | None = None,
) -> Iterator[SceneSpec | Rejected]:
    """Search a STAC API for a region's scenes in ``window``.

    ``profile`` and ``href_modifier`` go to :func:`oceanscan.stac.item_to_scene` (see
    :func:`source_options`).
    """
    return search_scenes(
        url,
        bbox=region.bbox,
        intersects=region.geometry,
        datetime=window.interval,
        max_cloud_cover=region.max_cloud_cover,
        collections=collections,
        max_items=limit,
        profile=profile,
        href_modifier=href_modifier,
    )


def catalog_scenes(
    path: str | Path,
    *,
    region: Region | None = None,
    window: SearchWindow | None = None,
    limit: int | None = None,
    profile: str | None = None,
    href_modifier: HrefModifier | None = None,
) -> Iterator[SceneSpec | Rejected]:
    """Scenes of a local static STAC catalog (a ``catalog.json`` or its directory).

    Items are filtered like a search would (:func:`oceanscan.stac.static_scenes`): acquisition
    time inside ``window``, footprint intersecting the region, cloud cover at most the region's
    maximum. ``profile`` and ``href_modifier`` go to :func:`oceanscan.stac.item_to_scene`.

    Raises:
        FileNotFoundError: when there is no catalog at ``path``.
    """
    return static_scenes(
        path,
        bbox=region.bbox if region is not None else None,
        intersects=region.geometry if region is not None else None,
        datetime=window.interval if window is not None else None,
        max_cloud_cover=region.max_cloud_cover if region is not None else None,
        max_items=limit,
        profile=profile,
        href_modifier=href_modifier,
    )


def source_options(config: ScanConfig) -> dict[str, Any]:
    """The provider options of a scan config for :func:`stac_scenes` and :func:`catalog_scenes`.

    Returns:
        ``{"profile": ..., "href_modifier": ...}``; the signer is imported now.

    Raises:
        ConfigError: when the signer's package is missing (naming what to install).
    """
    return {"profile": config.profile, "href_modifier": config.href_modifier()}


def input_scenes(config: ScanConfig) -> list[SceneSpec]:
    """The scenes of ``config.input`` (files, folders, ``.SAFE`` products, STAC Items).

    All of them are read before any is scanned, so a bad input stops the run before Ray starts or
    the store is touched.

    Raises:
        SceneError: naming the input that cannot become a scene and why.
        ConfigError: when two inputs are the same scene, or the signer's package is missing.
    """
    from oceanscan.inputs import scenes_from_inputs

    return scenes_from_inputs(
        config.input,
        bands=config.bands,
        reflectance_offset=config.reflectance_offset,
        **source_options(config),
    )
