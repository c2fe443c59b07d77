"""A folder of single-band files named by band (``*_B02.tif``, ``B02.jp2``...) as one scene."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio.errors import RasterioError

from oceanscan.errors import SceneError
from oceanscan.inputs._common import (
    BandMeta,
    check_bands,
    dataset_grid,
    datetime_from_name,
    dn_scale_offset,
    file_band,
    footprint,
    ten_metre_grid,
)
from oceanscan.scene import BandAsset, RasterGrid, SceneSpec
from oceanscan.sentinel2 import BANDS

__all__ = ["BAND_FILE_SUFFIXES", "BandFile", "band_files", "band_folder_scene"]

#: File suffixes taken as band files (GeoTIFF and JPEG 2000, any case).
BAND_FILE_SUFFIXES = (".tif", ".tiff", ".jp2")


@dataclass(frozen=True)
class BandFile:
    """One band file: its band, path, grid and value metadata."""

    band: str
    path: Path
    grid: RasterGrid
    meta: BandMeta

    def asset(self) -> BandAsset:
        """The file as a :class:`~oceanscan.scene.BandAsset`."""
        return BandAsset(self.band, str(self.path), self.grid)


def band_files(files: Iterable[Path], scene_id: str) -> dict[str, BandFile]:
    """The file of each band among ``files``, the finest one when a band comes at several.

    Files not named after a band (``TCI``, ``AOT``, ``WVP``, sidecars) are ignored. A Sentinel-2
    product keeps 20 m and 60 m copies of the 10 m bands; the finest resolution wins.

    Raises:
        SceneError: when a file cannot be opened, names two bands, or two files give one band at
            the same resolution.
    """
    chosen: dict[str, BandFile] = {}
    for path in sorted(files):
        if path.suffix.lower() not in BAND_FILE_SUFFIXES or not path.is_file():
            continue
        try:
            band = file_band(path.stem)
        except ValueError as err:
            raise SceneError(scene_id, str(err)) from err
        if band is None:
            continue
        try:
            with rasterio.open(path) as src:
                found = BandFile(band, path, dataset_grid(src, scene_id), BandMeta.of(src, 1))
        except RasterioError as err:
            raise SceneError(
                scene_id, f"cannot open band {band} file {str(path)!r}: {err}"
            ) from err
        held = chosen.get(band)
        if held is None or found.grid.resolution < held.grid.resolution:
            chosen[band] = found
        elif found.grid.resolution == held.grid.resolution:
            raise SceneError(
                scene_id,
                f"two files for band {band} at {found.grid.resolution:g} m: {str(held.path)!r} "
                f"and {str(path)!r}; keep one",
            )
    return chosen


def band_folder_scene(folder: Path, *, offset: float | None = None) -> SceneSpec:
    """The band files directly inside ``folder`` as a scene, named after the folder.

    The 10 m grid is B02's (or a 10 m grid over it); reflectance as for a GeoTIFF
    (:func:`oceanscan.inputs._common.dn_scale_offset`); the acquisition time from the first date
    in the folder's or the files' names.

    Raises:
        SceneError: for a missing model band or an unreadable file.
    """
    scene_id = folder.name
    files = band_files(folder.iterdir(), scene_id)
    check_bands(scene_id, files, f"folder {str(folder)!r}")
    scale, reflectance_offset, source = dn_scale_offset(
        (files[b].meta for b in BANDS), scene_id=scene_id, offset=offset
    )
    grid = ten_metre_grid(files["B02"].grid)
    names = [folder.name, *(files[b].path.stem for b in BANDS)]
    when = next((w for w in map(datetime_from_name, names) if w), "")
    return SceneSpec(
        id=scene_id,
        collection="sentinel-2-l2a",
        provider="band-files",
        datetime=when,
        bands=tuple(files[b].asset() for b in BANDS),
        grid=grid,
        scale=scale,
        offset=reflectance_offset,
        scl=files["SCL"].asset() if "SCL" in files else None,
        footprint=footprint(grid),
        properties={"oceanscan:input": str(folder), "oceanscan:offset_source": source},
    )
