"""The predictor actor class, called directly (no Ray): shapes, cropping, failed tiles, TTA."""

from __future__ import annotations

import numpy as np
import pytest
from scan_helpers import tiny_bundle  # noqa: F401  (fixture)

from oceanscan.model import load_bundle
from oceanscan.scan.predictor import Predictor, resolve_device


def _batch(n=3, size=48, seed=0):
    rng = np.random.default_rng(seed)
    tiles = (0.02 + 0.1 * rng.random((n, 11, size, size))).astype(np.float32)
    return {
        "reflectance": tiles,
        "error": np.array(["", "tile (0, 1): boom", ""]),
        "scene_key": np.array(["a", "a", "b"]),
    }


def test_predictions_are_cropped_cores_and_failed_tiles_are_nan(tiny_bundle):  # noqa: F811
    predictor = Predictor(str(tiny_bundle), margin=8, tile_size=32, device="cpu")
    batch = _batch()
    tiles = batch["reflectance"].copy()
    out = predictor(batch)
    assert "reflectance" not in out and list(out["scene_key"]) == ["a", "a", "b"]
    prob = out["probability"]
    assert prob.shape == (3, 32, 32) and prob.dtype == np.float32
    assert np.isnan(prob[1]).all() and not np.isnan(prob[[0, 2]]).any()
    direct = load_bundle(tiny_bundle).predict_proba(tiles[[0, 2]])[:, 8:40, 8:40]
    np.testing.assert_allclose(prob[[0, 2]], direct, atol=1e-6)


def test_tta_averages_the_eight_views(tiny_bundle):  # noqa: F811
    plain = Predictor(str(tiny_bundle), margin=8, tile_size=32, device="cpu")
    tta = Predictor(str(tiny_bundle), margin=8, tile_size=32, device="cpu", tta=True)
    tiles = _batch()["reflectance"][:1]
    bundle = load_bundle(tiny_bundle)
    views = [
        np.rot90(
            np.flip(
                bundle.predict_proba(
                    np.ascontiguousarray(
                        np.flip(np.rot90(tiles, k, (-2, -1)), -1)
                        if f
                        else np.rot90(tiles, k, (-2, -1))
                    )
                ),
                -1,
            )
            if f
            else bundle.predict_proba(np.ascontiguousarray(np.rot90(tiles, k, (-2, -1)))),
            -k,
            (-2, -1),
        )
        for f in (False, True)
        for k in range(4)
    ]
    expected = np.mean(views, axis=0)[:, 8:40, 8:40]
    got = tta({"reflectance": tiles.copy(), "error": np.array([""])})["probability"]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, plain({"reflectance": tiles.copy()})["probability"], atol=1e-4)


def test_device_choice():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu")  # type: ignore[arg-type]
