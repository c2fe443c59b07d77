from __future__ import annotations

import numpy as np
import pytest
import rasterio

from oceanscan.realsea.scenes import (
    ENCLOSED_MAX_AREA_M2,
    FILE_BANDS,
    SCENE_NAMES,
    _enclosed_blobs,
    load_scene,
    load_scenes,
)
from oceanscan.sentinel2 import BANDS, SCL
from tests.helpers.shared import real_dir


@pytest.fixture(scope="module")
def scenes():
    return load_scenes(real_dir())


@pytest.mark.parametrize(
    ("name", "epsg", "size", "water_min", "water_max"),
    [
        ("durban", 32736, 500, 0.40, 0.50),
        ("manila_open_sea", 32651, 500, 0.94, 0.95),
        ("manila_port", 32651, 480, 0.30, 0.40),
        ("mariveles", 32651, 480, 0.55, 0.65),
    ],
)
def test_scene_shape_crs_and_water_fraction(scenes, name, epsg, size, water_min, water_max):
    scene = scenes[name]
    assert scene.reflectance.shape == (len(BANDS), size, size)
    assert scene.reflectance.dtype == np.float32
    assert scene.water.shape == (size, size) and scene.water.dtype == bool
    assert scene.crs.to_epsg() == epsg
    assert scene.transform.a == 10.0 and scene.transform.e == -10.0
    assert scene.pixel_area_m2 == 100.0
    assert water_min < scene.water.mean() < water_max
    assert np.isfinite(scene.reflectance[:, scene.water]).all()
    assert scene.water_rule


def test_reflectance_drops_b09_and_scales_dn(scenes):
    scene = scenes["mariveles"]
    with rasterio.open(scene.path) as src:
        dn = src.read(window=((200, 202), (100, 103)))
    for i, band in enumerate(BANDS):
        expected = dn[FILE_BANDS.index(band)].astype(np.float32) / 10000
        np.testing.assert_allclose(scene.reflectance[i, 200:202, 100:103], expected, rtol=1e-6)
    # B09 is 0 (no data) over half of this file and is dropped; elsewhere DN 0 becomes NaN
    with rasterio.open(scene.path) as src:
        model_dn = src.read([FILE_BANDS.index(b) + 1 for b in BANDS])
    np.testing.assert_array_equal(np.isnan(scene.reflectance), model_dn == 0)


def test_durban_nodata_rows_are_nan_and_not_water(scenes):
    scene = scenes["durban"]
    assert np.isnan(scene.reflectance[:, -1]).all()
    assert not scene.water[-30:].any()  # the no-data rows and a 100 m buffer above them
    assert not scene.water[:300, :200].any()  # land and cloud
    assert scene.water[:, 400:].mean() > 0.85  # open sea


def test_manila_open_sea_water_is_band_13_zero(scenes):
    scene = scenes["manila_open_sea"]
    with rasterio.open(scene.path) as src:
        not_water = src.read(13)
    np.testing.assert_array_equal(scene.water, not_water == 0)


@pytest.mark.parametrize("name", ["manila_port", "mariveles"])
def test_scl_water_counts_small_enclosed_blobs(scenes, name):
    scene = scenes[name]
    valid = np.isfinite(scene.reflectance).all(axis=0)
    scl_water = (scene.scl == int(SCL.WATER)) & valid
    assert (scene.water >= scl_water).all()
    assert not scene.water[~valid].any()
    added = scene.water & (scene.scl != int(SCL.WATER))
    assert added.any(), "ships inside the water must be counted"
    from scipy import ndimage

    labels, _ = ndimage.label(added, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel())[1:]
    assert sizes.max() <= ENCLOSED_MAX_AREA_M2 / scene.pixel_area_m2
    # every added blob is surrounded by SCL water
    ring = ndimage.binary_dilation(added, structure=np.ones((3, 3), bool)) & ~added
    assert ((scene.scl == int(SCL.WATER)) | ~valid)[ring].all()


def test_enclosed_blobs_rule():
    water = np.ones((12, 12), bool)
    water[3:5, 3:5] = False  # small hole: enclosed
    water[0:2, 8:10] = False  # touches the border: not enclosed
    water[7:11, 2:10] = False  # 32 px hole, too large for max_px=10
    blobs = _enclosed_blobs(water, max_px=10)
    expected = np.zeros_like(water)
    expected[3:5, 3:5] = True
    np.testing.assert_array_equal(blobs, expected)


def test_load_scene_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown real scene 'atlantis'"):
        load_scene("atlantis", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"durban_20190424_l2a\.tif"):
        load_scene("durban", tmp_path)
    assert SCENE_NAMES == ("durban", "manila_open_sea", "manila_port", "mariveles")
