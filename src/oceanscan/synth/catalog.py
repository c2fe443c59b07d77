"""Synthetic STAC catalogs of Cloud-Optimized GeoTIFFs, shaped like a real provider's.

:func:`write_catalog` renders full synthetic L2A scenes (:func:`oceanscan.synth.scene.synthesize_scene`)
and writes each band as a COG at its native resolution (10, 20 or 60 m; coarser bands are area
averages of the 10 m reflectance, as the sensor integrates over its larger footprint), uint16 DN
with the ``BOA_ADD_OFFSET`` of processing baseline >= 04.00 (DN = (reflectance + 0.1) * 10000),
nodata 0, SCL at 20 m and the ground truth (MARIDA class ids) at 10 m. The seas are as clean as
real ones: most scenes hold no debris, the others a fraction of order 1e-4 to 1e-3 of their clear
water (:data:`CLEAN_SCENE_PROBABILITY`, :data:`DEBRIS_FRACTION_RANGE`). Items look like the
provider named by ``profile`` (asset keys, roles, ``raster:bands`` or ``s2:processing_baseline``,
``proj:code`` or ``proj:epsg``) so they go through the same parsing as real items, and are placed
in real UTM zones over real seas, in their real MGRS 100 km squares.

Layout (STAC best practices, self-contained, relative links, servable by stac-fastapi-static)::

    <out>/catalog.json
    <out>/<collection>/collection.json
    <out>/<collection>/<item id>/<item id>.json   and its COGs beside it
    <out>/items.ndjson                            items with absolute hrefs, for pypgstac

:func:`api_records` rewrites hrefs for any base URL (a path, ``file://`` or ``http://host/...``)
for loading into a STAC API.

The catalog is *self-contained* in the sense of pystac's ``CatalogType.SELF_CONTAINED``: every
link is relative and no document has a ``self`` link. The STAC specification requires a ``self``
link to be absolute, and a relative one is not merely untidy: stac-fastapi-static takes a
document's ``self`` link as the base of its other links, a relative one leaves them without a
scheme, and it answers every request with HTTP 500 ("No scheme supplied"). Without ``self`` links, readers resolve the relative links against the URL they
fetched each document from, so the directory can be moved, copied or served as it is.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from pyproj import Transformer

from oceanscan.sentinel2 import BAND_INFO, REFLECTANCE_SCALE, SCL
from oceanscan.stac.profiles import (
    EARTH_SEARCH_NAMING,
    PLANETARY_COMPUTER_NAMING,
    SYNTHETIC_PROPERTY,
    baseline_offset,
)
from oceanscan.synth.scene import synthesize_scene

__all__ = [
    "CLEAN_SCENE_PROBABILITY",
    "COLLECTION_ID",
    "DEBRIS_FRACTION_RANGE",
    "SEA_SITES",
    "CatalogProfile",
    "SeaSite",
    "api_records",
    "draw_debris_fraction",
    "mgrs_tile",
    "write_catalog",
]

CatalogProfile = Literal["earthsearch", "planetarycomputer"]
_PROFILES: tuple[str, ...] = ("earthsearch", "planetarycomputer")

#: Collection id of the synthetic catalog: the id both imitated providers use for L2A.
COLLECTION_ID = "sentinel-2-l2a"
STAC_VERSION = "1.1.0"
_COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
_BLOCK = 512

#: SCL classes counted in ``eo:cloud_cover``: medium and high probability cloud and thin cirrus,
#: the classes behind an L2A product's cloud percentage (ESA Sentinel-2 L2A Product Definition,
#: S2-PDGS-MPC-L2A-PDD). Cloud shadows are masked by the scan but not counted here.
_CLOUD_CLASSES = (SCL.CLOUD_MEDIUM_PROBABILITY, SCL.CLOUD_HIGH_PROBABILITY, SCL.THIN_CIRRUS)

#: Probability that a synthetic scene holds no debris at all.
CLEAN_SCENE_PROBABILITY = 0.6
#: Range of the debris fraction (of a scene's clear-water pixels) of the scenes that hold some,
#: drawn log-uniform.
#:
#: Both are a judgement, not a measurement: no survey gives the share of debris pixels in
#: Sentinel-2 scenes of the sea. What bounds them: MARIDA, a dataset of scenes *selected* for
#: debris, has 0.45 % of its labelled pixels labelled Marine Debris (the class distribution in
#: MARIDA's reference code, Kikaki et al. 2022, PLoS ONE 17(1): e0262247; 0.00452 in
#: ``../shared/reference/marida_constants.json``), and those are pixels its annotators chose to
#: label, not whole scenes. In the Durban flood-debris event of 2019-04-24, the event MARIDA and
#: most debris papers use, marinedebrisdetector (Russwurm et al. 2023) marks about 0.07 % of the
#: water pixels of a 4.8 km square of that scene (``../shared/real/README.md``).
#: Scenes away from such events hold far less, mostly none. So a scene with debris gets 1e-4 to
#: 1e-3 of its clear water, a Durban-like event at most, and most scenes get none.
DEBRIS_FRACTION_RANGE = (1e-4, 1e-3)

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


@dataclass(frozen=True)
class SeaSite:
    """A real place at sea where synthetic scenes are put.

    Attributes:
        name: what the place is called.
        lon: longitude of the scene centre, degrees east.
        lat: latitude of the scene centre, degrees north.
    """

    name: str
    lon: float
    lat: float


#: Scene centres over open water near coasts with documented marine litter or Sargassum.
SEA_SITES: tuple[SeaSite, ...] = (
    SeaSite("Gulf of Honduras", -88.35, 15.95),
    SeaSite("off Durban", 31.20, -29.90),
    SeaSite("Bay of Bengal", 88.30, 17.50),
    SeaSite("Gulf of Guinea off Ada", 0.60, 5.30),
    SeaSite("Manila Bay", 120.75, 14.55),
)

_LAT_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_COL_SETS = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")  # indexed by zone % 3
_ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV"


def _utm_epsg(lon: float, lat: float) -> tuple[int, int]:
    zone = int((lon + 180) // 6) + 1
    return zone, (32600 if lat >= 0 else 32700) + zone


def mgrs_tile(zone: int, lat: float, easting: float, northing: float) -> str:
    """The MGRS 100 km square (Sentinel-2 tile id, e.g. ``"16PCC"``) of a UTM position.

    Uses the MGRS lettering of NGA's standard (NGA.STND.0037): latitude bands of 8 degrees,
    column letter sets cycling every 3 zones, row letters cycling every 2000 km with a 5-letter
    shift in even zones.

    Raises:
        ValueError: outside the UTM latitudes (-80..84) or outside a zone's columns.
    """
    if not -80 <= lat <= 84:
        raise ValueError(f"latitude {lat} is outside MGRS/UTM latitudes -80..84")
    band = _LAT_BANDS[min(int((lat + 80) // 8), len(_LAT_BANDS) - 1)]
    col_index = int(easting // 100_000) - 1
    if not 0 <= col_index < 8:
        raise ValueError(f"easting {easting} is outside UTM zone columns (100000..900000)")
    col = _COL_SETS[zone % 3][col_index]
    shift = 5 if zone % 2 == 0 else 0
    row = _ROW_LETTERS[(int(northing // 100_000) + shift) % 20]
    return f"{zone:02d}{band}{col}{row}"


@dataclass(frozen=True)
class _Placement:
    epsg: int
    tile: str
    transform10: Affine
    size: int


def _place(site: SeaSite, size: int) -> _Placement:
    """A ``size`` px 10 m grid centred on ``site``, on the 60 m lattice of its MGRS square.

    Real tiles share their upper-left corner across 10/20/60 m; snapping to 60 m from the square's
    corner keeps all three native grids nested the same way.
    """
    zone, epsg = _utm_epsg(site.lon, site.lat)
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    x, y = to_utm.transform(site.lon, site.lat)
    tile = mgrs_tile(zone, site.lat, x, y)
    west = math.floor(x / 100_000) * 100_000
    north = (math.floor(y / 100_000) + 1) * 100_000
    half = size * 10 / 2
    left = west + math.floor((x - half - west) / 60) * 60
    top = north - math.floor((north - (y + half)) / 60) * 60
    return _Placement(epsg, tile, Affine(10, 0, left, 0, -10, top), size)


def _area_mean(x: npt.NDArray[np.float32], factor: int) -> npt.NDArray[np.float32]:
    """Mean over ``factor`` x ``factor`` blocks; partial blocks at the edges average what they hold."""
    if factor == 1:
        return x
    h, w = x.shape
    hh, ww = -(-h // factor), -(-w // factor)
    padded = np.full((hh * factor, ww * factor), np.nan, dtype=np.float64)
    padded[:h, :w] = x
    blocks = padded.reshape(hh, factor, ww, factor)
    with np.errstate(invalid="ignore"):
        out = np.nanmean(blocks, axis=(1, 3))
    return out.astype(np.float32)


def _to_dn(refl: npt.NDArray[np.float32], offset: float) -> npt.NDArray[np.uint16]:
    """Reflectance -> uint16 DN with ``offset`` (0 or -0.1); NaN -> 0 (nodata), valid DN >= 1."""
    dn = np.rint((refl.astype(np.float64) - offset) / REFLECTANCE_SCALE)
    out = np.clip(np.nan_to_num(dn, nan=0.0), 1, 65535).astype(np.uint16)
    out[np.isnan(refl)] = 0
    return out


def _overview_count(shape: tuple[int, int]) -> int:
    """Overview levels: halvings until the image fits one 512 px block, and at least one.

    GDAL's AUTO makes none for images smaller than a block; a COG without overviews would make
    zoomed-out reads fetch every pixel.
    """
    largest = max(shape)
    return max(1, math.ceil(math.log2(largest / _BLOCK))) if largest > 1 else 0


def _write_cog(
    path: Path, data: npt.NDArray[Any], transform: Affine, epsg: int, nodata: int
) -> None:
    """One band as a COG: 512 px internal tiles, deflate, overviews, nodata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": f"EPSG:{epsg}",
        "transform": transform,
        "nodata": nodata,
        "BLOCKSIZE": _BLOCK,
        "COMPRESS": "DEFLATE",
        "PREDICTOR": "2",
        "OVERVIEW_COUNT": _overview_count(data.shape),
        "OVERVIEW_RESAMPLING": "NEAREST" if data.dtype == np.uint8 else "AVERAGE",
        "NUM_THREADS": "1",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def _cloud_cover(scl20: npt.NDArray[np.uint8]) -> float:
    valid = scl20 != SCL.NO_DATA
    if not valid.any():
        return 0.0
    cloudy = np.isin(scl20, [int(c) for c in _CLOUD_CLASSES]) & valid
    return round(float(cloudy.sum()) / float(valid.sum()) * 100.0, 4)


