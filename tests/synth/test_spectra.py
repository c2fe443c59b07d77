import json

import numpy as np
import pytest

from oceanscan.classes import MARIDA_CLASSES
from oceanscan.sentinel2 import BANDS, fdi, ndvi
from oceanscan.synth import spectra
from tests.helpers.shared import shared_path


@pytest.fixture(scope="module")
def signatures():
    path = shared_path("reference", "marida_class_signatures.json")
    return json.loads(path.read_text())["signatures"]


def test_embedded_tables_equal_published_json(signatures):
    for cid, name in MARIDA_CLASSES.items():
        mean = signatures["mean"][name]
        med = signatures["median_p40_p60"][name]
        assert tuple(int(b) for b in med["band_nm"]) == spectra.SIGNATURE_BAND_NM
        np.testing.assert_allclose(
            spectra.class_spectrum(cid, "mean"), mean["reflectance"], rtol=1e-5
        )
        np.testing.assert_allclose(spectra.class_spectrum(cid), med["reflectance"], rtol=1e-5)
        below, above = spectra.split_normal_sigma(cid)
        np.testing.assert_allclose(below * spectra.P60_Z, med["err_minus"], rtol=1e-5)
        np.testing.assert_allclose(above * spectra.P60_Z, med["err_plus"], rtol=1e-5)


def test_perturbed_spectra_hit_published_percentiles(signatures):
    med = signatures["median_p40_p60"]["Marine Debris"]
    out = spectra.perturbed_spectra(1, np.array([0.0, 1.0, -1.0]), scale=spectra.P60_Z)
    assert out.shape == (len(BANDS), 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], med["reflectance"], rtol=1e-5)
    np.testing.assert_allclose(out[:, 1], np.add(med["reflectance"], med["err_plus"]), rtol=1e-5)
    np.testing.assert_allclose(
        out[:, 2], np.subtract(med["reflectance"], med["err_minus"]), rtol=1e-5
    )


def test_perturbed_spectra_keep_the_shape_of_z_and_stay_positive():
    z = np.random.default_rng(0).normal(0, 3, (4, 5))
    out = spectra.perturbed_spectra(7, z)
    assert out.shape == (11, 4, 5)
    assert (out > 0).all()
    # a normal sample of z gives the split normal: about 40 % below the 40th percentile is wrong,
    # 50 % below the median is right
    big = spectra.perturbed_spectra(7, np.random.default_rng(1).standard_normal(20000))
    frac_below = (big < spectra.class_spectrum(7)[:, None]).mean(axis=1)
    np.testing.assert_allclose(frac_below, 0.5, atol=0.02)


def test_invalid_inputs_name_the_allowed_values():
    with pytest.raises(ValueError, match="class id 0"):
        spectra.class_spectrum(0)
    with pytest.raises(ValueError, match="statistic"):
        spectra.class_spectrum(1, "mode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale"):
        spectra.perturbed_spectra(1, [0.0], scale=-1)


def test_sensor_noise_is_of_the_order_of_msi_noise():
    assert spectra.SENSOR_NOISE.shape == (11,)
    assert (spectra.SENSOR_NOISE > 2e-4).all() and (spectra.SENSOR_NOISE < 3e-3).all()


def test_published_spectra_order_fdi_and_ndvi_as_physics_says():
    spec = {c: spectra.class_spectrum(c)[:, None] for c in MARIDA_CLASSES}
    f = {c: float(fdi(s)[0]) for c, s in spec.items()}
    n = {c: float(ndvi(s)[0]) for c, s in spec.items()}
    # floating material rises above the water's NIR baseline; foam and sediment more than debris
    assert f[7] < f[1] < f[9] < f[8] and f[1] < f[2]
    # vegetation (Sargassum) has the red edge, foam is white, water absorbs NIR
    assert n[2] > n[3] > n[1] > n[9] and n[1] > n[7]


def test_land_spectra_have_their_characteristic_shape():
    veg, soil = spectra.LAND_SPECTRA["vegetation"], spectra.LAND_SPECTRA["soil"]
    b = BANDS.index
    assert veg[b("B08")] > 3 * veg[b("B04")]  # red edge
    assert soil[b("B11")] > soil[b("B04")] > soil[b("B02")]  # soil brightens towards the SWIR
