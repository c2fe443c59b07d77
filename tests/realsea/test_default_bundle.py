"""The shipped default bundle on the real scenes: what it does today cannot get worse unnoticed.

A regression of the shipped model (a retrain with a worse recipe, a changed input transform)
cannot land. What the bundle meets is held to the real-sea goals of docs/model.md: Durban's recall
of the traced filaments (0.66, a flag within 1 px of a traced pixel finding it; goal 0.6) and the
rest of its water (0.047 % flagged; goal 0.05 %), the Manila-area scenes, plastic against every
look-alike and the share of pumice flagged. What it does not meet is held to bounds just past
the measured figures (the pixel-exact Durban recall 0.385, 12.5 % of held-out foam flagged
against the goal's 10 %); tighten them with every better model. The Durban and Duarte figures come
out the same on one torch thread and on two.
"""

from __future__ import annotations

import math

import pytest

from oceanscan.model import default_bundle_dir, load_bundle
from oceanscan.realsea.atmospheres import measure_atmospheres
from oceanscan.realsea.duarte import load_duarte_pixels
from oceanscan.realsea.filaments import load_filaments, rasterize_filaments
from oceanscan.realsea.lookalikes import DUARTE_BACKGROUNDS, measure_duarte
from oceanscan.realsea.measure import measure_durban, measure_false_alarms
from oceanscan.realsea.scenes import load_scene
from tests.helpers.shared import real_dir

#: Measured for the shipped bundle: recall 0.655 within 1 px, 0.385 pixel by pixel, other water
#: flagged 0.00047 (goals: matched recall >= 0.6, other water <= 0.0005).
DURBAN_MATCHED_RECALL_GOAL = 0.6
DURBAN_RECALL_FLOOR = 0.35
DURBAN_OTHER_WATER_GOAL = 0.0005

#: FDI figures are not judged here (benchmarks/real_sea.py tunes FDI on synthetic data).
_NO_FDI = math.inf


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(default_bundle_dir())


def test_default_bundle_finds_the_durban_filaments_and_little_else(bundle):
    durban = load_scene("durban", real_dir())
    traced = rasterize_filaments(
        load_filaments(), shape=durban.shape, transform=durban.transform, crs=durban.crs
    )
    model = measure_durban(bundle, durban, traced, _NO_FDI)["model"]
    assert model["matched_recall"] >= DURBAN_MATCHED_RECALL_GOAL
    assert model["recall"] >= DURBAN_RECALL_FLOOR
    assert model["other_water"]["flagged_fraction"] <= DURBAN_OTHER_WATER_GOAL


def test_default_bundle_keeps_quiet_on_the_manila_open_sea(bundle):
    model = measure_false_alarms(bundle, load_scene("manila_open_sea", real_dir()), _NO_FDI)
    model = model["model"]
    assert model["flagged_fraction"] <= 0.0001
    assert model["detections_per_km2"] <= 0.3


@pytest.mark.parametrize("name", ["manila_port", "mariveles"])
def test_default_bundle_keeps_quiet_in_the_harbours(bundle, name):
    model = measure_false_alarms(bundle, load_scene(name, real_dir()), _NO_FDI)["model"]
    assert model["flagged_fraction"] <= 0.0005


def test_default_bundle_stays_quiet_through_other_atmospheres(bundle):
    """The same water through haze, a haze front, thin cirrus, other gains and noise: measured
    at most 0.0021 % of the Manila open sea (0.17 per km2), 0.024 % of Manila port and 0.039 % of
    Mariveles; the goals hold for every atmosphere, not only for the day each scene was taken."""
    scenes = {n: load_scene(n, real_dir()) for n in ("manila_open_sea", "manila_port", "mariveles")}
    worst = measure_atmospheres(bundle, scenes, _NO_FDI)["worst"]
    assert worst["manila_open_sea"]["model"]["flagged_fraction"] <= 0.0001
    assert worst["manila_open_sea"]["model"]["detections_per_km2"] <= 0.3
    assert worst["manila_port"]["model"]["flagged_fraction"] <= 0.0005
    assert worst["mariveles"]["model"]["flagged_fraction"] <= 0.0005


def test_default_bundle_checks_its_detections_against_the_lookalikes(bundle):
    """Held-out Duarte pixels in real water: measured 76 % of plastic flagged, 8.5 % of pumice and
    12.5 % of foam (31 % and 22 % without the bundle's spectral check), and plastic ranked above
    every look-alike at ROC AUC 0.86 or more (foam the lowest, 0.862; goal 0.85)."""
    assert bundle.spectral_check is not None
    pixels = load_duarte_pixels(real_dir() / "duarte2023_train_pixels.csv")
    backgrounds = {name: load_scene(name, real_dir()) for name in DUARTE_BACKGROUNDS}
    model = measure_duarte(bundle, pixels, backgrounds, _NO_FDI)["model"]
    flagged = model["flagged_fraction"]
    assert flagged["plastic"] >= 0.65
    assert flagged["pumice"] <= 0.1
    assert flagged["sea_foam"] <= 0.15
    lookalikes = {k: v for k, v in model["auc_plastic_vs"].items() if k != "water"}
    assert min(lookalikes.values()) >= 0.85, lookalikes