def _footprint(place: _Placement) -> tuple[dict[str, Any], list[float]]:
    """Polygon (edges densified, 8 points a side) and bbox in EPSG:4326."""
    t = place.transform10
    left, top = t.c, t.f
    right, bottom = left + place.size * 10, top - place.size * 10
    n = 8
    xs = [left + (right - left) * i / n for i in range(n)]
    ys = [top - (top - bottom) * i / n for i in range(n)]
    ring = (
        [(x, top) for x in xs]
        + [(right, y) for y in ys]
        + [(right - (x - left), bottom) for x in xs]
        + [(left, bottom + (top - y)) for y in ys]
    )
    to_ll = Transformer.from_crs(f"EPSG:{place.epsg}", "EPSG:4326", always_xy=True)
    lons, lats = to_ll.transform([p[0] for p in ring], [p[1] for p in ring])
    coords = [[round(lo, 7), round(la, 7)] for lo, la in zip(lons, lats, strict=True)]
    coords.append(coords[0])
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    return {"type": "Polygon", "coordinates": [coords]}, [round(v, 7) for v in bbox]


def _grid_fields(
    transform: Affine, shape: tuple[int, int], epsg: int, profile: str
) -> dict[str, Any]:
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


def _asset(
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
    asset: dict[str, Any] = {
        "href": href,
        "type": _COG_TYPE,
        "title": title,
        "roles": roles,
        "gsd": gsd,
    }
    asset.update(grid)
    if eo_band is not None:
        asset["eo:bands"] = [eo_band]
    if raster is not None and profile == "earthsearch":
        asset["raster:bands"] = [raster]
    return asset


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


def _item_id(profile: str, platform: str, when: dt.datetime, tile: str, index: int) -> str:
    if profile == "planetarycomputer":
        stamp = when.strftime("%Y%m%dT%H%M%S")
        return f"{platform}_MSIL2A_{stamp}_R{index % 143 + 1:03d}_T{tile}_{stamp}"
    return f"{platform}_{tile}_{when:%Y%m%d}_0_L2A"


def draw_debris_fraction(rng: np.random.Generator) -> float:
    """The debris fraction of a synthetic scene's clear water, as :func:`write_catalog` draws it.

    Args:
        rng: the scene's generator; two numbers are drawn from it whatever the outcome, so
            later draws do not depend on it.

    Returns:
        0.0 with probability :data:`CLEAN_SCENE_PROBABILITY`, else a fraction drawn log-uniform
        in :data:`DEBRIS_FRACTION_RANGE` and rounded to 3 significant digits.
    """
    clean = rng.random() < CLEAN_SCENE_PROBABILITY
    lo, hi = DEBRIS_FRACTION_RANGE
    fraction = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return 0.0 if clean else float(f"{fraction:.3g}")


def _write_scene(
    item_dir_root: Path,
    index: int,
    *,
    site: SeaSite,
    size: int,
    seed: int,
    rng: np.random.Generator,
    profile: str,
    baseline: str,
    start: dt.datetime,
    debris_fraction: float | None,
) -> dict[str, Any]:
    """Render one scene, write its COGs and return its STAC item (hrefs relative to its folder)."""
    place = _place(site, size)
    synthesis = {
        "seed": seed,
        "land_fraction": round(float(rng.uniform(0.0, 0.25)), 4),
        "cloud_fraction": round(float(rng.uniform(0.0, 0.25)), 4),
        "debris_fraction": draw_debris_fraction(rng),
    }
    if debris_fraction is not None:
        synthesis["debris_fraction"] = float(debris_fraction)
    scene = synthesize_scene(size, size, **synthesis)
    offset = baseline_offset(baseline)
    when = start + dt.timedelta(days=5 * index, minutes=int(rng.integers(0, 60)))
    platform = ("S2A", "S2B")[index % 2]
    item_id = _item_id(profile, platform, when, place.tile, index)
    item_dir = item_dir_root / item_id
    naming = EARTH_SEARCH_NAMING if profile == "earthsearch" else PLANETARY_COMPUTER_NAMING

    assets: dict[str, Any] = {}
    for i, info in enumerate(BAND_INFO):
        factor = info.resolution_m // 10
        refl = _area_mean(scene.reflectance[i], factor)
        transform = place.transform10 @ Affine.scale(factor)
        _write_cog(item_dir / f"{info.name}.tif", _to_dn(refl, offset), transform, place.epsg, 0)
        raster = {
            "nodata": 0,
            "data_type": "uint16",
            "spatial_resolution": info.resolution_m,
            "scale": REFLECTANCE_SCALE,
            "offset": offset,
        }
        assets[naming.bands[info.name]] = _asset(
            f"./{info.name}.tif",
            profile=profile,
            roles=["data", "reflectance"],
            grid=_grid_fields(transform, refl.shape, place.epsg, profile),
            gsd=info.resolution_m,
            raster=raster,
            title=f"{info.name} ({info.resolution_m} m)",
            eo_band={
                "name": info.name,
                "common_name": _COMMON_NAMES[info.name],
                "center_wavelength": round(info.wavelength_nm / 1000, 4),
            },
        )
    scl20 = np.ascontiguousarray(scene.scl[::2, ::2]).astype(np.uint8)
    t20 = place.transform10 @ Affine.scale(2)
    _write_cog(item_dir / "SCL.tif", scl20, t20, place.epsg, 0)
    assets[naming.scl] = _asset(
        "./SCL.tif",
        profile=profile,
        roles=["data"],
        grid=_grid_fields(t20, scl20.shape, place.epsg, profile),
        gsd=20,
        raster={"nodata": 0, "data_type": "uint8", "spatial_resolution": 20},
        title="Scene classification map (SCL)",
    )
    truth = scene.labels.astype(np.uint8)
    _write_cog(item_dir / "truth.tif", truth, place.transform10, place.epsg, 0)
    truth_asset = _asset(
        "./truth.tif",
        profile=profile,
        roles=["data", "labels"],
        grid=_grid_fields(place.transform10, truth.shape, place.epsg, profile),
        gsd=10,
        raster={"nodata": 0, "data_type": "uint8", "spatial_resolution": 10},
        title="Ground truth",
    )
    truth_asset["description"] = "MARIDA class ids 1..15 of the synthetic scene; 0 unlabelled"
    assets["truth"] = truth_asset

    geometry, bbox = _footprint(place)
    props: dict[str, Any] = {
        "datetime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "platform": f"sentinel-2{platform[-1].lower()}"
        if profile == "earthsearch"
        else f"Sentinel-2{platform[-1]}",
        "constellation": "sentinel-2" if profile == "earthsearch" else "Sentinel 2",
        "instruments": ["msi"],
        "eo:cloud_cover": _cloud_cover(scl20),
        "s2:processing_baseline": baseline,
        SYNTHETIC_PROPERTY: True,
        "oceanscan:site": site.name,
        # synthesize_scene's arguments: the scene can be rendered again from the item alone.
        "oceanscan:synthesis": synthesis,
    }
    if profile == "earthsearch":
        props.update(
            {
                "proj:code": f"EPSG:{place.epsg}",
                "grid:code": f"MGRS-{place.tile}",
                "mgrs:utm_zone": int(place.tile[:2]),
                "mgrs:latitude_band": place.tile[2],
                "mgrs:grid_square": place.tile[3:],
            }
        )
    else:
        props.update({"proj:epsg": place.epsg, "s2:mgrs_tile": place.tile})
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": _EXTENSIONS[profile],
        "id": item_id,
        "collection": COLLECTION_ID,
        "geometry": geometry,
        "bbox": bbox,
        "properties": props,
        "links": [
            {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../collection.json", "type": "application/json"},
            {"rel": "collection", "href": "../collection.json", "type": "application/json"},
        ],
        "assets": assets,
    }


def _collection(items: Sequence[Mapping[str, Any]], profile: str) -> dict[str, Any]:
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
            {"rel": "root", "href": "../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
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


def _catalog() -> dict[str, Any]:
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "oceanscan-synthetic",
        "description": "Synthetic Sentinel-2 L2A scenes over real seas, for testing and demos.",
        "links": [
            {"rel": "root", "href": "./catalog.json", "type": "application/json"},
            {
                "rel": "child",
                "href": f"./{COLLECTION_ID}/collection.json",
                "type": "application/json",
            },
        ],
    }


def _dump(path: Path, obj: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n")


def write_catalog(
    out: Path,
    *,
    scenes: int,
    size: int,
    seed: int,
    profile: CatalogProfile = "earthsearch",
    processing_baseline: str = "05.11",
    start: dt.datetime = dt.datetime(2025, 6, 1, 10, 0, tzinfo=dt.UTC),
    debris_fractions: Sequence[float | None] = (),
) -> Path:
    """Write a static STAC catalog of synthetic Sentinel-2 L2A scenes as COGs.

    Args:
        out: directory to write into (created; existing files of the same names are replaced).
        scenes: number of scenes (items), >= 1; they cycle through :data:`SEA_SITES`, 5 days apart.
        size: side of each scene's 10 m grid in pixels, >= 16 (20/60 m grids cover it with
            ``ceil(size / 2)`` and ``ceil(size / 6)`` pixels).
        seed: seed of everything random; equal arguments write equal pixels.
        profile: provider whose item layout to imitate: ``"earthsearch"`` (common-name asset keys,
            ``raster:bands`` with scale and offset, ``proj:code``) or ``"planetarycomputer"``
            (ESA band keys, no ``raster:bands``, ``proj:epsg``).
        processing_baseline: ``s2:processing_baseline`` of every item; the DN carry the -0.1
            reflectance offset from ``"04.00"`` on (defaults to ``"05.11"``).
        start: acquisition time of the first scene (UTC).
        debris_fractions: the fraction of clear-water pixels labelled debris in the first
            scenes, in order (``synthesize_scene``'s ``debris_fraction``), e.g. ``(1e-3,)`` for
            one debris event followed by ordinary scenes; a scene beyond them, or given None,
            draws its own: none with probability :data:`CLEAN_SCENE_PROBABILITY`, else
            log-uniform in :data:`DEBRIS_FRACTION_RANGE`. Defaults to drawing every one.

    Returns:
        The path of ``catalog.json``.

    Raises:
        ValueError: for ``scenes < 1``, ``size < 16``, an unknown ``profile``, a malformed
            ``processing_baseline``, more ``debris_fractions`` than scenes or one outside [0, 1].
    """
    if profile not in _PROFILES:
        raise ValueError(f"Unknown catalog profile {profile!r}; must be one of {_PROFILES}")
    if scenes < 1:
        raise ValueError(f"scenes must be >= 1, got {scenes}")
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels (synthesize_scene's minimum), got {size}")
    baseline_offset(processing_baseline)  # validates
    fractions = list(debris_fractions)
    if len(fractions) > scenes:
        raise ValueError(
            f"debris_fractions has {len(fractions)} values for {scenes} scenes; give at most one "
            "per scene"
        )
    for i, fraction in enumerate(fractions):
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError(f"debris_fractions[{i}] is {fraction!r}; must be within [0, 1]")
    fractions += [None] * (scenes - len(fractions))
    out = Path(out)
    root = out / COLLECTION_ID
    streams = np.random.SeedSequence(seed).spawn(scenes)
    items = []
    for index, stream in enumerate(streams):
        rng = np.random.default_rng(stream)
        item = _write_scene(
            root,
            index,
            site=SEA_SITES[index % len(SEA_SITES)],
            size=size,
            seed=int(stream.generate_state(1)[0]),
            rng=rng,
            profile=profile,
            baseline=processing_baseline,
            start=start,
            debris_fraction=fractions[index],
        )
        _dump(root / item["id"] / f"{item['id']}.json", item)
        items.append(item)
    _dump(root / "collection.json", _collection(items, profile))
    catalog_path = out / "catalog.json"
    _dump(catalog_path, _catalog())
    _, absolute = api_records(catalog_path, base_url=str(out.resolve()))
    (out / "items.ndjson").write_text("".join(json.dumps(i) + "\n" for i in absolute))
    return catalog_path


def _join(base: str, *parts: str) -> str:
    if "://" in base:
        return base.rstrip("/") + "/" + "/".join(p.strip("/") for p in parts)
    return os.path.join(base, *parts)


def api_records(
    catalog_json: Path, *, base_url: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The collection and items of a written catalog, with absolute asset hrefs, for a STAC API.

    Args:
        catalog_json: the path :func:`write_catalog` returned.
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
        for asset in item["assets"].values():
            asset["href"] = _join(base_url, item_dir, asset["href"].removeprefix("./"))
        item["links"] = []
        items.append(item)
    collection["links"] = []
    return collection, items
