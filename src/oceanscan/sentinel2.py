"""Sentinel-2 MSI conventions: bands, wavelengths, resolutions, SCL codes, reflectance, indices.

Everything here is plain data or plain numpy so that every other module (training, synthetic
scenes, STAC profiles, the scan reader) agrees on one description of the sensor.

Sources:
    * Central wavelengths: ESA Sentinel-2 Spectral Response Functions (COPE-GSEG-EOPG-TN-15-0007),
      Sentinel-2A values.
    * SCL codes: ESA Sen2Cor L2A Product Definition (S2-PDGS-MPC-L2A-PDD), scene classification map.
    * FDI: Biermann et al. 2020, "Finding Plastic Patches in Coastal Waters using Optical Satellite
      Data", Scientific Reports 10:5364, eq. (1).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "BANDS",
    "BAND_INFO",
    "DN_NODATA",
    "MASK_CLOUD",
    "MASK_LAND",
    "MASK_NODATA",
    "MASK_SCORED",
    "REFLECTANCE_SCALE",
    "RGB_BANDS",
    "SCL",
    "SCL_LAND",
    "SCL_TO_MASK",
    "BandInfo",
    "band_index",
    "dn_to_reflectance",
    "fdi",
    "ndvi",
    "scl_to_mask",
]


@dataclass(frozen=True)
class BandInfo:
    """One Sentinel-2 MSI band.

    Attributes:
        name: band name as ESA writes it (``"B8A"``).
        wavelength_nm: Sentinel-2A central wavelength in nanometres.
        resolution_m: native ground sampling distance in metres (10, 20 or 60).
    """

    name: str
    wavelength_nm: float
    resolution_m: int


#: The 11 bands the model sees, in MARIDA's order (Kikaki et al. 2022): B09 (water vapour) and
#: B10 (cirrus, L1C only) are left out.
BAND_INFO: tuple[BandInfo, ...] = (
    BandInfo("B01", 442.7, 60),
    BandInfo("B02", 492.4, 10),
    BandInfo("B03", 559.8, 10),
    BandInfo("B04", 664.6, 10),
    BandInfo("B05", 704.1, 20),
    BandInfo("B06", 740.5, 20),
    BandInfo("B07", 782.8, 20),
    BandInfo("B08", 832.8, 10),
    BandInfo("B8A", 864.7, 20),
    BandInfo("B11", 1613.7, 20),
    BandInfo("B12", 2202.4, 20),
)
BANDS: tuple[str, ...] = tuple(b.name for b in BAND_INFO)
RGB_BANDS: tuple[str, str, str] = ("B04", "B03", "B02")

#: L2A digital numbers are reflectance x 10000 (plus an offset from processing baseline 04.00 on).
REFLECTANCE_SCALE = 1e-4
#: DN 0 marks pixels outside the swath or without data in every L2A band.
DN_NODATA = 0


class SCL(IntEnum):
    """Sen2Cor scene classification codes (L2A ``SCL`` band, 20 m)."""

    NO_DATA = 0
    SATURATED_OR_DEFECTIVE = 1
    DARK_AREA_PIXELS = 2
    CLOUD_SHADOWS = 3
    VEGETATION = 4
    NOT_VEGETATED = 5
    WATER = 6
    UNCLASSIFIED = 7
    CLOUD_MEDIUM_PROBABILITY = 8
    CLOUD_HIGH_PROBABILITY = 9
    THIN_CIRRUS = 10
    SNOW = 11


# Codes of the ``mask`` array in the scan output (DESIGN.md, Zarr layout).
MASK_SCORED = 0
MASK_LAND = 1
MASK_CLOUD = 2
MASK_NODATA = 3

#: Why a pixel is not scored, per SCL class, when land comes from a coastline dataset (the scan's
#: default, see :mod:`oceanscan.land`): Sen2Cor only says where there is no data (nodata,
#: saturated or defective) and where clouds and their shadows hide the surface. Every other class
#: is scored, vegetation, not-vegetated and snow included: at sea Sen2Cor labels dense floating
#: Sargassum and bright floating material vegetation or not-vegetated (and white foam or ice
#: snow), and masking them would hide exactly what oceanscan looks for. Water, unclassified and
#: dark pixels are scored for the same reason.
SCL_TO_MASK: dict[SCL, int] = {
    SCL.NO_DATA: MASK_NODATA,
    SCL.SATURATED_OR_DEFECTIVE: MASK_NODATA,
    SCL.DARK_AREA_PIXELS: MASK_SCORED,
    SCL.CLOUD_SHADOWS: MASK_CLOUD,
    SCL.VEGETATION: MASK_SCORED,
    SCL.NOT_VEGETATED: MASK_SCORED,
    SCL.WATER: MASK_SCORED,
    SCL.UNCLASSIFIED: MASK_SCORED,
    SCL.CLOUD_MEDIUM_PROBABILITY: MASK_CLOUD,
    SCL.CLOUD_HIGH_PROBABILITY: MASK_CLOUD,
    SCL.THIN_CIRRUS: MASK_CLOUD,
    SCL.SNOW: MASK_SCORED,
}

#: The SCL classes taken as land when a scene's land comes from its SCL (``land: scl``, what the
#: synthetic catalog uses: its land exists only in its own SCL).
SCL_LAND: frozenset[SCL] = frozenset({SCL.VEGETATION, SCL.NOT_VEGETATED, SCL.SNOW})


def _lut(land_from_scl: bool) -> npt.NDArray[np.uint8]:
    lut = np.full(256, MASK_NODATA, dtype=np.uint8)
    for code, mask in SCL_TO_MASK.items():
        lut[int(code)] = MASK_LAND if land_from_scl and code in SCL_LAND else mask
    return lut


_SCL_LUT = _lut(land_from_scl=False)
_SCL_LAND_LUT = _lut(land_from_scl=True)


def band_index(name: str) -> int:
    """Return the position of a band in the model's input order.

    Raises:
        ValueError: if ``name`` is not one of :data:`BANDS`.
    """
    try:
        return BANDS.index(name)
    except ValueError:
        raise ValueError(f"Unknown Sentinel-2 band {name!r}; must be one of {BANDS}") from None


def scl_to_mask(
    scl: npt.NDArray[np.integer], *, land_from_scl: bool = False
) -> npt.NDArray[np.uint8]:
    """Turn an SCL raster into oceanscan mask codes (0 scored, 1 land, 2 cloud/shadow, 3 nodata).

    Args:
        scl: Sen2Cor scene classification codes.
        land_from_scl: take the classes of :data:`SCL_LAND` (vegetation, not-vegetated, snow) as
            land; defaults to False, where they are scored (:data:`SCL_TO_MASK`) and land comes
            from a coastline dataset instead (:mod:`oceanscan.land`).

    Returns:
        uint8 mask codes. Codes outside 0..11 are treated as nodata.
    """
    scl = np.asarray(scl)
    lut = _SCL_LAND_LUT if land_from_scl else _SCL_LUT
    return lut[np.clip(scl, 0, 255).astype(np.uint8)]


def dn_to_reflectance(
    dn: npt.NDArray[np.integer],
    *,
    offset: float,
    scale: float = REFLECTANCE_SCALE,
    nodata: int = DN_NODATA,
) -> npt.NDArray[np.float32]:
    """Convert L2A digital numbers to surface reflectance, NaN where ``dn == nodata``.

    Args:
        dn: digital numbers (any integer dtype).
        offset: additive reflectance offset, ``-0.1`` for processing baseline >= 04.00 unless the
            provider already removed it (see :mod:`oceanscan.stac`).
        scale: multiplicative scale, defaults to 1e-4.
        nodata: the DN that marks missing data, defaults to 0.

    Returns:
        float32 reflectance ``dn * scale + offset``.
    """
    dn = np.asarray(dn)
    missing = dn == nodata
    out = dn.astype(np.float32)  # a copy, then scaled in place: no temporaries of the tile's size
    out *= np.float32(scale)
    out += np.float32(offset)
    out[missing] = np.nan
    return out


def _band(x: npt.NDArray[np.floating], name: str, axis: int) -> npt.NDArray[np.floating]:
    return np.take(x, band_index(name), axis=axis)


def ndvi(x: npt.NDArray[np.floating], *, axis: int = 0) -> npt.NDArray[np.floating]:
    """Normalized difference vegetation index (B08 - B04) / (B08 + B04) of an 11-band stack."""
    nir, red = _band(x, "B08", axis), _band(x, "B04", axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (nir - red) / (nir + red)


FdiVariant = Literal["biermann", "marida"]

#: (lambda_NIR, lambda_RED, lambda_SWIR1) in nm for the two FDI variants in use.
#: "biermann" is eq. (1) of Biermann et al. 2020 with B08/B04/B11 Sentinel-2A central
#: wavelengths (coefficient 1.772, as marinedebrisdetector's 832.9/664.8/1612.05 gives 1.775).
#: "marida" is MARIDA's random-forest code, which puts the red edge (740 nm) in place of the red
#: wavelength (833/740/1614, coefficient 1.064).
_FDI_WAVELENGTHS: dict[str, tuple[float, float, float]] = {
    "biermann": (832.8, 664.6, 1613.7),
    "marida": (833.0, 740.0, 1614.0),
}


def fdi(
    x: npt.NDArray[np.floating], *, axis: int = 0, variant: FdiVariant = "biermann"
) -> npt.NDArray[np.floating]:
    """Floating Debris Index of Biermann et al. 2020 on an 11-band reflectance stack.

    ``FDI = R_B08 - [R_B06 + (R_B11 - R_B06) * 10 * (l_NIR - l_RED) / (l_SWIR1 - l_RED)]``.
    Published implementations disagree on ``l_RED``; ``variant`` picks one (see
    :data:`_FDI_WAVELENGTHS`). Floating material raises NIR above the red-edge/SWIR baseline, so
    debris, Sargassum and foam have a positive FDI while clear water sits near zero.

    Raises:
        ValueError: for an unknown ``variant``.
    """
    if variant not in _FDI_WAVELENGTHS:
        raise ValueError(
            f"Invalid FDI variant {variant!r}; must be one of {tuple(_FDI_WAVELENGTHS)}"
        )
    l_nir, l_red, l_swir = _FDI_WAVELENGTHS[variant]
    coeff = 10.0 * (l_nir - l_red) / (l_swir - l_red)
    nir, re2, swir = _band(x, "B08", axis), _band(x, "B06", axis), _band(x, "B11", axis)
    return nir - (re2 + (swir - re2) * coeff)
