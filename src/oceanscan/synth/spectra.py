"""Published reflectance spectra of the MARIDA classes, land spectra and Sentinel-2 sensor noise.

The synthetic generator draws every pixel from these tables, so they are embedded here as plain
constants: the package works installed, without the reference files beside the checkout. A test
checks the tables against ``../shared/reference/marida_class_signatures.json``.

Sources:
    * MARIDA class signatures: Kikaki, Kakogeorgiou, Mikeli, Raitsos, Karantzalos (2022), "MARIDA: A
      benchmark for Marine Debris detection from Sentinel-2 remote sensing data", PLoS ONE 17(1):
      e0262247; values read from the plotted data of ``docs/Report_3_Signatures.html`` in
      marine-debris/marine-debris.github.io: per class and band the mean, the median and the
      distance from the median to the 40th and 60th percentiles, over all labelled pixels.
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
from oceanscan.sentinel2 import BANDS

__all__ = [
    "LAND_SPECTRA",
    "P60_Z",
    "SENSOR_NOISE",
    "SIGNATURE_BAND_NM",
    "Statistic",
    "class_spectrum",
    "material_endmember",
    "perturbed_spectra",
    "split_normal_sigma",
]

#: Band centres (nm) as MARIDA's signature report labels them, in :data:`oceanscan.sentinel2.BANDS`
#: order.
SIGNATURE_BAND_NM: tuple[int, ...] = (440, 490, 560, 665, 705, 740, 783, 842, 865, 1600, 2200)

#: The 60th percentile of a standard normal: a 40/60 percentile half-spread ``s`` corresponds to a
#: standard deviation ``s / P60_Z`` of a normal distribution.
P60_Z = 0.2533471

Statistic = Literal["mean", "median"]

# Tables below: class id -> 11 reflectances (B01..B12 in BANDS order), MARIDA Report_3_Signatures.
# _P40_BELOW / _P60_ABOVE: median minus 40th percentile / 60th percentile minus median.

# fmt: off
_MEAN: dict[int, tuple[float, ...]] = {
    # Marine Debris
    1: (
        0.0459953, 0.0623276, 0.0566627, 0.0567577, 0.0400647, 0.0420818,
        0.0463118, 0.0574563, 0.0478539, 0.0199995, 0.0112567,
    ),
    # Dense Sargassum
    2: (
        0.0424649, 0.040873, 0.0485387, 0.0446851, 0.0946731, 0.118252,
        0.141223, 0.132582, 0.136753, 0.0163806, 0.00998169,
    ),
    # Sparse Sargassum
    3: (
        0.0387477, 0.0315356, 0.0271959, 0.0218358, 0.0354779, 0.0412075,
        0.046374, 0.0450763, 0.0441302, 0.00812835, 0.00534823,
    ),
    # Natural Organic Material
    4: (
        0.0483422, 0.0533373, 0.0533524, 0.0621032, 0.0563931, 0.0642869,
        0.0762884, 0.0915325, 0.0905731, 0.0544057, 0.0269619,
    ),
    # Ship
    5: (
        0.0664925, 0.108353, 0.107913, 0.11562, 0.0965617, 0.0984855,
        0.106585, 0.105884, 0.108175, 0.0748901, 0.0466003,
    ),
    # Clouds
    6: (
        0.16949, 0.165987, 0.151926, 0.152446, 0.146235, 0.149667,
        0.158518, 0.146524, 0.161339, 0.13664, 0.107862,
    ),
    # Marine Water
    7: (
        0.0385541, 0.033543, 0.024295, 0.0168473, 0.0143233, 0.0141418,
        0.0149951, 0.0126548, 0.0142455, 0.00904371, 0.00652343,
    ),
    # Sediment-Laden Water
    8: (
        0.0665257, 0.0763634, 0.104618, 0.135557, 0.123888, 0.096681,
        0.108843, 0.0862009, 0.0858276, 0.00957359, 0.00644551,
    ),
    # Foam
    9: (
        0.0857337, 0.15917, 0.164033, 0.152743, 0.119344, 0.103977,
        0.114161, 0.113947, 0.105708, 0.0325396, 0.016764,
    ),
    # Turbid Water
    10: (
        0.0454188, 0.0491561, 0.0557995, 0.0349842, 0.0258891, 0.0168398,
        0.018361, 0.0145497, 0.0151322, 0.00683452, 0.00468055,
    ),
    # Shallow Water
    11: (
        0.0565491, 0.0583031, 0.0532111, 0.02873, 0.0255123, 0.0240401,
        0.0257936, 0.0217924, 0.0251156, 0.0183841, 0.0141433,
    ),
    # Waves
    12: (
        0.0511183, 0.0515604, 0.041599, 0.0369305, 0.0303019, 0.0300719,
        0.0315038, 0.0308849, 0.0301228, 0.0233023, 0.0163735,
    ),
    # Cloud Shadows
    13: (
        0.0395564, 0.0320307, 0.023215, 0.0186196, 0.0162856, 0.0165593,
        0.0178699, 0.0150613, 0.01698, 0.0111325, 0.00826453,
    ),
    # Wakes
    14: (
        0.048431, 0.0504711, 0.0431357, 0.0342862, 0.0290581, 0.0285985,
        0.0308373, 0.0272415, 0.0302544, 0.0213613, 0.0156129,
    ),
    # Mixed Water
    15: (
        0.0450464, 0.0407295, 0.032672, 0.0263792, 0.0279932, 0.0293055,
        0.0320447, 0.0231041, 0.0321902, 0.0164201, 0.0104344,
    ),
}

_MEDIAN: dict[int, tuple[float, ...]] = {
    # Marine Debris
    1: (
        0.043848, 0.0573281, 0.0503919, 0.048996, 0.0321362, 0.0331746,
        0.0361674, 0.0475017, 0.0370647, 0.0164208, 0.00955386,
    ),
    # Dense Sargassum
    2: (
        0.0392299, 0.0391788, 0.0478171, 0.0443923, 0.0944575, 0.116353,
        0.140291, 0.129274, 0.134582, 0.0150141, 0.00835334,
    ),
    # Sparse Sargassum
    3: (
        0.0358354, 0.0295478, 0.0253932, 0.0198727, 0.0321113, 0.03759,
        0.0411144, 0.0419183, 0.0394816, 0.00582485, 0.00345132,
    ),
    # Natural Organic Material
    4: (
        0.0481652, 0.0531749, 0.0524261, 0.0554914, 0.047229, 0.0516518,
        0.0612189, 0.0778308, 0.0724511, 0.0377669, 0.0185607,
    ),
    # Ship
    5: (
        0.0635652, 0.0899003, 0.0899021, 0.0999686, 0.0845899, 0.0862224,
        0.0948946, 0.0936224, 0.0987713, 0.0662751, 0.0411666,
    ),
    # Clouds
    6: (
        0.102064, 0.0949688, 0.0818319, 0.0776669, 0.0743243, 0.0758995,
        0.0790314, 0.07294, 0.079063, 0.0641604, 0.0522754,
    ),
    # Marine Water
    7: (
        0.0341208, 0.0293691, 0.0212069, 0.0135786, 0.0110233, 0.0108086,
        0.0115305, 0.00941094, 0.0107627, 0.00584605, 0.00405611,
    ),
    # Sediment-Laden Water
    8: (
        0.0653937, 0.0768245, 0.106463, 0.137175, 0.126197, 0.096538,
        0.108071, 0.084031, 0.0799803, 0.00670748, 0.00425165,
    ),
    # Foam
    9: (
        0.0762749, 0.132808, 0.138178, 0.126289, 0.097791, 0.0816849,
        0.0940478, 0.0885938, 0.0840944, 0.027715, 0.0141612,
    ),
    # Turbid Water
    10: (
        0.0422008, 0.0467615, 0.0522606, 0.033166, 0.0247192, 0.0157155,
        0.0174696, 0.0136237, 0.0135818, 0.00589055, 0.00385154,
    ),
    # Shallow Water
    11: (
        0.0586108, 0.0601509, 0.0533302, 0.026189, 0.0217733, 0.0208329,
        0.0225099, 0.0193768, 0.0221226, 0.0152192, 0.0118596,
    ),
    # Waves
    12: (
        0.0530209, 0.0475721, 0.0379739, 0.0325177, 0.026837, 0.026529,
        0.0277413, 0.027124, 0.0264947, 0.0201221, 0.0141603,
    ),
    # Cloud Shadows
    13: (
        0.0333653, 0.026816, 0.0184525, 0.013895, 0.0118895, 0.0122604,
        0.0135816, 0.0111816, 0.012935, 0.00754723, 0.00544427,
    ),
    # Wakes
    14: (
        0.0454059, 0.0443096, 0.0384569, 0.0319103, 0.0284133, 0.0280128,
        0.0305508, 0.0262133, 0.0294715, 0.0197229, 0.0138604,
    ),
    # Mixed Water
    15: (
        0.0432419, 0.0387705, 0.0306223, 0.0243083, 0.0243506, 0.0247169,
        0.0269645, 0.0201144, 0.0266231, 0.0137125, 0.00865349,
    ),
}

_P40_BELOW: dict[int, tuple[float, ...]] = {
    # Marine Debris
    1: (
        0.00325033, 0.00513561, 0.00542655, 0.00596341, 0.00410786, 0.00398608,
        0.004248, 0.0052612, 0.00471053, 0.00219359, 0.00137107,
    ),
    # Dense Sargassum
    2: (
        0.00190512, 0.00164187, 0.00207093, 0.0022023, 0.0042614, 0.0058832,
        0.00738913, 0.00704153, 0.00856095, 0.00120164, 0.000795433,
    ),
    # Sparse Sargassum
    3: (
        0.00218035, 0.00114501, 0.00226066, 0.00196896, 0.00477614, 0.00587384,
        0.00566101, 0.00595179, 0.0053003, 0.000694545, 0.000393397,
    ),
    # Natural Organic Material
    4: (
        0.00190977, 0.00310544, 0.00455909, 0.00585611, 0.00680903, 0.00611146,
        0.00616025, 0.00944333, 0.00869551, 0.0039262, 0.00180582,
    ),
    # Ship
    5: (
        0.005585, 0.0119669, 0.0110702, 0.0156785, 0.0136199, 0.0135084,
        0.0156667, 0.0152728, 0.0151726, 0.0107086, 0.00642873,
    ),
    # Clouds
    6: (
        0.0138687, 0.0108973, 0.00912405, 0.011675, 0.0130058, 0.0123786,
        0.0117973, 0.0116334, 0.0116927, 0.0101926, 0.00990945,
    ),
    # Marine Water
    7: (
        0.00311285, 0.00277852, 0.00349849, 0.00234852, 0.00176446, 0.00184843,
        0.00186861, 0.00160349, 0.00186639, 0.0014651, 0.00109955,
    ),
    # Sediment-Laden Water
    8: (
        0.00208244, 0.00174405, 0.0023113, 0.00450943, 0.00616968, 0.0101167,
        0.011386, 0.00996652, 0.010174, 0.00160688, 0.00129598,
    ),
    # Foam
    9: (
        0.00895497, 0.0181842, 0.015005, 0.0166861, 0.0105955, 0.0094668,
        0.0132382, 0.0133579, 0.0115136, 0.00367993, 0.00150064,
    ),
    # Turbid Water
    10: (
        0.00250942, 0.00251662, 0.00334393, 0.00201137, 0.00110326, 0.00142518,
        0.0016271, 0.00119824, 0.00122012, 0.00188446, 0.0011061,
    ),
    # Shallow Water
    11: (
        0.00993897, 0.00930219, 0.00674278, 0.00444843, 0.00291854, 0.00178051,
        0.00214217, 0.00214277, 0.00214665, 0.00188164, 0.00220025,
    ),
    # Waves
    12: (
        0.00727234, 0.00334351, 0.0027483, 0.00308795, 0.00207811, 0.00220386,
        0.00257901, 0.00243814, 0.00233857, 0.00179877, 0.00130051,
    ),
    # Cloud Shadows
    13: (
        0.00195741, 0.00378396, 0.00252926, 0.00158737, 0.00128443, 0.00144773,
        0.00157374, 0.00146, 0.00169177, 0.00075286, 0.00060028,
    ),
    # Wakes
    14: (
        0.00259341, 0.00293522, 0.0025198, 0.00324715, 0.00467721, 0.00579033,
        0.00624231, 0.0046016, 0.00603302, 0.00460445, 0.0030057,
    ),
    # Mixed Water
    15: (
        0.004969, 0.00367913, 0.00243491, 0.0021092, 0.00244783, 0.00249201,
        0.00221399, 0.00193655, 0.00292832, 0.00178113, 0.00139967,
    ),
}

_P60_ABOVE: dict[int, tuple[float, ...]] = {
    # Marine Debris
    1: (
        0.0044862, 0.00548039, 0.00587121, 0.00617007, 0.00482743, 0.00538448,
        0.00566349, 0.00717167, 0.0063084, 0.00254334, 0.00130787,
    ),
    # Dense Sargassum
    2: (
        0.00342923, 0.00222825, 0.00290503, 0.00185475, 0.00500973, 0.00670751,
        0.00790223, 0.00632718, 0.00954214, 0.00161718, 0.00130515,
    ),
    # Sparse Sargassum
    3: (
        0.00338576, 0.00101621, 0.00240925, 0.00237783, 0.00565682, 0.0065284,
        0.00814693, 0.00699854, 0.00759959, 0.000792306, 0.000700288,
    ),
    # Natural Organic Material
    4: (
        0.0015653, 0.00367076, 0.00402852, 0.00662969, 0.00608312, 0.00859392,
        0.00945123, 0.0113549, 0.0133764, 0.00478894, 0.00307516,
    ),
    # Ship
    5: (
        0.00395161, 0.0151752, 0.0143682, 0.0183391, 0.0159561, 0.016937,
        0.0162437, 0.0180481, 0.0162687, 0.0123178, 0.0074252,
    ),
    # Clouds
    6: (
        0.0172793, 0.0200436, 0.0205624, 0.0192019, 0.0171839, 0.0186995,
        0.0213717, 0.0192923, 0.0227563, 0.025168, 0.0201208,
    ),
    # Marine Water
    7: (
        0.00321166, 0.00443611, 0.00478385, 0.00378675, 0.00305217, 0.00297304,
        0.00318932, 0.00252039, 0.0030037, 0.00206327, 0.00149641,
    ),
    # Sediment-Laden Water
    8: (
        0.00425624, 0.00200934, 0.00200532, 0.00414115, 0.00509332, 0.00930198,
        0.010963, 0.00983216, 0.0116726, 0.00210307, 0.00160066,
    ),
    # Foam
    9: (
        0.00545286, 0.022553, 0.0212534, 0.0192373, 0.0115666, 0.0114514,
        0.0106318, 0.017355, 0.0121827, 0.00332831, 0.00294125,
    ),
    # Turbid Water
    10: (
        0.00620862, 0.00180041, 0.00438663, 0.00388869, 0.00183965, 0.00149269,
        0.00131376, 0.00106621, 0.00162683, 0.000956951, 0.000801154,
    ),
    # Shallow Water
    11: (
        0.00222208, 0.00455796, 0.00635717, 0.0121764, 0.0123003, 0.0107236,
        0.011356, 0.00948386, 0.0101017, 0.00845417, 0.00531426,
    ),
    # Waves
    12: (
        0.0016544, 0.00398137, 0.00331146, 0.00333219, 0.00298318, 0.00326279,
        0.00307729, 0.00336851, 0.00290424, 0.00300984, 0.00179815,
    ),
    # Cloud Shadows
    13: (
        0.00666561, 0.0072894, 0.00739173, 0.00537992, 0.00390048, 0.00322783,
        0.00286362, 0.00246852, 0.00216258, 0.00146605, 0.00150326,
    ),
    # Wakes
    14: (
        0.00121367, 0.00362121, 0.00296655, 0.00345983, 0.00306167, 0.00416521,
        0.00438199, 0.00357128, 0.0054351, 0.00680882, 0.00550217,
    ),
    # Mixed Water
    15: (
        0.00343986, 0.00329289, 0.00258559, 0.00263181, 0.0029428, 0.00379905,
        0.00467161, 0.0027437, 0.00496256, 0.00175159, 0.00120049,
    ),
}
# fmt: on


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

_MIN_REFLECTANCE = 1e-4


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
        table = _MEDIAN
    elif statistic == "mean":
        table = _MEAN
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
    below = np.asarray(_P40_BELOW[class_id], dtype=np.float32) / np.float32(P60_Z)
    above = np.asarray(_P60_ABOVE[class_id], dtype=np.float32) / np.float32(P60_Z)
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
    return np.maximum(out, np.float32(_MIN_REFLECTANCE)).astype(np.float32, copy=False)


if len(BANDS) != len(SIGNATURE_BAND_NM):  # pragma: no cover - guards an edit of either table
    raise RuntimeError("MARIDA signature bands and oceanscan.sentinel2.BANDS disagree")


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
    return np.maximum(water + (spectra - water) / np.float32(abundance), np.float32(1e-4))
