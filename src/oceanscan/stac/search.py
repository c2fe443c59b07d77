"""Lazy STAC item search: a SceneSpec per usable item, a :class:`Rejected` for every other one.

Pages are fetched as the caller iterates (pystac-client's ``items_as_dicts`` follows ``next``
links one page at a time), so a long scene list can stream straight into Ray Data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pystac_client import Client
from pystac_client.conformance import ConformanceClasses

from oceanscan.errors import SceneError
from oceanscan.scene import SceneSpec
from oceanscan.stac.http import catalog_errors, open_client
from oceanscan.stac.items import HrefModifier, item_to_scene
from oceanscan.stac.rejected import Rejected

__all__ = ["DEFAULT_COLLECTIONS", "cloud_cover_filter", "search_scenes"]

log = logging.getLogger(__name__)

#: Earth Search v1 and Planetary Computer both name their L2A collection this way.
DEFAULT_COLLECTIONS: tuple[str, ...] = ("sentinel-2-l2a",)


def cloud_cover_filter(max_cloud_cover: float) -> dict[str, Any]:
    """CQL2-JSON filter ``eo:cloud_cover <= max_cloud_cover``.

    Raises:
        ValueError: when ``max_cloud_cover`` is outside 0..100.
    """
    if not 0 <= max_cloud_cover <= 100:
        raise ValueError(f"max_cloud_cover must be within 0..100 (percent), got {max_cloud_cover}")
    return {"op": "<=", "args": [{"property": "eo:cloud_cover"}, float(max_cloud_cover)]}


def _conforms(client: Client, fragment: str, name: str) -> bool:
    """Whether the API advertises ``item-search#<fragment>`` in any STAC API v1.x version.

    pystac-client 0.9 only recognises v1.0.x URIs, while stac-fastapi 6 advertises sort as
    ``v1.1.0/item-search#sort``; when the server conforms under another minor version the
    conformance class is added to the client, so pystac-client sends the parameter without a
    DoesNotConformTo warning.
    """
    pattern = re.compile(rf"^https://api\.stacspec\.org/v1\.[^/]+/item-search#{fragment}$")
    if any(pattern.match(uri) for uri in client.get_conforms_to()):
        if not client.conforms_to(ConformanceClasses.get_by_name(name)):
            client.add_conforms_to(name)
        return True
    return False


def _cloud_kwargs(client: Client, max_cloud_cover: float | None) -> dict[str, Any]:
    if max_cloud_cover is None:
        return {}
    if _conforms(client, "filter", "FILTER"):
        return {"filter": cloud_cover_filter(max_cloud_cover), "filter_lang": "cql2-json"}
    if _conforms(client, "query", "QUERY"):
        return {"query": {"eo:cloud_cover": {"lte": float(max_cloud_cover)}}}
    log.warning(
        "STAC API conforms to neither filter nor query: eo:cloud_cover <= %s is applied to the "
        "results instead",
        max_cloud_cover,
    )
    return {}


def _sortby_kwargs(client: Client, sortby: str | Sequence[str] | None) -> dict[str, Any]:
    if not sortby:
        return {}
    if not _conforms(client, "sort", "SORT"):
        log.warning(
            "STAC API does not conform to sort: results come in server order, not %r", sortby
        )
        return {}
    return {"sortby": [sortby] if isinstance(sortby, str) else list(sortby)}


def _too_cloudy(item: Mapping[str, Any], max_cloud_cover: float | None) -> bool:
    """True when the server ignored the cloud filter (some do, silently) and the item exceeds it."""
    if max_cloud_cover is None:
        return False
    cover = item.get("properties", {}).get("eo:cloud_cover")
    return isinstance(cover, int | float) and cover > max_cloud_cover


def _parse(
    item: Mapping[str, Any], profile: str | None, href_modifier: HrefModifier | None
) -> SceneSpec | Rejected:
    item_id = str(item.get("id", "<no id>"))
    try:
        return item_to_scene(item, profile=profile, href_modifier=href_modifier)
    except SceneError as err:
        return Rejected(item_id, err.reason)


# Over 60 lines for its signature and docstring alone: keyword groups like pystac-client's
# ItemSearch, each argument documented with its default; the body is a dozen lines.
def search_scenes(
    url: str,
    *,
    # Where and when
    bbox: Sequence[float] | None = None,
    intersects: Mapping[str, Any] | None = None,
    datetime: str | None = None,
    max_cloud_cover: float | None = None,
    collections: Sequence[str] = DEFAULT_COLLECTIONS,
    # Paging and order
    limit: int | None = None,
    max_items: int | None = None,
    sortby: str | Sequence[str] | None = "datetime",
    # Provider
    profile: str | None = None,
    href_modifier: HrefModifier | None = None,
    # HTTP
    max_retries: int = 3,
    backoff_s: float = 0.5,
    timeout_s: float = 30.0,
    headers: dict[str, str] | None = None,
) -> Iterator[SceneSpec | Rejected]:
    """Search a STAC API for Sentinel-2 L2A scenes, lazily, page by page.

    Nothing is sent until the first item is requested. The cloud cover limit goes to the server as
    a CQL2-JSON filter when it conforms to the filter extension, else through the query
    extension, and is checked again on every result because some servers ignore both silently.

    Args:
        url: the STAC API root, e.g. ``https://earth-search.aws.element84.com/v1``.
        bbox: ``(west, south, east, north)`` in degrees.
        intersects: a GeoJSON geometry in EPSG:4326.
        datetime: an RFC 3339 instant or interval, ``"2025-01-01/2025-02-01"`` or open-ended
            ``"2025-01-01/.."``.
        max_cloud_cover: keep items with ``eo:cloud_cover`` at most this many percent.
        collections: collection ids to search; defaults to ``("sentinel-2-l2a",)``.
        limit: page size asked of the server; defaults to the server's.
        max_items: stop after this many results (SceneSpecs and rejections); defaults to all.
        sortby: sort fields, ``"-"`` prefix for descending; defaults to ``"datetime"``
            (ascending). Skipped, with a warning, when the server does not conform to sort.
        profile: provider profile for every item; defaults to detecting it per item.
        href_modifier: see :func:`oceanscan.stac.item_to_scene`.
        max_retries: retries of 429/5xx answers, refused connections and timeouts; defaults to 3.
        backoff_s: urllib3 backoff factor in seconds; defaults to 0.5.
        timeout_s: per-request timeout in seconds; defaults to 30.
        headers: extra HTTP headers.

    Yields:
        A SceneSpec per usable item, a :class:`Rejected` (with the reason) per item that could not
        be parsed; none are dropped silently.

    Raises:
        CatalogError: when the API cannot be reached or answers with an error after retries; its
            ``status_code`` is the last HTTP status.
        ValueError: for an out-of-range ``max_cloud_cover``, ``limit`` or ``max_items``.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 items per page, got {limit}")
    if max_items is not None and max_items < 1:
        raise ValueError(f"max_items must be >= 1, got {max_items}")
    if max_cloud_cover is not None:
        cloud_cover_filter(max_cloud_cover)
    return _search(
        url,
        params={
            "collections": list(collections),
            "bbox": list(bbox) if bbox is not None else None,
            "intersects": dict(intersects) if intersects is not None else None,
            "datetime": datetime,
            "limit": limit,
        },
        max_cloud_cover=max_cloud_cover,
        sortby=sortby,
        max_items=max_items,
        profile=profile,
        href_modifier=href_modifier,
        http={
            "max_retries": max_retries,
            "backoff_s": backoff_s,
            "timeout_s": timeout_s,
            "headers": headers,
        },
    )


def _search(
    url: str,
    *,
    params: dict[str, Any],
    max_cloud_cover: float | None,
    sortby: str | Sequence[str] | None,
    max_items: int | None,
    profile: str | None,
    href_modifier: HrefModifier | None,
    http: dict[str, Any],
) -> Iterator[SceneSpec | Rejected]:
    """The generator behind :func:`search_scenes`: opens the client on the first ``next``."""
    client = open_client(url, **http)
    kwargs = {
        **{k: v for k, v in params.items() if v is not None},
        **_cloud_kwargs(client, max_cloud_cover),
        **_sortby_kwargs(client, sortby),
    }
    with catalog_errors(url):
        results = client.search(**kwargs).items_as_dicts()
    yielded = 0
    while max_items is None or yielded < max_items:
        with catalog_errors(url):
            item = next(results, None)
        if item is None:
            return
        if _too_cloudy(item, max_cloud_cover):
            log.debug(
                "%s: eo:cloud_cover above %s; the server ignored the limit",
                item.get("id"),
                max_cloud_cover,
            )
            continue
        yielded += 1
        yield _parse(item, profile, href_modifier)
