"""A Sentinel-2 L2A product in ESA's ``.SAFE`` layout (JPEG 2000 bands read through GDAL).

The bands are ``GRANULE/<granule>/IMG_DATA/R10m|R20m|R60m/<tile>_<time>_<band>_<res>.jp2``; each
band is taken at its finest resolution (B02 at 10 m, B05 at 20 m, B01 at 60 m, SCL at 20 m).
Reflectance follows the product's own ``MTD_MSIL2A.xml``:
``(DN + BOA_ADD_OFFSET) / BOA_QUANTIFICATION_VALUE``, so scale ``1 / 10000`` and offset
``-1000 / 10000 = -0.1`` from processing baseline 04.00 on; a product without
``BOA_ADD_OFFSET`` values gets the offset its processing baseline implies
(:func:`oceanscan.stac.baseline_offset`).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oceanscan.errors import SceneError
from oceanscan.inputs._bandfiles import band_files
from oceanscan.inputs._common import (
    KNOWN_BANDS,
    band_name,
    check_bands,
    footprint,
    ten_metre_grid,
)
from oceanscan.scene import SceneSpec
from oceanscan.sentinel2 import BANDS, REFLECTANCE_SCALE
from oceanscan.stac.profiles import baseline_offset

__all__ = ["SafeMetadata", "read_safe_metadata", "safe_scene"]

#: ESA's band order, which ``BOA_ADD_OFFSET band_id`` counts in when the product has no
#: ``Spectral_Information`` list: the known band names without the scene classification.
_BAND_IDS = tuple(b for b in KNOWN_BANDS if b != "SCL")
_TILE = re.compile(r"(?:^|_)T(\d{2}[A-Z]{3})(?:_|$)")


@dataclass(frozen=True)
class SafeMetadata:
    """What oceanscan takes from ``MTD_MSIL2A.xml``.

    Attributes:
        product: product name without ``.SAFE``.
        start: sensing start, ISO 8601 UTC.
        baseline: processing baseline (``"05.10"``), or None.
        spacecraft: ``"sentinel-2a"``, ``"sentinel-2b"``..., or None.
        quantification: ``BOA_QUANTIFICATION_VALUE`` (10000), or None.
        offsets: ``BOA_ADD_OFFSET`` in DN per band name; empty before baseline 04.00.
        cloud_cover: ``Cloud_Coverage_Assessment`` in percent, or None.
        footprint: the product footprint as a GeoJSON polygon (EPSG:4326), or None.
    """

    product: str
    start: str
    baseline: str | None = None
    spacecraft: str | None = None
    quantification: float | None = None
    offsets: dict[str, float] = field(default_factory=dict)
    cloud_cover: float | None = None
    footprint: dict[str, Any] | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _texts(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if _local(e.tag) == name]


def _text(root: ET.Element, name: str) -> str | None:
    found = _texts(root, name)
    return found[0].text.strip() if found and found[0].text else None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _footprint(text: str | None) -> dict[str, Any] | None:
    values = [_number(v) for v in (text or "").split()]
    if len(values) < 8 or len(values) % 2 or any(v is None for v in values):
        return None
    ring = [[values[i + 1], values[i]] for i in range(0, len(values), 2)]  # lat lon -> lon lat
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def read_safe_metadata(path: Path, scene_id: str) -> SafeMetadata:
    """Parse a product's ``MTD_MSIL2A.xml``.

    Raises:
        SceneError: when the file cannot be parsed or has no sensing start time.
    """
    try:
        root = ET.parse(path).getroot()  # a local product file the user chose
    except (ET.ParseError, OSError) as err:
        raise SceneError(scene_id, f"cannot read {str(path)!r}: {err}") from err
    start = _text(root, "PRODUCT_START_TIME") or _text(root, "DATATAKE_SENSING_START")
    if start is None:
        raise SceneError(scene_id, f"{str(path)!r} has no PRODUCT_START_TIME")
    ids = {
        e.get("bandId"): band_name(e.get("physicalBand") or "")
        for e in _texts(root, "Spectral_Information")
    }
    offsets: dict[str, float] = {}
    for element in _texts(root, "BOA_ADD_OFFSET"):
        band_id, value = element.get("band_id"), _number(element.text)
        band = ids.get(band_id) if ids else None
        if band is None and band_id is not None and band_id.isdigit() and int(band_id) < 13:
            band = _BAND_IDS[int(band_id)]
        if band is not None and value is not None:
            offsets[band] = value
    product = (_text(root, "PRODUCT_URI") or path.parent.name).removesuffix(".SAFE")
    spacecraft = _text(root, "SPACECRAFT_NAME")
    return SafeMetadata(
        product=product,
        start=start,
        baseline=_text(root, "PROCESSING_BASELINE"),
        spacecraft=spacecraft.lower() if spacecraft else None,
        quantification=_number(_text(root, "BOA_QUANTIFICATION_VALUE")),
        offsets=offsets,
        cloud_cover=_number(_text(root, "Cloud_Coverage_Assessment")),
        footprint=_footprint(_text(root, "EXT_POS_LIST")),
    )


def _scale_offset(meta: SafeMetadata, scene_id: str) -> tuple[float, float, str]:
    scale = 1.0 / meta.quantification if meta.quantification else REFLECTANCE_SCALE
    if meta.offsets:
        missing = [b for b in BANDS if b not in meta.offsets]
        found = {meta.offsets[b] for b in BANDS if b in meta.offsets}
        if missing or len(found) != 1:
            raise SceneError(
                scene_id,
                f"BOA_ADD_OFFSET differs between the model bands or misses {missing}: "
                f"{meta.offsets}; one offset must hold for all",
            )
        return scale, found.pop() * scale, "MTD_MSIL2A.xml BOA_ADD_OFFSET"
    if meta.baseline is None:
        raise SceneError(
            scene_id, "MTD_MSIL2A.xml has neither BOA_ADD_OFFSET nor PROCESSING_BASELINE"
        )
    try:
        return scale, baseline_offset(meta.baseline), "MTD_MSIL2A.xml PROCESSING_BASELINE"
    except ValueError as err:
        raise SceneError(scene_id, str(err)) from err


def safe_scene(path: Path) -> SceneSpec:
    """One ``.SAFE`` product directory (or its ``MTD_MSIL2A.xml``) as a scene.

    Raises:
        SceneError: for a Level-1C product, a missing or malformed ``MTD_MSIL2A.xml``, not
            exactly one granule, a missing band file, or offsets that differ between bands.
    """
    folder = path.parent if path.is_file() else path
    scene_id = folder.name.removesuffix(".SAFE")
    mtd = folder / "MTD_MSIL2A.xml"
    if not mtd.is_file():
        if (folder / "MTD_MSIL1C.xml").is_file():
            raise SceneError(
                scene_id,
                "a Level-1C product (top-of-atmosphere): oceanscan's model needs Level-2A surface "
                "reflectance; process it with Sen2Cor or download the L2A product",
            )
        raise SceneError(scene_id, f"no MTD_MSIL2A.xml in {str(folder)!r}: not an L2A .SAFE")
    meta = read_safe_metadata(mtd, scene_id)
    scene_id = meta.product
    granules = sorted(p for p in (folder / "GRANULE").glob("*/IMG_DATA") if p.is_dir())
    if len(granules) != 1:
        raise SceneError(
            scene_id,
            f"expected one GRANULE/*/IMG_DATA folder in {str(folder)!r}, found {len(granules)}",
        )
    files = band_files(granules[0].rglob("*"), scene_id)
    check_bands(scene_id, files, f"{str(granules[0])!r}")
    scale, offset, source = _scale_offset(meta, scene_id)
    grid = ten_metre_grid(files["B02"].grid)
    props: dict[str, Any] = {
        "oceanscan:input": str(folder),
        "oceanscan:offset_source": source,
    }
    if meta.baseline:
        props["s2:processing_baseline"] = meta.baseline
    if meta.spacecraft:
        props["platform"] = meta.spacecraft
    if meta.cloud_cover is not None:
        props["eo:cloud_cover"] = meta.cloud_cover
    tile = _TILE.search(granules[0].parent.name) or _TILE.search(files["B02"].path.stem)
    if tile:
        props["s2:mgrs_tile"] = tile.group(1)
    return SceneSpec(
        id=scene_id,
        collection="sentinel-2-l2a",
        provider="safe",
        datetime=_iso(meta.start, scene_id),
        bands=tuple(files[b].asset() for b in BANDS),
        grid=grid,
        scale=scale,
        offset=offset,
        scl=files["SCL"].asset() if "SCL" in files else None,
        footprint=meta.footprint or footprint(grid),
        properties=props,
    )


def _iso(text: str, scene_id: str) -> str:
    try:
        when = datetime.fromisoformat(text)
    except ValueError as err:
        raise SceneError(scene_id, f"malformed PRODUCT_START_TIME {text!r}") from err
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
