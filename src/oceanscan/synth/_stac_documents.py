"""The STAC documents of the synthetic catalog, laid out like the provider they imitate.

Items look like the provider named by ``profile`` (asset keys, roles, ``raster:bands`` or
``s2:processing_baseline``, ``proj:code`` or ``proj:epsg``) so they go through the same parsing as
real items. Every link is relative and no document has a ``self`` link (see
:mod:`oceanscan.synth.catalog` for why).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine

from oceanscan.sentinel2 import DN_NODATA, REFLECTANCE_SCALE, SCL, BandInfo
from oceanscan.stac.profiles import SYNTHETIC_PROPERTY
from oceanscan.synth.sites import Placement

__all__ = [
    "COLLECTION_ID",
    "STAC_VERSION",
    "api_records",
    "asset",
    "band_asset",
    "catalog_document",
    "cloud_cover",
    "collection_document",
    "grid_fields",
    "item_document",
    "item_id",
    "item_properties",
]

#: Collection id of the synthetic catalog: the id both imitated providers use for L2A.
COLLECTION_ID = "sentinel-2-l2a"
STAC_VERSION = "1.1.0"
_COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
_JSON = "application/json"
#: Sentinel-2's relative orbits, numbered 1..143, as Planetary Computer ids carry them.
_RELATIVE_ORBITS = 143

#: SCL classes counted in ``eo:cloud_cover``: medium and high probability cloud and thin cirrus,
#: the classes behind an L2A product's cloud percentage (ESA Sentinel-2 L2A Product Definition,
#: S2-PDGS-MPC-L2A-PDD). Cloud shadows are masked by the scan but not counted here.
_CLOUD_CLASSES = (SCL.CLOUD_MEDIUM_PROBABILITY, SCL.CLOUD_HIGH_PROBABILITY, SCL.THIN_CIRRUS)

_EXTENSIONS = {
    "earthsearch": [
        "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
        "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
        "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
        "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
        "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
        "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json",
    ],
    "planetarycomputer": [
        "https://stac-extensions.github.io/eo/v1.0.0/schema.json",
        "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
        "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
    ],
}

_COMMON_NAMES = {
    "B01": "coastal",
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B05": "rededge",
    "B06": "rededge",
    "B07": "rededge",
    "B08": "nir",
    "B8A": "nir08",
    "B11": "swir16",
    "B12": "swir22",
}


def cloud_cover(scl20: npt.NDArray[np.uint8]) -> float:
    """``eo:cloud_cover``: percent of the valid SCL pixels in :data:`_CLOUD_CLASSES`."""
    valid = scl20 != SCL.NO_DATA
    if not valid.any():
        return 0.0
    cloudy = np.isin(scl20, [int(c) for c in _CLOUD_CLASSES]) & valid
    return round(float(cloudy.sum()) / float(valid.sum()) * 100.0, 4)


def grid_fields(
    transform: Affine, shape: tuple[int, int], epsg: int, profile: str
) -> dict[str, Any]:
    """The projection fields of one asset's grid, named as ``profile``'s provider names them."""
    fields: dict[str, Any] = {
        "proj:shape": [int(shape[0]), int(shape[1])],
        "proj:transform": [float(v) for v in tuple(transform)[:6]],
    }
    if profile == "planetarycomputer":
        left, top = transform.c, transform.f
        fields["proj:bbox"] = [
            left,
            top + transform.e * shape[0],
            left + transform.a * shape[1],
            top,
        ]
    else:
        fields["proj:code"] = f"EPSG:{epsg}"
    return fields


def asset(
    href: str,
    *,
    profile: str,
    roles: list[str],
    grid: dict[str, Any],
    gsd: int,
    raster: dict[str, Any] | None,
    title: str,
    eo_band: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One COG asset; ``raster:bands`` only where the provider writes them (Earth Search)."""
    out: dict[str, Any] = {
        "href": href,
        "type": _COG_TYPE,
        "title": title,
        "roles": roles,
        "gsd": gsd,
    }
    out.update(grid)
    if eo_band is not None:
        out["eo:bands"] = [eo_band]
    if raster is not None and profile == "earthsearch":
        out["raster:bands"] = [raster]
    return out


def band_asset(
    info: BandInfo, *, profile: str, grid: dict[str, Any], offset: float
) -> dict[str, Any]:
    """The asset of one reflectance band, stored as uint16 DN with ``offset``."""
    raster = {
        "nodata": DN_NODATA,
        "data_type": "uint16",
        "spatial_resolution": info.resolution_m,
        "scale": REFLECTANCE_SCALE,
        "offset": offset,
    }
    return asset(
        f"./{info.name}.tif",
        profile=profile,
        roles=["data", "reflectance"],
        grid=grid,
        gsd=info.resolution_m,
        raster=raster,
        title=f"{info.name} ({info.resolution_m} m)",
        eo_band={
            "name": info.name,
            "common_name": _COMMON_NAMES[info.name],
            "center_wavelength": round(info.wavelength_nm / 1000, 4),
        },
    )


def item_id(profile: str, platform: str, when: dt.datetime, tile: str, index: int) -> str:
    """The item id in the provider's pattern (Planetary Computer's carries a relative orbit)."""
    if profile == "planetarycomputer":
        stamp = when.strftime("%Y%m%dT%H%M%S")
        return f"{platform}_MSIL2A_{stamp}_R{index % _RELATIVE_ORBITS + 1:03d}_T{tile}_{stamp}"
    return f"{platform}_{tile}_{when:%Y%m%d}_0_L2A"


