"""The four real Sentinel-2 L2A scenes of the real-sea measurement, with a water mask for each.

The scenes are OceanEcoWatch test fixtures (``PlasticDetectionModel`` and
``PlasticDetectionService``, MIT licence), exported from Sentinel Hub's ``sentinel-2-l2a``
collection; oceanscan reads them at ``../shared/real/`` and never copies them. Every file holds
12 uint16 bands B01..B12 including B09, harmonised L2A reflectance x 10000 (no offset), 0 = no
data; three of them carry a 13th band from Sen2Cor's scene classification (SCL).

Contains modified Copernicus Sentinel data.

The water mask says which pixels the measurement counts. It is decided per scene, by a rule
written down here and in ``docs/realsea.md``, and never from any model's output:

* ``manila_open_sea``: band 13 is 1 where the SCL is not water (clouds, shadows, land, the ship)
  and 0 on clear water; water is band 13 == 0 with data in every band.
* ``manila_port`` and ``mariveles``: band 13 is the raw SCL. Water is SCL 6 (water), plus every
  non-water blob that water encloses and that is at most :data:`ENCLOSED_MAX_AREA_M2`
  (0.05 km2): Sen2Cor calls ships, buoys and bright floating objects cloud, unclassified or
  "not vegetated", and a detector that flags them is raising a false alarm at sea, so they are
  counted. A blob is enclosed when it touches neither the image border nor anything but water
  (it is an 8-connected component of the non-water pixels that does not reach the border).
* ``durban`` (no SCL): the right half is sea, the left half land under cloud, the bottom rows no
  data. Candidate water is NDWI = (B03 - B08) / (B03 + B08) > 0 (McFeeters 1996) and
  B02 < 0.15 (clouds, surf and beach are brighter; the hazy sea stays below 0.11). The sea is
  the largest 4-connected candidate region with its enclosed holes up to 0.05 km2 filled (so
  that floating filaments, whose NIR lowers their NDWI, stay in). Water is the sea without a
  coastal buffer: pixels closer than :data:`DURBAN_BUFFER_M` (100 m) to anything that is not
  sea (land, cloud, surf, no data) are dropped, so surf and cloud edges are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from rasterio.crs import CRS
from scipy import ndimage

from oceanscan.sentinel2 import BANDS, DN_NODATA, REFLECTANCE_SCALE, SCL, band_index

__all__ = [
    "DURBAN_BUFFER_M",
    "ENCLOSED_MAX_AREA_M2",
    "FILE_BANDS",
    "SCENE_NAMES",
    "RealScene",
    "SceneName",
    "load_scene",
    "load_scenes",
]

SceneName = Literal["durban", "manila_open_sea", "manila_port", "mariveles"]
#: The scenes, in the order the measurement reports them.
SCENE_NAMES: tuple[SceneName, ...] = ("durban", "manila_open_sea", "manila_port", "mariveles")

#: Band order of the files: 12 bands with B09 (water vapour), which the model does not see.
FILE_BANDS: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12",
)  # fmt: skip

#: Largest non-water blob enclosed by water that still counts as water (0.05 km2 = 500 px).
ENCLOSED_MAX_AREA_M2 = 50_000.0
#: Coastal buffer of the Durban water mask.
DURBAN_BUFFER_M = 100.0
#: Durban: candidate water has NDWI above this...
_DURBAN_NDWI_MIN = 0.0
#: ...and a blue reflectance below this (cloud, surf and beach are brighter).
_DURBAN_B02_MAX = 0.15


@dataclass(frozen=True)
class _SceneFile:
    filename: str
    extra: Literal["none", "not_water", "scl"]
    rule: str


_FILES: dict[str, _SceneFile] = {
    "durban": _SceneFile(
        "durban_20190424_l2a.tif",
        "none",
        "largest 4-connected region of NDWI(B03,B08) > 0 and B02 < 0.15, enclosed holes up to "
        "0.05 km2 filled, minus a 100 m buffer from anything that is not that sea",
    ),
    "manila_open_sea": _SceneFile(
        "manila_open_sea_l2a.tif",
        "not_water",
        "band 13 == 0 (Sen2Cor SCL water) with data in every band",
    ),
    "manila_port": _SceneFile(
        "manila_port_l2a_scl.tif",
        "scl",
        "SCL == 6 (water) plus non-water blobs up to 0.05 km2 enclosed by water (ships)",
    ),
    "mariveles": _SceneFile(
        "mariveles_l2a_scl.tif",
        "scl",
        "SCL == 6 (water) plus non-water blobs up to 0.05 km2 enclosed by water (ships)",
    ),
}


@dataclass(frozen=True)
class RealScene:
    """One real Sentinel-2 L2A scene, ready to be scored.

    Attributes:
        name: one of :data:`SCENE_NAMES`.
        path: the GeoTIFF it was read from.
        reflectance: float32 ``(11, H, W)`` surface reflectance in
            :data:`oceanscan.sentinel2.BANDS` order, NaN where the file has no data.
        water: bool ``(H, W)``, the pixels the measurement counts (see the module docstring).
        water_rule: the rule that made :attr:`water`, in words.
        crs: the scene's CRS.
        transform: affine transform of the 10 m grid (pixel corners).
        scl: uint8 ``(H, W)`` Sen2Cor SCL codes where the file carries them, else None.
    """

    name: str
    path: Path
    reflectance: npt.NDArray[np.float32]
    water: npt.NDArray[np.bool_]
    water_rule: str
    crs: CRS
    transform: Affine
    scl: npt.NDArray[np.uint8] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the grid."""
        return (int(self.water.shape[0]), int(self.water.shape[1]))

    @property
    def pixel_area_m2(self) -> float:
        """Area of one pixel in square metres (100 for the 10 m grid)."""
        return float(abs(self.transform.a * self.transform.e - self.transform.b * self.transform.d))


