from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from oceanscan.model import load_bundle
from oceanscan.realsea.duarte import CLASS_NAMES, LOOKALIKES, PLASTIC, load_duarte_pixels
from oceanscan.realsea.filaments import load_filaments, rasterize_filaments
from oceanscan.realsea.measure import (
    SyntheticSetup,
    flag_stats,
    measure_duarte,
    measure_durban,
    measure_false_alarms,
    measure_real_sea,
)
from oceanscan.realsea.scenes import load_scene
from oceanscan.sentinel2 import fdi
from tests.helpers.bundles import constant_bundle
from tests.helpers.shared import real_dir

EIGHT = np.ones((3, 3), bool)


@pytest.fixture(scope="module")
def flag_all(tmp_path_factory):
    """Probability 0.7 everywhere, threshold 0.5: every pixel flagged."""
    return load_bundle(constant_bundle(tmp_path_factory.mktemp("all"), 0.7, 0.5))


@pytest.fixture(scope="module")
def flag_none(tmp_path_factory):
    """Probability 0.7 everywhere, threshold 0.9: nothing flagged."""
    return load_bundle(constant_bundle(tmp_path_factory.mktemp("none"), 0.7, 0.9))


@pytest.fixture(scope="module")
def durban():
    return load_scene("durban", real_dir())


@pytest.fixture(scope="module")
def manila():
    return load_scene("manila_open_sea", real_dir())


def test_flag_stats_counts_8_connected_detections_on_water():
    water = np.ones((10, 10), bool)
    water[:, 9] = False
    flagged = np.zeros((10, 10), bool)
    flagged[1, 1] = flagged[2, 2] = True  # diagonal neighbours: one detection
    flagged[6, 6] = True
    flagged[5, 9] = True  # not on water
    stats = flag_stats(flagged, water, pixel_area_m2=100.0)
    assert stats == {
        "water_pixels": 90,
        "flagged_pixels": 3,
        "flagged_fraction": 3 / 90,
        "detections": 2,
        "detections_per_km2": 2 / 0.009,
    }
    stacked = flag_stats(np.stack([flagged, flagged]), np.stack([water, water]))
    assert stacked["detections"] == 4  # counted per image, never across images
    with pytest.raises(ValueError, match="one shape"):
        flag_stats(flagged, water[:5])


def test_durban_figures_when_everything_or_nothing_is_flagged(durban, flag_all, flag_none):
    traced = rasterize_filaments(
        load_filaments(), shape=durban.shape, transform=durban.transform, crs=durban.crs
    )
    other = durban.water & ~ndimage.binary_dilation(traced, EIGHT, iterations=2)
    everything = measure_durban(flag_all, durban, traced, fdi_threshold=-1.0)
    field = ndimage.distance_transform_edt(~traced) <= 30
    assert everything["traced_pixels"] == traced.sum()
    assert everything["other_water_pixels"] == other.sum()
    for side in ("model", "fdi"):
        assert everything[side]["recall"] == everything[side]["matched_recall"] == 1.0
        assert everything[side]["other_water"]["flagged_fraction"] == 1.0
        assert everything[side]["other_water"]["detections"] == ndimage.label(other, EIGHT)[1]
        in_field = everything[side]["other_water"]["flagged_in_filament_field"]
        assert 0 < in_field == (other & field).sum() < other.sum()
    nothing = measure_durban(flag_none, durban, traced, fdi_threshold=math.inf)
    for side in ("model", "fdi"):
        assert nothing[side]["recall"] == nothing[side]["matched_recall"] == 0.0
        assert nothing[side]["other_water"]["flagged_fraction"] == 0.0
        assert nothing[side]["other_water"]["detections_per_km2"] == 0.0
        assert nothing[side]["other_water"]["flagged_in_filament_field"] == 0


def test_recall_at_a_flag_rate_ranks_whatever_the_threshold():
    from oceanscan.realsea.flags import recall_at_flag_rate

    negative = np.zeros(2000, bool)
    negative[:1000] = True
    positive = ~negative
    score = np.concatenate([np.linspace(0.0, 0.5, 1000), np.linspace(0.3, 0.8, 1000)])
    # 0.1 % of the negatives allowed: one flagged, the threshold is the 2nd highest (~0.4995)
    assert recall_at_flag_rate(score, positive, negative, 0.001) == pytest.approx(0.6, abs=0.002)
    assert recall_at_flag_rate(score, positive, negative, 0.0) == pytest.approx(0.6, abs=0.002)
    shifted = np.where(positive, score - 0.3, score)  # ranked below every negative
    assert recall_at_flag_rate(shifted, positive, negative, 0.0005) == 0.0
    with_nan = score.copy()
    with_nan[positive] = np.nan  # never flagged
    assert recall_at_flag_rate(with_nan, positive, negative, 0.5) == 0.0
    with pytest.raises(ValueError, match="rate must be in"):
        recall_at_flag_rate(score, positive, negative, 1.0)
    with pytest.raises(ValueError, match="at least one pixel"):
        recall_at_flag_rate(score, positive, np.zeros(2000, bool), 0.01)


