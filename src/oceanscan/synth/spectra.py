"""The class spectra as the generator uses them: published, perturbed and unmixed; land and noise.

:func:`class_spectrum` and :func:`split_normal_sigma` read MARIDA's published tables
(:mod:`oceanscan.synth.signatures`); :func:`perturbed_spectra` draws spectra within a class's
published spread and :func:`material_endmember` unmixes a pure material from water. The land
spectra and the sensor noise are tables of their own, embedded here for the same reason as
MARIDA's: the package works installed, without the reference files beside the checkout.

Sources:
    * Land spectra: see :data:`LAND_SPECTRA`.
    * Sensor noise: Sentinel-2 MSI signal-to-noise requirements at the reference radiance
      L_ref (ESA, Sentinel-2 User Handbook, 2015, radiometric performance table), turned into
      reflectance with ``rho_ref = pi * L_ref / E0`` (E0: band solar irradiance of the same handbook,
      sun at zenith). MSI beats these requirements in orbit, and L2A adds atmospheric-correction
      residuals; the requirement values stand in for the sum of both.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from oceanscan.classes import MARIDA_CLASSES
from oceanscan.synth.signatures import (
    P60_Z,
    SIGNATURE_BAND_NM,
    SIGNATURE_MEAN,
    SIGNATURE_MEDIAN,
    SIGNATURE_P40_BELOW,
    SIGNATURE_P60_ABOVE,
)

__all__ = [
    "LAND_SPECTRA",
    "MIN_REFLECTANCE",
    "P60_Z",
    "SENSOR_NOISE",
    "SIGNATURE_BAND_NM",
    "Statistic",
    "class_spectrum",
    "material_endmember",
    "perturbed_spectra",
    "split_normal_sigma",
]

Statistic = Literal["mean", "median"]


#: Representative land spectra for coastlines (reflectance, BANDS order). They are approximate
#: values read off the shape of the green-vegetation and dry-soil curves of the USGS Spectral
#: Library Version 7 (Kokaly et al. 2017, USGS Data Series 1035) at the Sentinel-2 band centres:
#: vegetation with the chlorophyll red dip and NIR plateau, soil rising steadily to the SWIR.
#: Land is never labelled (MARIDA labels water-borne classes only), so only their broad shape matters.
LAND_SPECTRA: dict[str, npt.NDArray[np.float32]] = {
    "vegetation": np.array(
        [0.030, 0.040, 0.070, 0.045, 0.110, 0.270, 0.330, 0.350, 0.360, 0.200, 0.100],
        dtype=np.float32,
    ),
    "soil": np.array(
        [0.090, 0.110, 0.150, 0.190, 0.210, 0.230, 0.240, 0.250, 0.260, 0.330, 0.280],
        dtype=np.float32,
    ),
}

# SNR requirement at L_ref, L_ref (W m-2 sr-1 um-1) and solar irradiance E0 (W m-2 um-1) per band,
# ESA Sentinel-2 User Handbook (2015); see the module docstring.
_SNR_REF = np.array([129, 154, 168, 142, 117, 89, 105, 174, 72, 100, 100], dtype=np.float64)
_L_REF = np.array([129, 128, 128, 108, 74.5, 68, 67, 103, 52.5, 4, 1.5], dtype=np.float64)
_E0 = np.array([1913, 1942, 1823, 1513, 1426, 1288, 1163, 1036, 955, 245, 85], dtype=np.float64)

#: Noise-equivalent reflectance per band (standard deviation, BANDS order): ``pi L_ref / E0 / SNR``,
#: about 1e-3 to 2.5e-3 in the visible and NIR and 5e-4 in the SWIR.
SENSOR_NOISE: npt.NDArray[np.float32] = (np.pi * _L_REF / _E0 / _SNR_REF).astype(np.float32)

#: Floor of every reflectance the generator makes: spectra, endmembers and the sensor's output.
MIN_REFLECTANCE = 1e-4


def _check_class(class_id: int) -> None:
    if class_id not in MARIDA_CLASSES:
        raise ValueError(
            f"Invalid MARIDA class id {class_id!r}; must be one of {tuple(MARIDA_CLASSES)}"
        )


def class_spectrum(class_id: int, statistic: Statistic = "median") -> npt.NDArray[np.float32]:
    """The published reflectance spectrum of a MARIDA class.

    The median is the generator's default: MARIDA's means are pulled up by bright outliers
    (adjacent clouds, glint), and the percentile spread is given around the median.

    Args:
        class_id: MARIDA class id, 1..15.
        statistic: ``"median"`` (default) or ``"mean"``.

    Returns:
        float32 array of 11 reflectances in :data:`oceanscan.sentinel2.BANDS` order.

    Raises:
        ValueError: for an unknown class id or statistic.
    """
    _check_class(class_id)
    if statistic == "median":
        table = SIGNATURE_MEDIAN
    elif statistic == "mean":
        table = SIGNATURE_MEAN
    else:
        raise ValueError(f"Invalid statistic {statistic!r}; must be one of ('median', 'mean')")
    return np.asarray(table[class_id], dtype=np.float32)


def split_normal_sigma(
    class_id: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Standard deviations below and above the median implied by the 40/60 percentile spread.

    MARIDA publishes the distance from the median to the 40th and 60th percentiles; reading each
    side as half of a normal distribution gives a split normal that keeps the published asymmetry
    (water spectra have a long bright tail from glint and adjacency).

    Args:
        class_id: MARIDA class id, 1..15.

    Returns:
        ``(sigma_below, sigma_above)``, two float32 arrays of 11 values.

    Raises:
        ValueError: for an unknown class id.
    """
    _check_class(class_id)
    below = np.asarray(SIGNATURE_P40_BELOW[class_id], dtype=np.float32) / np.float32(P60_Z)
    above = np.asarray(SIGNATURE_P60_ABOVE[class_id], dtype=np.float32) / np.float32(P60_Z)
    return below, above