def _enclosed_blobs(water: npt.NDArray[np.bool_], max_px: int) -> npt.NDArray[np.bool_]:
    """Non-water 8-connected components of at most ``max_px`` pixels that do not reach the border.

    An 8-connected component of the non-water pixels is bordered only by water (any non-water
    neighbour would belong to it), so "does not reach the image border" is "enclosed by water".
    """
    labels, count = ndimage.label(~water, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return np.zeros_like(water)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    keep = sizes <= max_px
    keep[0] = False
    keep[border] = False
    return keep[labels]


def _durban_water(
    reflectance: npt.NDArray[np.float32], pixel_m: float, max_px: int
) -> npt.NDArray[np.bool_]:
    green = reflectance[band_index("B03")]
    nir = reflectance[band_index("B08")]
    blue = reflectance[band_index("B02")]
    valid = np.isfinite(reflectance).all(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndwi = (green - nir) / (green + nir)
    candidate = valid & (ndwi > _DURBAN_NDWI_MIN) & (blue < _DURBAN_B02_MAX)
    labels, count = ndimage.label(candidate)  # 4-connected
    if count == 0:
        return candidate
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    sea = labels == int(np.argmax(sizes))
    sea |= _enclosed_blobs(sea, max_px) & valid
    distance_m = ndimage.distance_transform_edt(sea) * pixel_m
    return sea & (distance_m > DURBAN_BUFFER_M)


def load_scene(name: str, real_dir: str | Path) -> RealScene:
    """Read one real scene: reflectance in the model's band order, its grid and its water mask.

    Args:
        name: one of :data:`SCENE_NAMES`.
        real_dir: the directory holding the files, ``../shared/real`` from the repository root.

    Returns:
        The scene; B09 dropped, reflectance = DN / 10000, NaN where DN is 0.

    Raises:
        ValueError: for an unknown ``name``, or a file that does not have the expected bands.
        FileNotFoundError: naming the missing file.
    """
    if name not in _FILES:
        raise ValueError(f"Unknown real scene {name!r}; must be one of {SCENE_NAMES}")
    spec = _FILES[name]
    path = Path(real_dir) / spec.filename
    if not path.is_file():
        raise FileNotFoundError(f"real scene {name!r} not found: {path}")
    with rasterio.open(path) as src:
        data = src.read()
        crs, transform = src.crs, src.transform
    expected = len(FILE_BANDS) + (0 if spec.extra == "none" else 1)
    if data.shape[0] != expected:
        raise ValueError(
            f"{path} has {data.shape[0]} bands; expected {expected} "
            f"({', '.join(FILE_BANDS)}{'' if spec.extra == 'none' else ' and a mask band'})"
        )
    dn = data[[FILE_BANDS.index(b) for b in BANDS]]
    reflectance = dn.astype(np.float32) * np.float32(REFLECTANCE_SCALE)
    reflectance[dn == DN_NODATA] = np.nan
    valid = (dn != DN_NODATA).all(axis=0)
    pixel_m = float(abs(transform.a))
    max_px = int(ENCLOSED_MAX_AREA_M2 // (pixel_m * pixel_m))
    scl: npt.NDArray[np.uint8] | None = None
    if spec.extra == "not_water":
        water = (data[-1] == 0) & valid
    elif spec.extra == "scl":
        scl = data[-1].astype(np.uint8)
        scl_water = scl == int(SCL.WATER)
        water = (scl_water | _enclosed_blobs(scl_water, max_px)) & valid
    else:
        water = _durban_water(reflectance, pixel_m, max_px)
    return RealScene(
        name=name,
        path=path,
        reflectance=reflectance,
        water=water,
        water_rule=spec.rule,
        crs=crs,
        transform=transform,
        scl=scl,
    )


def load_scenes(real_dir: str | Path) -> dict[str, RealScene]:
    """All four scenes of :data:`SCENE_NAMES`, by name (see :func:`load_scene`)."""
    return {name: load_scene(name, real_dir) for name in SCENE_NAMES}
