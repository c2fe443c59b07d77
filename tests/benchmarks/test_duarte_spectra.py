"""benchmarks/duarte_spectra.py: the spectra alone, held out, tell plastic from its look-alikes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.duarte_spectra import spectral_features
from tests.helpers.shared import SHARED, shared_path

PROJECT = Path(__file__).resolve().parents[2]


def test_features_are_contrast_and_shape():
    water = np.full(11, 0.02, np.float32)
    pixel = water + np.linspace(0.0, 0.01, 11, dtype=np.float32)
    features = spectral_features(pixel[None], water)
    assert features.shape == (1, 22)
    np.testing.assert_allclose(features[0, :11], pixel - water, atol=1e-7)
    nir = (pixel - water)[7]  # B08
    np.testing.assert_allclose(features[0, 11:], (pixel - water) / (nir + 0.005), rtol=1e-5)


def test_held_out_separability_is_reported_per_lookalike():
    shared_path("real", "duarte2023_train_pixels.csv")
    out = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "benchmarks" / "duarte_spectra.py"),
            "--shared",
            str(SHARED),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT,
    )
    result = json.loads(out.stdout)
    auc = result["held_out_auc_plastic_vs"]
    assert set(auc) == {"driftwood", "seaweed", "pumice", "sea_snot", "sea_foam"}
    # measured: 1.0, 1.0, 0.978, 0.964, 0.912; a linear classifier separates every one
    assert min(auc.values()) > 0.85
    assert result["held_out_pixels"]["plastic"] == 76
