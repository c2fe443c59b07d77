"""Item -> SceneSpec: the one place a STAC item of any provider becomes a provider-free scene.

The provider's :class:`~oceanscan.stac.profiles.ProviderProfile` names the assets and says where
the reflectance offset comes from (DESIGN.md "Bands and reflectance", docs/reflectance.md); this
module reads the grids, hrefs, scale and offset, and the properties worth keeping.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import pystac

from oceanscan.errors import SceneError
from oceanscan.scene import BandAsset, RasterGrid, SceneSpec
from oceanscan.sentinel2 import BANDS, REFLECTANCE_SCALE
from oceanscan.stac.hrefs import HrefModifier, absolute_href, modify_hrefs
from oceanscan.stac.profiles import (
    AssetNaming,
    ProviderProfile,
    baseline_offset,
    resolve_profile,
)

__all__ = ["HrefModifier", "item_to_scene"]

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
    prof = resolve_profile(stac_item, profile)
    if href_modifier is not None:
        if stac_item.get_self_href() is not None:  # a signer signs the URL that will be read
            for key, asset in stac_item.assets.items():
                asset.href = absolute_href(stac_item, asset, key)
        stac_item = modify_hrefs(stac_item, href_modifier)
    naming = _pick_naming(stac_item, prof)
    band_assets = _band_assets(stac_item, naming, prof)
    bands = tuple(
        BandAsset(band=b, href=absolute_href(stac_item, a, b), grid=_grid(stac_item, a, b))
        for b, a in band_assets.items()
    )
    grid = _ten_metre_grid(stac_item, bands)
    scl = _scl(stac_item, naming)
    scale, offset, source = _scale_offset(stac_item, prof, band_assets)
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
        properties=_kept_properties(stac_item, source),
    )


def _band_assets(
    item: pystac.Item, naming: AssetNaming, profile: ProviderProfile
) -> dict[str, pystac.Asset]:
    """The item's asset of each model band, in :data:`~oceanscan.sentinel2.BANDS` order."""
    missing = [b for b in BANDS if naming.bands[b] not in item.assets]
    if missing:
        keys = [naming.bands[b] for b in missing]
        raise SceneError(
            item.id,
            f"missing band asset(s) {missing} (asset keys {keys} for profile {profile.name!r}); "
            f"item has {sorted(item.assets)}",
        )
    return {b: item.assets[naming.bands[b]] for b in BANDS}


def _ten_metre_grid(item: pystac.Item, bands: tuple[BandAsset, ...]) -> RasterGrid:
    """The scene's 10 m grid (B02's), checked north-up at 10 m and shared by every 10 m band."""
    grid = bands[BANDS.index("B02")].grid
    a, b_, _, d, e, _ = grid.transform
    if not (math.isclose(a, 10.0) and math.isclose(e, -10.0) and b_ == 0 and d == 0):
        raise SceneError(
            item.id,
            f"the 10 m grid (band B02) is not a north-up 10 m grid: transform {grid.transform}",
        )
    for ba in bands:
        if ba.band in ("B03", "B04", "B08") and ba.grid != grid:
            raise SceneError(
                item.id, f"10 m band {ba.band} grid {ba.grid} differs from B02's {grid}"
            )
    return grid


def _scl(item: pystac.Item, naming: AssetNaming) -> BandAsset | None:
    """The scene classification asset, or None when the item has none."""
    asset = item.assets.get(naming.scl)
    if asset is None:
        return None
    return BandAsset(
        band="SCL", href=absolute_href(item, asset, "SCL"), grid=_grid(item, asset, "SCL")
    )


def _kept_properties(item: pystac.Item, offset_source: str) -> dict[str, Any]:
    """The item properties worth keeping, the MGRS tile normalised, and the offset's source."""
    props = {k: item.properties[k] for k in _KEPT_PROPERTIES if k in item.properties}
    tile = _mgrs_tile(item.properties)
    if tile is not None:
        props["s2:mgrs_tile"] = tile
    props["oceanscan:offset_source"] = offset_source
    return props
