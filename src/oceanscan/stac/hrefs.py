"""Href modifiers: how an item's asset hrefs are signed or rewritten before a scene keeps them.

Providers such as Planetary Computer serve assets only under signed URLs; a modifier (for
instance ``planetary_computer.sign_inplace``, or one named by :mod:`oceanscan.stac.signing`) is
applied to the item, or to each href, after relative hrefs were made absolute.
"""

from __future__ import annotations

import inspect
import posixpath
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import pystac

from oceanscan.errors import SceneError

__all__ = ["HrefModifier", "absolute_href", "modify_hrefs"]

#: A callable applied to an item's hrefs before they are stored in the SceneSpec, for providers
#: that need signed URLs (``planetary_computer.sign_inplace``) or a different scheme. Either
#: ``href -> href`` or ``pystac.Item -> pystac.Item | None`` (in place); see :func:`item_to_scene`.
HrefModifier = Callable[[Any], Any]


def _first_param_annotation(fn: Callable[..., Any]) -> Any:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return inspect.Parameter.empty
    return params[0].annotation if params else inspect.Parameter.empty


def modify_hrefs(item: pystac.Item, modifier: HrefModifier) -> pystac.Item:
    """Apply ``modifier`` to the item (Item -> Item, or in place) or to each asset href.

    The first parameter's annotation decides when there is one (``str`` means per href);
    an unannotated callable gets the item first and, if it rejects it with TypeError or
    AttributeError, each href instead.
    """
    hint = _first_param_annotation(modifier)
    if hint is str or hint == "str":
        return _modify_each_href(item, modifier)
    try:
        out = modifier(item)
    except (TypeError, AttributeError) as item_err:
        if hint is not inspect.Parameter.empty:
            raise
        try:
            return _modify_each_href(item, modifier)
        except (TypeError, AttributeError) as href_err:
            raise TypeError(
                f"href_modifier {modifier!r} accepts neither a pystac.Item ({item_err}) nor an "
                f"href string ({href_err})"
            ) from href_err
    if out is None:
        return item
    if isinstance(out, pystac.Item):
        return out
    raise TypeError(
        f"href_modifier {modifier!r} returned {type(out).__name__} for a pystac.Item; "
        "it must return a pystac.Item or None (modified in place)"
    )


def _modify_each_href(item: pystac.Item, modifier: HrefModifier) -> pystac.Item:
    for asset in item.assets.values():
        new = modifier(asset.href)
        if not isinstance(new, str):
            raise TypeError(
                f"href_modifier {modifier!r} returned {type(new).__name__} for an href; "
                "it must return a str"
            )
        asset.href = new
    return item


def absolute_href(item: pystac.Item, asset: pystac.Asset, band: str) -> str:
    """An asset's href made absolute against the item's self link (paths and URLs alike).

    Raises:
        SceneError: for a relative href on an item without a self link.
    """
    href = asset.href
    if "://" in href or posixpath.isabs(href):
        return href
    self_href = item.get_self_href()
    if self_href is None:
        raise SceneError(
            item.id, f"asset {band} href {href!r} is relative and the item has no self link"
        )
    if "://" in self_href:
        return urljoin(self_href, href)
    return posixpath.normpath(posixpath.join(posixpath.dirname(self_href), href))
