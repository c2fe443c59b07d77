"""What every file input shares: band names, grids, footprints, reflectance from GDAL metadata."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import rasterio
import rasterio.crs
from rasterio.warp import transform_geom

from oceanscan.errors import SceneError
from oceanscan.scene import BandAsset, RasterGrid
from oceanscan.sentinel2 import BANDS, REFLECTANCE_SCALE
from oceanscan.stac.profiles import EARTH_SEARCH_NAMING

#: Every name a band of a Sentinel-2 L2A file may carry, in ESA's order, plus the scene
#: classification layer.
KNOWN_BANDS: tuple[str, ...] = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B8A",
    "B09",
    "B10",
    "B11",
    "B12",
    "SCL",
)

#: Earth Search's common names (``blue``, ``nir08``...) and the two it has no model band for.
_COMMON_NAMES: Mapping[str, str] = {
    **{common: band for band, common in EARTH_SEARCH_NAMING.bands.items()},
    "nir09": "B09",
    "cirrus": "B10",
}
_ESA = re.compile(r"^B(?:AND)?_?0?(\d{1,2}|8A)$", re.IGNORECASE)  # not bare numbers
_TOKEN = re.compile(r"^B(?:0?\d|1[0-2]|8A)$|^SCL$", re.IGNORECASE)

#: Acquisition date (and time) in a file name: ``20190424``, ``2019-04-24``, ``20240305T022109``.
_WHEN = re.compile(
    r"(?<!\d)(20[1-9]\d)-?([01]\d)-?([0-3]\d)(?:T([0-2]\d):?([0-5]\d):?([0-5]\d))?(?!\d)"
)


def band_name(name: str) -> str | None:
    """The ESA name (``"B02"``, ``"B8A"``, ``"SCL"``) of a band description, or None.

    Accepts ``B2``, ``B02``, ``b8a``, ``band 4``, ``SCL`` and Earth Search's common names
    (``blue``, ``nir08``, ``swir16``...), whatever the case.
    """
    text = name.strip()
    if text.upper() == "SCL":
        return "SCL"
    if text.lower() in _COMMON_NAMES:
        return _COMMON_NAMES[text.lower()]
    match = _ESA.match(text.replace(" ", ""))
    if match is None:
        return None
    number = match.group(1).upper()
    band = "B8A" if number == "8A" else f"B{int(number):02d}"
    return band if band in KNOWN_BANDS else None


def parse_bands(names: Iterable[str]) -> tuple[str, ...]:
    """Band names as a user gives them (``--bands``), each checked and in ESA form.

    Raises:
        ValueError: naming each unknown or repeated name and the names allowed.
    """
    out: list[str] = []
    for raw in names:
        band = band_name(raw)
        if band is None:
            raise ValueError(
                f"unknown band name {raw!r}; use Sentinel-2 names {KNOWN_BANDS} (B2 and Earth "
                "Search's common names such as 'blue' are accepted too)"
            )
        if band in out:
            raise ValueError(f"band {band} is named twice in {list(names)}")
        out.append(band)
    return tuple(out)


def file_band(stem: str) -> str | None:
    """The band a file is named after (``T51PTS_20240305T022109_B02_10m`` -> ``"B02"``), or None.

    Raises:
        ValueError: when the name holds two different band names.
    """
    tokens = [t for t in re.split(r"[_\-. ()\[\]]+", stem) if _TOKEN.match(t)]
    bands = {band for band in map(band_name, tokens) if band is not None}
    if len(bands) > 1:
        raise ValueError(f"file name {stem!r} names several bands {sorted(bands)}")
    return bands.pop() if bands else None


def datetime_from_name(name: str) -> str | None:
    """The acquisition time in a file or product name, as ISO 8601 UTC, or None.

    The first date in the name counts (Sentinel-2 product names start with the sensing time); a
    date without a time is taken at 00:00 UTC.
    """
    for match in _WHEN.finditer(name):
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
        try:
            when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            continue
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return None


def crs_text(crs: rasterio.crs.CRS | None) -> str | None:
    """``"EPSG:<code>"`` when the CRS has one, else its WKT; None for no CRS."""
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else crs.to_wkt()


def dataset_grid(src: rasterio.io.DatasetReader, scene_id: str) -> RasterGrid:
    """The grid of an open dataset.

    Raises:
        SceneError: when the dataset has no CRS, a CRS in degrees, or a rotated transform.
    """
    crs = crs_text(src.crs)
    if crs is None:
        raise SceneError(
            scene_id, f"{src.name!r} has no CRS; georeference it (gdal_edit.py -a_srs)"
        )
    if not src.crs.is_projected:
        raise SceneError(
            scene_id,
            f"{src.name!r} is in {crs} (degrees); the model needs a metric grid: reproject it to "
            "its UTM zone at 10 m (gdalwarp -t_srs EPSG:326xx -tr 10 10)",
        )
    t = src.transform
    if t.b != 0 or t.d != 0 or t.e >= 0:
        raise SceneError(scene_id, f"{src.name!r} is not north-up (transform {tuple(t)[:6]})")
    return RasterGrid(crs=crs, transform=tuple(t)[:6], shape=(src.height, src.width))  # type: ignore[arg-type]


def ten_metre_grid(grid: RasterGrid) -> RasterGrid:
    """The 10 m grid covering ``grid`` (``grid`` itself when it already is one).

    The reader resamples 20 m and 60 m bands onto it; a file whose bands are all at 20 m gets a
    grid twice as fine, with the same origin.
    """
    a, _, c, _, e, f = grid.transform
    if math.isclose(a, 10.0) and math.isclose(e, -10.0):
        return grid
    left, bottom, right, top = grid.bounds
    width = max(1, round((right - left) / 10.0))
    height = max(1, round((top - bottom) / 10.0))
    return RasterGrid(grid.crs, (10.0, 0.0, c, 0.0, -10.0, f), (height, width))


def footprint(grid: RasterGrid) -> dict[str, Any]:
    """The grid's outline as a GeoJSON polygon in EPSG:4326 (densified, so edges stay true)."""
    left, bottom, right, top = grid.bounds
    steps = np.linspace(0.0, 1.0, 11)
    ring = (
        [(left + (right - left) * s, top) for s in steps]
        + [(right, top - (top - bottom) * s) for s in steps[1:]]
        + [(right - (right - left) * s, bottom) for s in steps[1:]]
        + [(left, bottom + (top - bottom) * s) for s in steps[1:]]
    )
    geometry = {"type": "Polygon", "coordinates": [ring]}
    # JSON's own types (lists, not tuples), as a STAC item's geometry has them.
    return json.loads(json.dumps(transform_geom(grid.crs, "EPSG:4326", geometry)))