def test_a_flag_beside_a_traced_pixel_finds_it_one_further_does_not():
    from oceanscan.realsea.flags import recall_at_flag_rate, within

    traced = np.zeros((20, 20), bool)
    traced[10, 4:16] = True  # a traced line along row 10
    one_off = np.roll(traced, 1, axis=0)  # flags on row 11
    two_off = np.roll(traced, 2, axis=0)
    assert not (one_off & traced).any()
    assert (within(one_off, 1) & traced).sum() == traced.sum()
    assert not (within(two_off, 1) & traced).any()
    assert (within(two_off, 2) & traced).all(where=traced)
    assert (within(two_off, 0) == two_off).all()
    # the ranking: a score peaking one row off the trace ranks it found within 1 px only
    score = np.where(one_off, 0.9, 0.1)
    negative = ~within(traced, 2)
    assert recall_at_flag_rate(score, traced, negative, 0.0) == 0.0
    assert recall_at_flag_rate(score, traced, negative, 0.0, match_px=1) == 1.0
    with pytest.raises(ValueError, match="match_px"):
        recall_at_flag_rate(score, traced, negative, 0.0, match_px=-1)


def test_durban_ranking_is_reported_for_model_and_fdi(durban, flag_all):
    traced = rasterize_filaments(
        load_filaments(), shape=durban.shape, transform=durban.transform, crs=durban.crs
    )
    result = measure_durban(flag_all, durban, traced, fdi_threshold=0.0)
    ranking = result["recall_at_other_water_flagged"]
    # a constant probability ranks nothing above the water; FDI ranks the filaments high
    assert ranking["model"] == {"0.0005": 0.0, "0.001": 0.0}
    assert 0.0 < ranking["fdi"]["0.0005"] <= ranking["fdi"]["0.001"] <= 1.0
    matched = result["matched_recall_at_other_water_flagged"]
    assert matched["model"] == {"0.0005": 0.0, "0.001": 0.0}
    for rate in ("0.0005", "0.001"):  # a flag beside a traced pixel finds it too
        assert ranking["fdi"][rate] <= matched["fdi"][rate] <= 1.0


def test_false_alarm_figures(manila, flag_all):
    result = measure_false_alarms(flag_all, manila, fdi_threshold=0.02)
    components = ndimage.label(manila.water, EIGHT)[1]
    assert result["model"]["flagged_fraction"] == 1.0
    assert result["model"]["detections_per_km2"] == pytest.approx(
        components / (manila.water.sum() * 100 / 1e6)
    )
    index = fdi(manila.reflectance)
    assert result["fdi"]["flagged_pixels"] == ((index >= 0.02) & manila.water).sum()


def test_duarte_figures_match_the_spectra(manila, flag_all):
    pixels = load_duarte_pixels(real_dir() / "duarte2023_train_pixels.csv")
    result = measure_duarte(flag_all, pixels, {"manila_open_sea": manila}, fdi_threshold=0.05)
    test = pixels.select(split="test")
    assert result["per_background"]["manila_open_sea"]["images"] == 1
    assert result["test_pixels"]["plastic"] == (test.label == PLASTIC).sum()
    assert result["lookalikes_split_by_pixel"] == ["seaweed", "pumice", "sea_snot", "sea_foam"]
    # a constant probability ranks nothing: AUC 0.5, everything flagged
    assert set(result["model"]["auc_plastic_vs"].values()) == {0.5}
    assert set(result["model"]["flagged_fraction"].values()) == {1.0}
    # the implanted blobs carry the spectra exactly: FDI figures equal those of the table
    index = fdi(test.reflectance, axis=1)
    plastic = index[test.label == PLASTIC]
    for c in (*LOOKALIKES, 1):
        other = index[test.label == c]
        y = np.r_[np.ones(plastic.size), np.zeros(other.size)]
        expected = roc_auc_score(y, np.r_[plastic, other])
        assert result["fdi"]["auc_plastic_vs"][CLASS_NAMES[c]] == pytest.approx(expected)
        assert result["fdi"]["flagged_fraction"][CLASS_NAMES[c]] == pytest.approx(
            (other >= 0.05).mean()
        )


def test_measure_real_sea_end_to_end_and_goals(flag_none):
    setup = SyntheticSetup(patches=6, patch_size_px=32, scenes=1, scene_size_px=64)
    result = measure_real_sea(flag_none, real_dir(), synthetic=setup)
    json.dumps(result, allow_nan=False)
    assert set(result) >= {
        "bundle", "fdi_baseline", "durban", "false_alarms", "other_atmospheres", "duarte",
        "synthetic", "goals", "all_goals_met", "seconds",
    }  # fmt: skip
    assert result["other_atmospheres"]["worst"]["manila_port"]["model"]["flagged_fraction"] == 0
    goals = result["goals"]
    # nothing flagged: every false-alarm goal is met, every detection goal missed
    assert goals["durban_recall"]["value"] == goals["durban_recall"]["pixel_exact"] == 0.0
    assert not goals["durban_recall"]["met"]
    assert "matched_recall" in goals["durban_recall"]["figure"]
    assert goals["durban_other_water_flagged_fraction"]["met"]
    assert goals["manila_open_sea_flagged_fraction"]["met"]
    assert goals["manila_open_sea_detections_per_km2"]["met"]
    assert goals["manila_port_flagged_fraction"]["met"]
    assert goals["mariveles_flagged_fraction"]["met"]
    assert goals["duarte_auc_plastic_vs_every_lookalike"]["value"] == 0.5
    assert not goals["duarte_plastic_flagged_fraction"]["met"]
    assert goals["duarte_lookalike_flagged_fraction_max"]["met"]
    assert goals["synthetic_test_f1"]["value"] == 0.0
    worse = goals["model_beats_fdi_on_every_figure"]["worse_than_fdi"]
    assert {"durban.recall", "durban.matched_recall"} <= set(worse)
    assert not result["all_goals_met"]
    for goal in goals.values():
        assert {"value", "target", "met"} <= set(goal)
