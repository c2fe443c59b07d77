"""A multi-band GeoTIFF (or any raster GDAL opens) whose bands are named, as one scene."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import rasterio
from rasterio.errors import RasterioError

from oceanscan.errors import SceneError
from oceanscan.inputs._common import (
    BandMeta,
    band_name,
    check_bands,
    dataset_grid,
    datetime_from_name,
    dn_scale_offset,
    footprint,
    parse_bands,
    ten_metre_grid,
)
from oceanscan.scan.gdal_env import GDAL_CLOUD_DEFAULTS, gdal_path
from oceanscan.scene import BandAsset, SceneSpec
from oceanscan.sentinel2 import BANDS

__all__ = ["geotiff_scene", "scene_name"]


def scene_name(href: str) -> str:
    """The scene id of a file: its name without directory, query and suffixes."""
    name = href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".SAFE", ".json", ".tiff", ".tif", ".TIF", ".TIFF", ".vrt", ".jp2"):
        name = name.removesuffix(suffix)
    return name or href


def _band_names(
    src: rasterio.io.DatasetReader, bands: Sequence[str] | None, scene_id: str
) -> tuple[str, ...]:
    if bands is not None:
        try:
            names = parse_bands(bands)
        except ValueError as err:
            raise SceneError(scene_id, str(err)) from err
        if len(names) != src.count:
            raise SceneError(
                scene_id,
                f"--bands names {len(names)} bands ({','.join(names)}) but {src.name!r} has "
                f"{src.count}; name every band of the file, in file order",
            )
        return names
    described = [band_name(d) if d else None for d in src.descriptions]
    named = [b for b in described if b is not None]
    if len(named) != len(set(named)) or not set(BANDS) <= set(named):
        shown = [d or "" for d in src.descriptions]
        raise SceneError(
            scene_id,
            f"the band descriptions of {src.name!r} ({shown}) do not name the model bands "
            f"{list(BANDS)} once each; name the bands in file order with --bands, e.g. "
            "--bands B01,B02,B03,B04,B05,B06,B07,B08,B8A,B09,B11,B12,SCL",
        )
    return tuple(b or f"band{i}" for i, b in enumerate(described, start=1))


def geotiff_scene(
    href: str, *, bands: Sequence[str] | None = None, offset: float | None = None
) -> SceneSpec:
    """One multi-band raster as a scene.

    The bands are named by ``bands`` (file order) or by the file's band descriptions (``B02``,
    ``B2``, ``blue``...); bands other than the 11 model bands and ``SCL`` are ignored. The 10 m
    grid is the file's own (or a 10 m grid over it when its pixels are larger, so that a 20 m
    stack is resampled like a catalog scene's 20 m bands). Reflectance: see
    :func:`oceanscan.inputs._common.dn_scale_offset`.

    Args:
        href: path or URL of the file.
        bands: the band names in file order (``SCL`` allowed); defaults to the descriptions.
        offset: reflectance offset; defaults to the file's GDAL metadata, else 0.

    Raises:
        SceneError: when the file cannot be opened, its bands are not named (or misnamed), it
            lacks a model band, or it is not on a north-up metric grid.
    """
    scene_id = scene_name(href)
    if "://" not in href:  # workers may run elsewhere than this process's directory
        href = str(Path(href).resolve())
    try:
        with rasterio.Env(**GDAL_CLOUD_DEFAULTS), rasterio.open(gdal_path(href)) as src:
            names = _band_names(src, bands, scene_id)
            grid = dataset_grid(src, scene_id)
            assets = {
                name: BandAsset(name, href, grid, index=i)
                for i, name in enumerate(names, start=1)
                if name in BANDS or name == "SCL"
            }
            check_bands(scene_id, assets, repr(href))
            metas = [BandMeta.of(src, assets[b].index) for b in BANDS]
    except RasterioError as err:
        raise SceneError(scene_id, f"cannot open {href!r}: {err}") from err
    scale, reflectance_offset, source = dn_scale_offset(metas, scene_id=scene_id, offset=offset)
    ten = ten_metre_grid(grid)
    return SceneSpec(
        id=scene_id,
        collection="sentinel-2-l2a",
        provider="geotiff",
        datetime=datetime_from_name(scene_id) or "",
        bands=tuple(assets[b] for b in BANDS),
        grid=ten,
        scale=scale,
        offset=reflectance_offset,
        scl=assets.get("SCL"),
        footprint=footprint(ten),
        properties={"oceanscan:input": href, "oceanscan:offset_source": source},
    )