@dataclass(frozen=True)
class BandMeta:
    """What GDAL says about one band's values: data type and its scale/offset metadata."""

    dtype: str
    scale: float
    offset: float

    @classmethod
    def of(cls, src: rasterio.io.DatasetReader, index: int) -> BandMeta:
        """The metadata of band ``index`` (from 1) of an open dataset."""
        return cls(
            str(src.dtypes[index - 1]), float(src.scales[index - 1]), float(src.offsets[index - 1])
        )


def dn_scale_offset(
    metas: Iterable[BandMeta], *, scene_id: str, offset: float | None
) -> tuple[float, float, str]:
    """DN -> reflectance ``(scale, offset, where from)`` for bands read from plain rasters.

    GDAL's per-band scale and offset metadata count where a file sets them (``gdal_edit.py
    -scale 0.0001 -offset -0.1``); otherwise integer bands are L2A DN with scale 1e-4 and float
    bands are reflectance already (scale 1). The offset is then ``offset`` when given, else 0:
    harmonised L2A exports (Sentinel Hub, Google Earth Engine's ``S2_SR_HARMONIZED``, Earth
    Search) have had ESA's -0.1 removed already. ``offset`` always wins over the metadata.

    Args:
        metas: the metadata of each model band.
        scene_id: for errors.
        offset: the reflectance offset to use, or None to take it from metadata (else 0).

    Raises:
        SceneError: when the bands disagree on the kind of data type, or on scale or offset.
    """
    metas = list(metas)
    kinds = {np.dtype(m.dtype).kind for m in metas}
    pairs = {(m.scale, m.offset) for m in metas}
    if len(kinds) > 1 or len(pairs) > 1:
        raise SceneError(
            scene_id,
            f"the bands differ in data type or GDAL scale/offset ({sorted(m.dtype for m in metas)}"
            f", {sorted(pairs)}); one scale and offset must hold for all",
        )
    (meta_scale, meta_offset), kind = pairs.pop(), kinds.pop()
    if (meta_scale, meta_offset) != (1.0, 0.0):
        source = "GDAL band scale/offset"
        scale, found = meta_scale, meta_offset
    elif kind == "f":
        source, scale, found = "float reflectance", 1.0, 0.0
    else:
        source, scale, found = "L2A DN (harmonised, no offset)", REFLECTANCE_SCALE, 0.0
    if offset is not None:
        return scale, float(offset), "reflectance_offset option"
    return scale, found, source


def check_bands(scene_id: str, assets: Mapping[str, BandAsset], where: str) -> None:
    """Raise unless every model band is among ``assets``.

    Raises:
        SceneError: naming the missing bands and what was found.
    """
    missing = [b for b in BANDS if b not in assets]
    if missing:
        raise SceneError(
            scene_id,
            f"{where} lacks band(s) {missing} of the model's {list(BANDS)}; found {sorted(assets)}",
        )
