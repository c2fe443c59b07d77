"""The shipped default bundle meets the real-sea goals on Durban and the Manila open sea."""

from __future__ import annotations

import math

import pytest
from realsea_helpers import real_dir

import oceanscan.model
from oceanscan.model import load_bundle
from oceanscan.realsea.filaments import load_filaments, rasterize_filaments
from oceanscan.realsea.measure import measure_durban, measure_false_alarms
from oceanscan.realsea.scenes import load_scene

if not hasattr(oceanscan.model, "default_bundle_dir"):
    pytest.skip("oceanscan.model.default_bundle_dir does not exist yet", allow_module_level=True)

#: FDI figures are not judged here (benchmarks/real_sea.py tunes FDI on synthetic data).
_NO_FDI = math.inf


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(oceanscan.model.default_bundle_dir())


def test_default_bundle_finds_the_durban_filaments_and_little_else(bundle):
    durban = load_scene("durban", real_dir())
    traced = rasterize_filaments(
        load_filaments(), shape=durban.shape, transform=durban.transform, crs=durban.crs
    )
    model = measure_durban(bundle, durban, traced, _NO_FDI)["model"]
    assert model["recall"] >= 0.6
    assert model["other_water"]["flagged_fraction"] <= 0.0005


def test_default_bundle_keeps_quiet_on_the_manila_open_sea(bundle):
    model = measure_false_alarms(bundle, load_scene("manila_open_sea", real_dir()), _NO_FDI)
    model = model["model"]
    assert model["flagged_fraction"] <= 0.0001
    assert model["detections_per_km2"] <= 0.3
