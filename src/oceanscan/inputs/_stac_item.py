"""One STAC Item, from a JSON file or a URL, as a scene (through the provider profiles)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pystac

from oceanscan.errors import SceneError
from oceanscan.scene import SceneSpec
from oceanscan.stac.http import catalog_errors, make_stac_io
from oceanscan.stac.items import HrefModifier, item_to_scene

__all__ = ["stac_item_scene"]


def _load(source: str, scene_id: str) -> tuple[dict[str, Any], str]:
    """The item's JSON and the absolute location relative asset hrefs resolve against."""
    if "://" in source and not source.startswith("file://"):
        with catalog_errors(source):
            text = make_stac_io().read_text(source)
        location = source
    else:
        path = Path(source.removeprefix("file://")).resolve()
        try:
            text = path.read_text()
        except OSError as err:
            raise SceneError(scene_id, f"cannot read STAC item {source!r}: {err}") from err
        location = str(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SceneError(scene_id, f"{source!r} is not JSON: {err}") from err
    if not isinstance(data, dict) or data.get("type") != "Feature":
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise SceneError(
            scene_id,
            f"{source!r} is not a STAC Item (type {kind!r}, expected 'Feature'); for a catalog "
            "use --catalog, for an API --stac-url",
        )
    return data, location


def stac_item_scene(
    source: str, *, profile: str | None = None, href_modifier: HrefModifier | None = None
) -> SceneSpec:
    """A STAC Item JSON file or URL as a scene, exactly as a search result would become one.

    Relative asset hrefs resolve against where the JSON was read from (whatever ``self`` link it
    carries), so an item saved next to its COGs scans where it lies.

    Args:
        source: a path, ``file://`` URI or ``http(s)://`` URL of the item JSON.
        profile: provider profile name; defaults to detecting it.
        href_modifier: applied to the asset hrefs (signing); see
            :func:`oceanscan.stac.item_to_scene`.

    Raises:
        SceneError: when the JSON cannot be read or parsed, is not an Item, or the item cannot
            be scanned (missing band, projection, offset).
        CatalogError: when the URL cannot be fetched after retries.
    """
    scene_id = source.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
    data, location = _load(source, scene_id)
    data = {**data, "links": [link for link in data.get("links", []) if link.get("rel") != "self"]}
    try:
        item = pystac.Item.from_dict(data, preserve_dict=False, migrate=False)
    except Exception as err:  # pystac raises many types for malformed items
        raise SceneError(
            str(data.get("id", scene_id)), f"malformed STAC item: {type(err).__name__}: {err}"
        ) from err
    item.set_self_href(location)
    return item_to_scene(item, profile=profile, href_modifier=href_modifier)
