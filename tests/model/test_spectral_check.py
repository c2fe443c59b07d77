"""The spectral check behind a bundle: fitted on real training pixels, stored as plain numbers in
``model.json``, applied to candidate detections only, and refusing a malformed entry by name."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from oceanscan.cli import main
from oceanscan.errors import BundleError
from oceanscan.model import default_bundle_dir, load_bundle
from oceanscan.model.spectral_check import (
    DILUTED_COPIES,
    DILUTION_20M,
    DILUTION_60M,
    SpectralCheck,
    diluted_copies,
    fit_spectral_check,
    spectral_features,
)
from oceanscan.realsea.duarte import PLASTIC, WATER, load_duarte_pixels
from oceanscan.realsea.scenes import load_scene
from oceanscan.sentinel2 import BAND_INFO, BANDS
from tests.helpers.shared import real_dir, shared_path

PUMICE, FOAM = 5, 7


def _clear_water() -> np.ndarray:
    """A 64 px window of the Manila open sea that is clear water throughout."""
    scene = load_scene("manila_open_sea", real_dir())
    window = np.s_[262:326, 123:187]
    assert scene.water[window].all()
    return np.nan_to_num(scene.reflectance[(slice(None), *window)]).copy()


@pytest.fixture(scope="module")
def pixels():
    return load_duarte_pixels(shared_path("real", "duarte2023_train_pixels.csv"))


@pytest.fixture(scope="module")
def check(pixels):
    return fit_spectral_check(pixels)


def test_features_are_contrast_and_shape():
    water = np.full(11, 0.02, np.float32)
    pixel = water + np.linspace(0.0, 0.01, 11, dtype=np.float32)
    features = spectral_features(pixel[None], water)
    assert features.shape == (1, 22)
    np.testing.assert_allclose(features[0, :11], pixel - water, atol=1e-7)
    nir = (pixel - water)[BANDS.index("B08")]
    np.testing.assert_allclose(features[0, 11:], (pixel - water) / (nir + 0.005), rtol=1e-5)


def test_diluted_copies_thin_the_coarse_bands_only():
    """A thin feature keeps its 10 m contrast; its 20 m and 60 m contrast is scaled down."""
    water = np.full(11, 0.02)
    pixels = water + np.linspace(0.01, 0.03, 11)[None] * np.array([[1.0], [2.0], [0.5]])
    out = diluted_copies(pixels, water, 4)
    assert out.shape == (15, 11)
    np.testing.assert_array_equal(out[:3], pixels)  # the pixels as they are come first
    resolution = np.array([b.resolution_m for b in BAND_INFO])
    ratio = (out[3:] - water) / np.tile(pixels - water, (4, 1))
    np.testing.assert_allclose(ratio[:, resolution == 10], 1.0)
    for res, (low, high) in ((20, DILUTION_20M), (60, DILUTION_60M)):
        r = ratio[:, resolution == res]
        assert (r >= low).all() and (r <= high).all()
        np.testing.assert_allclose(r, r[:, :1].repeat(r.shape[1], axis=1))  # one factor a pixel
    assert ratio[:, resolution == 20].std() > 0.05  # drawn, not fixed
    np.testing.assert_array_equal(diluted_copies(pixels, water, 4), out)  # fixed seed


def test_check_fitted_on_training_pixels_ranks_held_out_plastic_above_pumice_and_foam(
    pixels, check
):
    train, test = pixels.select(split="train"), pixels.select(split="test")
    water = np.median(train.select(label=WATER).reflectance, axis=0)

    def plastic_probability(label: int) -> np.ndarray:
        features = spectral_features(test.select(label=label).reflectance, water)
        return check.plastic_probability(features)

    plastic = plastic_probability(PLASTIC)
    for label in (PUMICE, FOAM):
        other = plastic_probability(label)
        auc = (plastic[:, None] > other[None, :]).mean()
        assert auc > 0.85  # measured 0.917 (pumice) and 0.907 (foam)
    assert "80 plastic" in check.source
    assert f"{DILUTED_COPIES} copies diluted" in check.source


def test_check_round_trips_through_model_json_and_refuses_a_malformed_entry(check):
    assert SpectralCheck.from_meta(json.loads(json.dumps(check.to_meta()))) == check
    broken = {**check.to_meta(), "coef": check.to_meta()["coef"][:5]}
    with pytest.raises(ValueError, match=r"spectral_check\.coef"):
        SpectralCheck.from_meta(broken)
    with pytest.raises(ValueError, match="intercept"):
        SpectralCheck.from_meta({k: v for k, v in check.to_meta().items() if k != "intercept"})


def test_check_damps_a_pumice_blob_and_leaves_plastic_and_non_candidates(pixels, check):
    """Blobs of the held-out median pumice and plastic spectra in real Manila water."""
    image = _clear_water()
    test = pixels.select(split="test")
    image[:, 10:13, 10:13] = np.median(test.select(label=PUMICE).reflectance, 0)[:, None, None]
    image[:, 40:43, 40:43] = np.median(test.select(label=PLASTIC).reflectance, 0)[:, None, None]
    probability = np.full((1, 64, 64), 0.3, np.float32)
    probability[0, 10:13, 10:13] = probability[0, 40:43, 40:43] = 0.9
    out = check.apply(probability, image[None])
    assert float(out[0, 11, 11]) < 0.45  # pumice: damped by half at least
    assert float(out[0, 41, 41]) == pytest.approx(0.9)  # plastic kept
    untouched = np.ones((64, 64), bool)
    untouched[10:13, 10:13] = untouched[40:43, 40:43] = False
    assert np.array_equal(out[0][untouched], probability[0][untouched])


def test_cli_writes_the_check_into_a_bundle_that_applies_it(tmp_path, pixels):
    out = tmp_path / "checked"
    source = tmp_path / "plain"
    shutil.copytree(default_bundle_dir(), source)
    meta = json.loads((source / "model.json").read_text())
    meta.pop("spectral_check", None)
    (source / "model.json").write_text(json.dumps(meta))
    code = main(
        [
            "spectral-check",
            "--model",
            str(source),
            "--out",
            str(out),
            "--pixels",
            str(shared_path("real", "duarte2023_train_pixels.csv")),
        ]
    )
    assert code == 0
    plain, checked = load_bundle(source), load_bundle(out)
    assert plain.spectral_check is None and checked.spectral_check is not None
    assert checked.sha256 == plain.sha256 and checked.threshold == plain.threshold
    image = _clear_water()
    image[:, 20:23, 20:23] = np.median(pixels.select(split="test", label=PUMICE).reflectance, 0)[
        :, None, None
    ]
    unchecked = dataclasses.replace(checked, spectral_check=None).predict_proba(image[None])
    np.testing.assert_array_equal(unchecked, plain.predict_proba(image[None]))
    np.testing.assert_array_equal(
        checked.predict_proba(image[None]),
        checked.spectral_check.apply(unchecked, image[None]),
    )

    meta = json.loads((out / "model.json").read_text())
    meta["spectral_check"]["scale"][0] = -1.0
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"spectral_check\.scale"):
        load_bundle(out)
