"""Provider profiles: how each STAC provider names Sentinel-2 L2A assets and encodes reflectance.

A profile is data (asset keys per band, the SCL key, which rule gives the reflectance offset), like
torchgeo's declarative ``Sentinel2`` dataset; :func:`item_to_scene` is the one place that turns an
item of any profile into a provider-independent :class:`~oceanscan.scene.SceneSpec`.

The offset rules (DESIGN.md "Bands and reflectance", docs/reflectance.md) are:

* ``raster:bands`` where every band asset carries one ``scale`` and ``offset`` and they agree;
* Earth Search v1 ``sentinel-2-l2a`` items with ``earthsearch:boa_offset_applied: true`` had the
  offset removed from the COGs by Element 84, so their offset is 0 whatever ``raster:bands`` says;
* Planetary Computer items carry no ``raster:bands``: the offset is -0.1 from processing baseline
  04.00 on (ESA's ``BOA_ADD_OFFSET`` of -1000 DN, deployed on 25 January 2022; Sentinel-2 Products
  Specification Document S2-PDGS-TAS-DI-PSD, issue 14.9) and 0 before.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import math
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urljoin, urlparse

import pystac

from oceanscan.errors import SceneError
from oceanscan.scene import BandAsset, RasterGrid, SceneSpec
from oceanscan.sentinel2 import BANDS, REFLECTANCE_SCALE

__all__ = [
    "EARTH_SEARCH_NAMING",
    "PLANETARY_COMPUTER_NAMING",
    "PROFILES",
    "SYNTHETIC_PROPERTY",
    "AssetNaming",
    "HrefModifier",
    "OffsetRule",
    "ProviderProfile",
    "baseline_offset",
    "detect_profile",
    "item_to_scene",
]

log = logging.getLogger(__name__)

#: A callable applied to an item's hrefs before they are stored in the SceneSpec, for providers
#: that need signed URLs (``planetary_computer.sign_inplace``) or a different scheme. Either
#: ``href -> href`` or ``pystac.Item -> pystac.Item | None`` (in place); see :func:`item_to_scene`.
HrefModifier = Callable[[Any], Any]

#: Where a profile takes the reflectance offset from (see the module docstring).
OffsetRule = Literal["raster_bands", "boa_offset_applied", "processing_baseline"]

#: The processing baseline from which L2A products carry BOA_ADD_OFFSET = -1000 DN.
_OFFSET_BASELINE = (4, 0)
_BASELINE_OFFSET = -0.1


@dataclass(frozen=True)
class AssetNaming:
    """One provider's asset keys for the 11 model bands and the scene classification layer.

    Attributes:
        bands: oceanscan band name (``"B8A"``) -> asset key (``"nir08"``), for every band of
            :data:`oceanscan.sentinel2.BANDS`.
        scl: asset key of the Sen2Cor scene classification layer.
    """

    bands: Mapping[str, str]
    scl: str


#: Earth Search v1 (``sentinel-2-l2a`` and ``sentinel-2-c1-l2a``): common names.
EARTH_SEARCH_NAMING = AssetNaming(
    bands=MappingProxyType(
        {
            "B01": "coastal",
            "B02": "blue",
            "B03": "green",
            "B04": "red",
            "B05": "rededge1",
            "B06": "rededge2",
            "B07": "rededge3",
            "B08": "nir",
            "B8A": "nir08",
            "B11": "swir16",
            "B12": "swir22",
        }
    ),
    scl="scl",
)

#: Planetary Computer ``sentinel-2-l2a``: ESA band names.
PLANETARY_COMPUTER_NAMING = AssetNaming(
    bands=MappingProxyType({b: b for b in BANDS}),
    scl="SCL",
)


@dataclass(frozen=True)
class ProviderProfile:
    """How one provider's Sentinel-2 L2A items are laid out.

    Attributes:
        name: profile name, stored as :attr:`SceneSpec.provider`.
        collections: collection ids this profile is known to serve.
        namings: asset namings to try, in order; the first whose ``B02`` key is among the item's
            assets is used (the synthetic catalog imitates either provider).
        offset_rule: where the reflectance offset comes from.
        hosts: host names in item links or asset hrefs that identify the provider.
    """

    name: str
    collections: tuple[str, ...]
    namings: tuple[AssetNaming, ...]
    offset_rule: OffsetRule
    hosts: tuple[str, ...] = ()


PROFILES: Mapping[str, ProviderProfile] = MappingProxyType(
    {
        "earthsearch": ProviderProfile(
            name="earthsearch",
            collections=("sentinel-2-l2a",),
            namings=(EARTH_SEARCH_NAMING,),
            offset_rule="boa_offset_applied",
            hosts=("earth-search.aws.element84.com", "sentinel-cogs.s3"),
        ),
        "earthsearch-c1": ProviderProfile(
            name="earthsearch-c1",
            collections=("sentinel-2-c1-l2a",),
            namings=(EARTH_SEARCH_NAMING,),
            offset_rule="raster_bands",
            hosts=("earth-search.aws.element84.com", "e84-earth-search-sentinel-data"),
        ),
        "planetarycomputer": ProviderProfile(
            name="planetarycomputer",
            collections=("sentinel-2-l2a",),
            namings=(PLANETARY_COMPUTER_NAMING,),
            offset_rule="processing_baseline",
            hosts=("planetarycomputer.microsoft.com", "sentinel2l2a01.blob.core.windows.net"),
        ),
        "synthetic": ProviderProfile(
            name="synthetic",
            collections=(),
            namings=(EARTH_SEARCH_NAMING, PLANETARY_COMPUTER_NAMING),
            offset_rule="raster_bands",
        ),
    }
)

#: Item property that marks oceanscan's synthetic catalog (see :mod:`oceanscan.synth.catalog`).
SYNTHETIC_PROPERTY = "oceanscan:synthetic"

#: Item properties kept in :attr:`SceneSpec.properties` when present.
_KEPT_PROPERTIES = (
    "eo:cloud_cover",
    "platform",
    "constellation",
    "s2:processing_baseline",
    "s2:mgrs_tile",
    "grid:code",
    "earthsearch:boa_offset_applied",
)


def baseline_offset(baseline: str) -> float:
    """Reflectance offset implied by an ESA processing baseline such as ``"05.11"``.

    Args:
        baseline: ``s2:processing_baseline`` as ``"MM.mm"``.

    Returns:
        -0.1 for baseline 04.00 and later, 0.0 before.

    Raises:
        ValueError: if ``baseline`` is not of the form ``"MM.mm"``.
    """
    parts = str(baseline).strip().split(".")
    try:
        major, minor = (int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"Invalid processing baseline {baseline!r}; expected 'MM.mm' such as '04.00'"
        ) from None
    return _BASELINE_OFFSET if (major, minor) >= _OFFSET_BASELINE else 0.0


def _hosts(item: pystac.Item) -> set[str]:
    # link.target, not link.href: resolving an href may fetch the root catalog over the network.
    urls = [link.target for link in item.links if isinstance(link.target, str)]
    urls += [a.href for a in item.assets.values()]
    return {urlparse(u).netloc for u in urls if "://" in u}


def detect_profile(item: pystac.Item) -> ProviderProfile:
    """Work out which provider an item comes from.

    In order: the synthetic marker property (:data:`SYNTHETIC_PROPERTY`); the collection id
    ``sentinel-2-c1-l2a``; ``earthsearch:*`` properties or an Earth Search host in links or hrefs;
    a Planetary Computer host; the asset keys (``blue`` for Earth Search, ``B02`` for Planetary
    Computer). Items re-served by another STAC API keep their properties and asset hrefs, so
    detection does not rely on links alone.

    Raises:
        SceneError: when no profile matches.
    """
    props = item.properties
    if props.get(SYNTHETIC_PROPERTY):
        return PROFILES["synthetic"]
    if item.collection_id == "sentinel-2-c1-l2a":
        return PROFILES["earthsearch-c1"]
    hosts = " ".join(_hosts(item))
    es_hosts = PROFILES["earthsearch"].hosts + PROFILES["earthsearch-c1"].hosts
    if any(k.startswith("earthsearch:") for k in props) or any(h in hosts for h in es_hosts):
        return PROFILES["earthsearch"]
    if any(h in hosts for h in PROFILES["planetarycomputer"].hosts):
        return PROFILES["planetarycomputer"]
    if EARTH_SEARCH_NAMING.bands["B02"] in item.assets:
        return PROFILES["earthsearch"]
    if PLANETARY_COMPUTER_NAMING.bands["B02"] in item.assets:
        return PROFILES["planetarycomputer"]
    raise SceneError(
        item.id,
        f"cannot tell the provider (collection {item.collection_id!r}, assets "
        f"{sorted(item.assets)}); pass profile= one of {tuple(PROFILES)}",
    )


def _resolve_profile(item: pystac.Item, profile: str | None) -> ProviderProfile:
    if profile is None:
        return detect_profile(item)
    if profile not in PROFILES:
        raise ValueError(
            f"Unknown STAC provider profile {profile!r}; must be one of {tuple(PROFILES)}"
        )
    return PROFILES[profile]


def _to_item(item: pystac.Item | Mapping[str, Any]) -> pystac.Item:
    if isinstance(item, pystac.Item):
        return item.clone()
    if not isinstance(item, Mapping):
        raise TypeError(
            f"item must be a pystac.Item or a STAC item dict, got {type(item).__name__}"
        )
    item_id = str(item.get("id", "<no id>"))
    if item.get("type") != "Feature":
        raise SceneError(
            item_id, f"not a STAC Item (type {item.get('type')!r}, expected 'Feature')"
        )
    try:
        return pystac.Item.from_dict(dict(item), preserve_dict=True, migrate=False)
    except Exception as err:  # pystac raises many types for malformed JSON
        raise SceneError(item_id, f"malformed STAC item: {type(err).__name__}: {err}") from err


def _first_param_annotation(fn: Callable[..., Any]) -> Any:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return inspect.Parameter.empty
    return params[0].annotation if params else inspect.Parameter.empty


def _modify_hrefs(item: pystac.Item, modifier: HrefModifier) -> pystac.Item:
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


def _absolute_href(item: pystac.Item, asset: pystac.Asset, band: str) -> str:
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


def _crs(item: pystac.Item, asset: pystac.Asset) -> str | None:
    for fields in (asset.extra_fields, item.properties):
        code = fields.get("proj:code")
        if code:
            return str(code)
        epsg = fields.get("proj:epsg")
        if epsg is not None:
            return f"EPSG:{int(epsg)}"
        wkt = fields.get("proj:wkt2")
        if wkt:
            return str(wkt)
    return None


def _grid(item: pystac.Item, asset: pystac.Asset, band: str) -> RasterGrid:
    crs = _crs(item, asset)
    shape = asset.extra_fields.get("proj:shape", item.properties.get("proj:shape"))
    transform = asset.extra_fields.get("proj:transform", item.properties.get("proj:transform"))
    missing = [
        name
        for name, value in (
            ("proj:code/proj:epsg", crs),
            ("proj:shape", shape),
            ("proj:transform", transform),
        )
        if value is None
    ]
    if missing:
        raise SceneError(
            item.id, f"asset of band {band} has no {', '.join(missing)} (on asset or item)"
        )
    try:
        h, w = (int(v) for v in shape)
        coeffs = tuple(float(v) for v in transform)
    except (TypeError, ValueError):
        raise SceneError(
            item.id, f"band {band}: malformed proj:shape {shape!r} or proj:transform {transform!r}"
        ) from None
    if len(coeffs) not in (6, 9) or h <= 0 or w <= 0:
        raise SceneError(
            item.id,
            f"band {band}: proj:transform must have 6 or 9 numbers and proj:shape two positive "
            f"sizes, got {transform!r} and {shape!r}",
        )
    a, b, c, d, e, f = coeffs[:6]
    return RasterGrid(crs=crs, transform=(a, b, c, d, e, f), shape=(h, w))  # type: ignore[arg-type]


def _pick_naming(item: pystac.Item, profile: ProviderProfile) -> AssetNaming:
    for naming in profile.namings:
        if naming.bands["B02"] in item.assets:
            return naming
    return profile.namings[0]


def _raster_scale_offset(
    item: pystac.Item, assets: Mapping[str, pystac.Asset]
) -> tuple[float, float] | None:
    """The one (scale, offset) all band assets agree on, or None when any band lacks them."""
    pairs: dict[str, tuple[float, float]] = {}
    for band, asset in assets.items():
        rb = asset.extra_fields.get("raster:bands")
        if not rb or not isinstance(rb, list) or not isinstance(rb[0], Mapping):
            return None
        scale, offset = rb[0].get("scale"), rb[0].get("offset")
        if not isinstance(scale, int | float) or not isinstance(offset, int | float):
            return None
        pairs[band] = (float(scale), float(offset))
    distinct = set(pairs.values())
    if len(distinct) != 1:
        raise SceneError(
            item.id,
            f"raster:bands scale/offset differ between bands: {pairs}; cannot use one offset",
        )
    scale, offset = distinct.pop()
    if not (0 < scale < 1) or not math.isfinite(offset):
        raise SceneError(item.id, f"implausible raster:bands scale {scale} / offset {offset}")
    return scale, offset


def _baseline_scale_offset(item: pystac.Item) -> tuple[float, float]:
    baseline = item.properties.get("s2:processing_baseline")
    if baseline is None:
        raise SceneError(
            item.id,
            "no s2:processing_baseline and no usable raster:bands: cannot tell the reflectance "
            "offset (0 or -0.1)",
        )
    try:
        return REFLECTANCE_SCALE, baseline_offset(str(baseline))
    except ValueError as err:
        raise SceneError(item.id, str(err)) from err


def _scale_offset(
    item: pystac.Item, profile: ProviderProfile, assets: Mapping[str, pystac.Asset]
) -> tuple[float, float, str]:
    """Reflectance (scale, offset) and the name of the field it came from."""
    rule = profile.offset_rule
    if (
        rule == "boa_offset_applied"
        and item.properties.get("earthsearch:boa_offset_applied") is True
    ):
        raster = _raster_scale_offset(item, assets)
        return (raster[0] if raster else REFLECTANCE_SCALE), 0.0, "earthsearch:boa_offset_applied"
    if rule in ("raster_bands", "boa_offset_applied"):
        raster = _raster_scale_offset(item, assets)
        if raster is not None:
            return raster[0], raster[1], "raster:bands"
    scale, offset = _baseline_scale_offset(item)
    return scale, offset, "s2:processing_baseline"


def _iso_utc(item: pystac.Item) -> str:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise SceneError(item.id, "no datetime or start_datetime")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _mgrs_tile(props: Mapping[str, Any]) -> str | None:
    if props.get("s2:mgrs_tile"):
        return str(props["s2:mgrs_tile"])
    code = props.get("grid:code")
    if isinstance(code, str) and code.startswith("MGRS-"):
        return code.removeprefix("MGRS-")
    return None


def item_to_scene(
    item: pystac.Item | Mapping[str, Any],
    *,
    profile: str | None = None,
    href_modifier: HrefModifier | None = None,
) -> SceneSpec:
    """Turn one STAC item of a known provider into a :class:`SceneSpec`.

    Args:
        item: a :class:`pystac.Item` or its dict form. It is not modified.
        profile: name of a profile in :data:`PROFILES`; defaults to :func:`detect_profile`.
        href_modifier: applied to hrefs (made absolute first when the item has a self link)
            before they are stored, e.g. ``planetary_computer.sign_inplace``. A callable whose first parameter is annotated
            ``str`` is called once per href; otherwise it is called with a copy of the item
            (returning the modified item, or None after modifying it in place), and, if it
            rejects the item with TypeError/AttributeError, once per href. Defaults to no change.

    Returns:
        The scene: 11 band assets in :data:`oceanscan.sentinel2.BANDS` order with their own
        grids, the 10 m grid (of B02), scale and offset, the SCL asset (None if the item has
        none), footprint and the properties worth keeping (``eo:cloud_cover``, ``platform``,
        ``s2:processing_baseline``, ``s2:mgrs_tile``, and ``oceanscan:offset_source`` naming the
        field the offset was taken from).

    Raises:
        SceneError: for a missing band asset, missing or malformed projection fields, a 10 m
            grid that is not 10 m, or no way to tell the reflectance offset.
        ValueError: for an unknown ``profile`` name.
        TypeError: when ``item`` is neither an Item nor a mapping.
    """
    stac_item = _to_item(item)
    prof = _resolve_profile(stac_item, profile)
    if href_modifier is not None:
        if stac_item.get_self_href() is not None:  # a signer signs the URL that will be read
            for key, asset in stac_item.assets.items():
                asset.href = _absolute_href(stac_item, asset, key)
        stac_item = _modify_hrefs(stac_item, href_modifier)
    naming = _pick_naming(stac_item, prof)

    band_assets: dict[str, pystac.Asset] = {}
    missing = [b for b in BANDS if naming.bands[b] not in stac_item.assets]
    if missing:
        keys = [naming.bands[b] for b in missing]
        raise SceneError(
            stac_item.id,
            f"missing band asset(s) {missing} (asset keys {keys} for profile {prof.name!r}); "
            f"item has {sorted(stac_item.assets)}",
        )
    for b in BANDS:
        band_assets[b] = stac_item.assets[naming.bands[b]]

    bands = tuple(
        BandAsset(band=b, href=_absolute_href(stac_item, a, b), grid=_grid(stac_item, a, b))
        for b, a in band_assets.items()
    )
    grid = bands[BANDS.index("B02")].grid
    a, b_, _, d, e, _ = grid.transform
    if not (math.isclose(a, 10.0) and math.isclose(e, -10.0) and b_ == 0 and d == 0):
        raise SceneError(
            stac_item.id,
            f"the 10 m grid (band B02) is not a north-up 10 m grid: transform {grid.transform}",
        )
    for ba in bands:
        if ba.band in ("B03", "B04", "B08") and ba.grid != grid:
            raise SceneError(
                stac_item.id, f"10 m band {ba.band} grid {ba.grid} differs from B02's {grid}"
            )

    scl: BandAsset | None = None
    scl_asset = stac_item.assets.get(naming.scl)
    if scl_asset is not None:
        scl = BandAsset(
            band="SCL",
            href=_absolute_href(stac_item, scl_asset, "SCL"),
            grid=_grid(stac_item, scl_asset, "SCL"),
        )

    scale, offset, source = _scale_offset(stac_item, prof, band_assets)
    props = {k: stac_item.properties[k] for k in _KEPT_PROPERTIES if k in stac_item.properties}
    tile = _mgrs_tile(stac_item.properties)
    if tile is not None:
        props["s2:mgrs_tile"] = tile
    props["oceanscan:offset_source"] = source
    return SceneSpec(
        id=stac_item.id,
        collection=stac_item.collection_id or "",
        provider=prof.name,
        datetime=_iso_utc(stac_item),
        bands=bands,
        grid=grid,
        scale=scale,
        offset=offset,
        scl=scl,
        footprint=stac_item.geometry,
        properties=props,
    )
