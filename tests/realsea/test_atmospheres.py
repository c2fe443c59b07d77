"""Real water through other atmospheres: each change is the physics it names, and it is counted."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oceanscan.model import load_bundle
from oceanscan.realsea.atmospheres import ATMOSPHERES, Atmosphere, measure_atmospheres
from oceanscan.realsea.flags import flag_stats
from oceanscan.realsea.scenes import load_scene
from oceanscan.sentinel2 import BAND_INFO, fdi
from tests.helpers.bundles import constant_bundle
from tests.helpers.shared import real_dir

WAVELENGTH = np.array([b.wavelength_nm for b in BAND_INFO], dtype=np.float64)
NATIVE = [b.resolution_m // 10 for b in BAND_INFO]


@pytest.fixture(scope="module")
def water():
    """A flat 60 x 60 patch of clear water with one nodata pixel."""
    image = np.full((len(BAND_INFO), 60, 60), 0.02, dtype=np.float32)
    image[:, 0, 0] = np.nan
    return image


def test_haze_adds_the_angstrom_spectrum_everywhere(water):
    out = Atmosphere("h", haze=0.05, alpha=1.0).apply(water)
    added = out[:, 30, 30] - water[:, 30, 30]
    np.testing.assert_allclose(added, 0.05 * (WAVELENGTH / 490.0) ** -1.0, rtol=1e-5)
    assert np.isnan(out[:, 0, 0]).all()
    np.testing.assert_allclose(out[:, 1:, 1:], out[:, 30:31, 30:31].repeat(59, 1).repeat(59, 2))


def test_haze_front_covers_one_side_and_rises_over_front_px(water):
    out = Atmosphere("f", haze=0.05, alpha=1.0, front_px=20.0).apply(water)
    cover = (out[1] - water[1]) / (0.05 * (WAVELENGTH[1] / 490.0) ** -1.0)
    assert cover[59, 0] > 0.99 and cover[0, 59] < 0.01  # below / above the main diagonal
    assert cover[30, 30] == pytest.approx(0.5, abs=1e-4)
    # along the normal of the diagonal, 12 % to 88 % over front_px pixels
    step = 20.0 / math.sqrt(2) / 2  # half of front_px, in rows and columns each
    lo, hi = cover[round(30 - step), round(30 + step)], cover[round(30 + step), round(30 - step)]
    assert lo == pytest.approx(0.12, abs=0.03) and hi == pytest.approx(0.88, abs=0.03)


def test_thin_cirrus_is_flat_textured_and_spans_its_amplitude(water):
    out = Atmosphere("c", haze=0.03, alpha=0.0, texture_px=10.0).apply(water)
    added = out[:, 1:, 1:] - water[:, 1:, 1:]
    np.testing.assert_allclose(added, added[:1].repeat(len(BAND_INFO), 0), atol=1e-7)  # flat
    assert added.min() == pytest.approx(0.0, abs=2e-3) and added.max() == pytest.approx(
        0.03, abs=2e-3
    )
    # smooth: neighbours differ by a small part of the range, yet the field varies
    assert np.abs(np.diff(added[0], axis=1)).max() < 0.003
    assert added[0].std() > 0.003


def test_gain_scales_every_band(water):
    out = Atmosphere("g", gain=1.25).apply(water)
    np.testing.assert_allclose(out[:, 5, 5], 0.025, rtol=1e-6)


def test_noise_has_its_std_at_each_band_native_resolution_and_repeats(water):
    a = Atmosphere("n", noise=0.003)
    out = a.apply(water)
    np.testing.assert_array_equal(out[:, 1:, 1:], a.apply(water)[:, 1:, 1:])
    noise = out[:, 6:, 6:] - 0.02  # whole 6 x 6 blocks, no nodata
    for b, factor in enumerate(NATIVE):
        blocks = noise[b, ::factor, ::factor]
        assert blocks.std() == pytest.approx(0.003, rel=0.25), BAND_INFO[b].name
        # one draw per native pixel: constant within each block
        np.testing.assert_array_equal(noise[b, :factor, :factor], noise[b, 0, 0])
    assert not np.allclose(noise[0], noise[1])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"haze": -0.01},
        {"noise": math.nan},
        {"gain": 0.0},
        {"front_px": -5.0},
        {"texture_px": 0.0},
    ],
)
def test_bad_parameters_are_refused_by_name(kwargs):
    field = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"'bad'.*{field}"):
        Atmosphere("bad", **kwargs)


def test_a_front_and_a_texture_together_are_refused():
    with pytest.raises(ValueError, match=r"'both'.*not both"):
        Atmosphere("both", haze=0.01, front_px=10.0, texture_px=10.0)


def test_every_atmosphere_is_counted_for_model_and_fdi(tmp_path):
    scene = load_scene("manila_open_sea", real_dir())
    flag_all = load_bundle(constant_bundle(tmp_path, 0.7, 0.5))
    chosen = (ATMOSPHERES[0], Atmosphere("as_is"))
    result = measure_atmospheres(flag_all, {"manila_open_sea": scene}, 0.05, chosen)
    assert [a["name"] for a in result["atmospheres"]] == ["haze", "as_is"]
    everything = flag_stats(scene.water, scene.water, scene.pixel_area_m2)
    for name in ("haze", "as_is"):
        assert result["manila_open_sea"][name]["model"] == everything
    # FDI on the scene as it is, counted as the false-alarm measurement counts it
    as_is = np.nan_to_num(fdi(scene.reflectance), nan=-np.inf) >= 0.05
    assert result["manila_open_sea"]["as_is"]["fdi"] == flag_stats(
        as_is, scene.water, scene.pixel_area_m2
    )
    worst = result["worst"]["manila_open_sea"]["fdi"]["flagged_fraction"]
    assert worst == max(
        result["manila_open_sea"][n]["fdi"]["flagged_fraction"] for n in ("haze", "as_is")
    )