def item_properties(
    profile: str,
    placement: Placement,
    *,
    when: dt.datetime,
    platform: str,
    cloud_cover: float,
    baseline: str,
    site_name: str,
    synthesis: Mapping[str, Any],
) -> dict[str, Any]:
    """An item's properties, with the provider's names for platform, projection and tile."""
    props: dict[str, Any] = {
        "datetime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "platform": f"sentinel-2{platform[-1].lower()}"
        if profile == "earthsearch"
        else f"Sentinel-2{platform[-1]}",
        "constellation": "sentinel-2" if profile == "earthsearch" else "Sentinel 2",
        "instruments": ["msi"],
        "eo:cloud_cover": cloud_cover,
        "s2:processing_baseline": baseline,
        SYNTHETIC_PROPERTY: True,
        "oceanscan:site": site_name,
        # synthesize_scene's arguments: the scene can be rendered again from the item alone.
        "oceanscan:synthesis": synthesis,
    }
    tile = placement.tile
    if profile == "earthsearch":
        props.update(
            {
                "proj:code": f"EPSG:{placement.epsg}",
                "grid:code": f"MGRS-{tile}",
                "mgrs:utm_zone": int(tile[:2]),
                "mgrs:latitude_band": tile[2],
                "mgrs:grid_square": tile[3:],
            }
        )
    else:
        props.update({"proj:epsg": placement.epsg, "s2:mgrs_tile": tile})
    return props


def item_document(
    stac_id: str,
    profile: str,
    *,
    geometry: dict[str, Any],
    bbox: list[float],
    properties: dict[str, Any],
    assets: dict[str, Any],
) -> dict[str, Any]:
    """A STAC item that lives at ``<collection>/<id>/<id>.json``, hrefs relative to its folder."""
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": _EXTENSIONS[profile],
        "id": stac_id,
        "collection": COLLECTION_ID,
        "geometry": geometry,
        "bbox": bbox,
        "properties": properties,
        "links": [
            {"rel": "root", "href": "../../catalog.json", "type": _JSON},
            {"rel": "parent", "href": "../collection.json", "type": _JSON},
            {"rel": "collection", "href": "../collection.json", "type": _JSON},
        ],
        "assets": assets,
    }


def collection_document(items: Sequence[Mapping[str, Any]], profile: str) -> dict[str, Any]:
    """The collection of ``items``: their joint extent and platforms, a link to each."""
    boxes = np.array([i["bbox"] for i in items], dtype=float)
    times = sorted(i["properties"]["datetime"] for i in items)
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": COLLECTION_ID,
        "title": f"Synthetic Sentinel-2 L2A ({profile} layout)",
        "description": (
            "Synthetic Sentinel-2 L2A scenes rendered by oceanscan from published MARIDA class "
            "spectra, written as COGs the way the imitated provider lays them out."
        ),
        "license": "Apache-2.0",
        "extent": {
            "spatial": {"bbox": [[*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0)]]},
            "temporal": {"interval": [[times[0], times[-1]]]},
        },
        "summaries": {"platform": sorted({i["properties"]["platform"] for i in items})},
        "links": [
            {"rel": "root", "href": "../catalog.json", "type": _JSON},
            {"rel": "parent", "href": "../catalog.json", "type": _JSON},
            *(
                {
                    "rel": "item",
                    "href": f"./{i['id']}/{i['id']}.json",
                    "type": "application/geo+json",
                }
                for i in items
            ),
        ],
    }


def catalog_document() -> dict[str, Any]:
    """The root catalog, linking to the one collection."""
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "oceanscan-synthetic",
        "description": "Synthetic Sentinel-2 L2A scenes over real seas, for testing and demos.",
        "links": [
            {"rel": "root", "href": "./catalog.json", "type": _JSON},
            {
                "rel": "child",
                "href": f"./{COLLECTION_ID}/collection.json",
                "type": _JSON,
            },
        ],
    }


def _join(base: str, *parts: str) -> str:
    """``parts`` joined onto a URL or a path."""
    if "://" in base:
        return base.rstrip("/") + "/" + "/".join(p.strip("/") for p in parts)
    return os.path.join(base, *parts)


def api_records(
    catalog_json: Path, *, base_url: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The collection and items of a written catalog, with absolute asset hrefs, for a STAC API.

    Args:
        catalog_json: the path :func:`oceanscan.synth.catalog.write_catalog` returned.
        base_url: where the catalog directory is reachable: an absolute path, ``file:///...``,
            or ``http://host/prefix`` (for instance an HTTP Range server serving the directory).

    Returns:
        ``(collection, items)``: dicts ready for pypgstac (``PgstacServer.load``); relative
        links are dropped (an API makes its own) and every asset href is ``base_url`` joined
        with the asset's path inside the catalog.

    Raises:
        FileNotFoundError: when the catalog, its collection or an item file is missing.
    """
    catalog_json = Path(catalog_json)
    root = catalog_json.parent
    collection = json.loads((root / COLLECTION_ID / "collection.json").read_text())
    items = []
    for link in collection["links"]:
        if link["rel"] != "item":
            continue
        rel = Path(COLLECTION_ID) / link["href"]
        item = json.loads((root / rel).read_text())
        item_dir = rel.parent.as_posix().removeprefix("./")
        for item_asset in item["assets"].values():
            item_asset["href"] = _join(base_url, item_dir, item_asset["href"].removeprefix("./"))
        item["links"] = []
        items.append(item)
    collection["links"] = []
    return collection, items
