"""Test-time augmentation: view sets, and bundles that record the one their threshold was tuned with."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from oceanscan.errors import BundleError
from oceanscan.model import TTA_VIEWS, AttentionUNet, average_views, load_bundle, save_bundle

ARCH = {"in_channels": 11, "num_classes": 2, "base_width": 4, "dropout": 0.2, "attention_heads": 4}


@pytest.fixture
def model() -> AttentionUNet:
    torch.manual_seed(1)
    return AttentionUNet(**ARCH).eval()


def _reflectance(h: int = 32, w: int = 32) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.uniform(0.0, 0.15, size=(2, 11, h, w)).astype(np.float32)


def _corner_detector(batch: np.ndarray) -> np.ndarray:
    """A predictor that is not orientation-invariant: it marks the top-left pixel only."""
    out = np.zeros((batch.shape[0], *batch.shape[-2:]), dtype=np.float32)
    out[:, 0, 0] = 1.0
    return out


def test_views_are_mapped_back_to_the_input_frame():
    batch = np.zeros((1, 1, 4, 4), dtype=np.float32)
    # Each of the 8 dihedral views puts the top-left pixel of the view on a different corner.
    mean = average_views(_corner_detector, batch, "dihedral")[0]
    assert mean[0, 0] == mean[0, -1] == mean[-1, 0] == mean[-1, -1] == pytest.approx(0.25)
    assert mean.sum() == pytest.approx(1.0)
    half = average_views(_corner_detector, batch, "rot180")[0]
    assert half[0, 0] == half[-1, -1] == pytest.approx(0.5)
    assert half.sum() == pytest.approx(1.0)


def test_an_orientation_invariant_predictor_is_unchanged():
    batch = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)

    def mean_of_bands(x: np.ndarray) -> np.ndarray:
        return x.mean(axis=1)

    for views in TTA_VIEWS:
        np.testing.assert_allclose(
            average_views(mean_of_bands, batch, views), mean_of_bands(batch), atol=1e-6
        )


def test_rot180_fits_rectangles_and_dihedral_refuses_them():
    batch = np.zeros((1, 1, 4, 6), dtype=np.float32)
    assert average_views(_corner_detector, batch, "rot180").shape == (1, 4, 6)
    with pytest.raises(ValueError, match="square"):
        average_views(_corner_detector, batch, "dihedral")
    with pytest.raises(ValueError, match="unknown test-time augmentation 'spin'"):
        average_views(_corner_detector, batch, "spin")


def test_a_bundle_applies_the_views_its_threshold_was_tuned_with(tmp_path, model):
    plain = load_bundle(save_bundle(tmp_path / "a", model, class_mapping="binary", threshold=0.4))
    tuned = load_bundle(
        save_bundle(
            tmp_path / "b",
            model,
            class_mapping="binary",
            threshold=0.4,
            inference={"tta": "rot180"},
        )
    )
    assert plain.tta == "none" and tuned.tta == "rot180"
    assert json.loads((tmp_path / "b" / "model.json").read_text())["inference"] == {"tta": "rot180"}
    assert tuned.sha256 == plain.sha256  # the same weights, run differently
    x = _reflectance()
    single = plain.predict_proba(x)
    by_hand = (single + plain.predict_proba(x[..., ::-1, ::-1].copy())[..., ::-1, ::-1]) / 2
    np.testing.assert_allclose(tuned.predict_proba(x), by_hand, atol=1e-6)
    np.testing.assert_array_equal(tuned.predict_proba(x, tta="none"), single)
    np.testing.assert_allclose(plain.predict_proba(x, tta="rot180"), by_hand, atol=1e-6)


def test_bundles_without_an_inference_field_run_one_view(tmp_path, model):
    out = save_bundle(tmp_path / "old", model, class_mapping="binary", threshold=0.4)
    meta = json.loads((out / "model.json").read_text())
    del meta["inference"]  # as written before test-time augmentation was recorded
    (out / "model.json").write_text(json.dumps(meta))
    assert load_bundle(out).tta == "none"


def test_an_unknown_view_set_is_refused_on_save_and_on_load(tmp_path, model):
    with pytest.raises(ValueError, match="unknown test-time augmentation 'spin'"):
        save_bundle(
            tmp_path / "x", model, class_mapping="binary", threshold=0.4, inference={"tta": "spin"}
        )
    assert not (tmp_path / "x").exists()
    out = save_bundle(tmp_path / "y", model, class_mapping="binary", threshold=0.4)
    meta = json.loads((out / "model.json").read_text())
    meta["inference"] = {"tta": "spin"}
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="spin"):
        load_bundle(out)
    meta["inference"] = {"tta": "none", "views": 3}
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="unknown keys"):
        load_bundle(out)