def perturbed_spectra(
    class_id: int, z: npt.ArrayLike, *, scale: float = 1.0
) -> npt.NDArray[np.float32]:
    """Spectra of a class moved along its published split-normal spread by deviates ``z``.

    One standard-normal deviate per pixel (or per object) moves all 11 bands together, the way
    brightness varies within a class (more or less material, glint, thin haze): the spectral
    shape stays that of the class while the level follows MARIDA's spread band by band.

    Args:
        class_id: MARIDA class id, 1..15.
        z: standard-normal deviates, any shape ``S``.
        scale: multiplies the spread; 1.0 (default) reproduces the published percentiles,
            ``P60_Z`` makes the standard deviation equal to the 40/60 half-spread.

    Returns:
        float32 array of shape ``(11, *S)``, floored at 1e-4 reflectance.

    Raises:
        ValueError: for an unknown class id or a negative ``scale``.
    """
    if scale < 0:
        raise ValueError(f"Invalid scale {scale!r}; must be >= 0")
    median = class_spectrum(class_id)
    below, above = split_normal_sigma(class_id)
    z = np.asarray(z, dtype=np.float32)
    flat = z.reshape(1, -1)
    s = np.float32(scale)
    out = (s * above)[:, None] * np.maximum(flat, 0) + (s * below)[:, None] * np.minimum(flat, 0)
    out += median[:, None]
    out = out.reshape(-1, *z.shape)
    return np.maximum(out, np.float32(MIN_REFLECTANCE)).astype(np.float32, copy=False)


#: MARIDA class id of Marine Water, the background that mixed pixels are unmixed against.
_MARINE_WATER = 7


def material_endmember(
    spectra: npt.NDArray[np.float32], abundance: float
) -> npt.NDArray[np.float32]:
    """The pure-material spectrum whose mixture with water at ``abundance`` gives ``spectra``.

    Linear unmixing against MARIDA's Marine Water median ``w``: ``w + (spectra - w) / abundance``,
    floored at 1e-4 reflectance like the published spectra.

    Args:
        spectra: ``(11, ...)`` published (pixel-level) spectra.
        abundance: the mean fraction of the pixel the material covered, in (0, 1].

    Raises:
        ValueError: for an abundance outside (0, 1].
    """
    if not 0.0 < abundance <= 1.0:
        raise ValueError(f"Invalid abundance {abundance!r}; must be in (0, 1]")
    water = class_spectrum(_MARINE_WATER).reshape(-1, *([1] * (spectra.ndim - 1)))
    return np.maximum(
        water + (spectra - water) / np.float32(abundance), np.float32(MIN_REFLECTANCE)
    )
