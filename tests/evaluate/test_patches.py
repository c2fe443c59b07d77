"""Evaluation of a bundle and of the FDI baseline on MARIDA-layout directories."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch

from oceanscan.classes import map_labels
from oceanscan.cli import main
from oceanscan.data import load_patch, read_split_ids
from oceanscan.evaluate import best_f1_threshold, evaluate_fdi_baseline
from oceanscan.metrics import count_false_detections
from oceanscan.model import AttentionUNet, save_bundle
from oceanscan.sentinel2 import fdi
from oceanscan.synth.patches import write_patches

KEYS = {
    "precision",
    "recall",
    "f1",
    "iou",
    "threshold",
    "false_detections",
    "debris_free_km2",
    "false_detections_per_km2",
}


def _brute_force(scores, targets):
    best = (np.inf, 0.0)
    for t in np.unique(scores):
        pred = scores >= t
        tp = int((pred & (targets == 1)).sum())
        f1 = 2 * tp / (pred.sum() + targets.sum())
        if f1 > best[1]:
            best = (float(t), f1)
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_f1_threshold_is_exact(seed):
    rng = np.random.default_rng(seed)
    targets = (rng.random(300) < 0.2).astype(np.int64)
    scores = np.round(rng.normal(targets * 0.7, 0.5), 1)  # ties on purpose
    thr, f1 = best_f1_threshold(scores, targets)
    want_thr, want_f1 = _brute_force(scores, targets)
    assert f1 == pytest.approx(want_f1) and thr == pytest.approx(want_thr)


def test_best_f1_threshold_edge_cases():
    assert best_f1_threshold(np.array([0.1, 0.2]), np.array([0, 0])) == (float("inf"), 0.0)
    thr, f1 = best_f1_threshold(np.array([np.nan, 0.9, 0.1]), np.array([1, 1, 0]))
    assert (thr, f1) == (0.9, pytest.approx(2 / 3))  # the NaN positive is a miss
    with pytest.raises(ValueError, match="0 or 1"):
        best_f1_threshold(np.array([0.1]), np.array([2]))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_patches(
        tmp_path_factory.mktemp("eval") / "data", 12, size=32, seed=5, sparse_labels=True
    )


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = AttentionUNet(base_width=4, dropout=0.0, attention_heads=2)
    return save_bundle(
        tmp_path_factory.mktemp("b") / "bundle",
        model,
        arch=model.hparams,
        class_mapping="binary",
        threshold=0.5,
    )


def _labelled_debris(root, split):
    pixels = debris = 0
    for pid in read_split_ids(root, split):
        _, classes, _ = load_patch(root, pid)
        targets = map_labels(classes, "binary")
        pixels += int((targets >= 0).sum())
        debris += int((targets == 1).sum())
    return pixels, debris


def test_evaluate_cli_prints_model_and_baseline_json(data_dir, bundle_dir):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(
            [
                "evaluate",
                "--data",
                str(data_dir),
                "--model",
                str(bundle_dir),
                "--split",
                "test",
                "--json",
            ]
        )
    assert code == 0
    result = json.loads(buf.getvalue())
    assert KEYS <= set(result) and KEYS <= set(result["baseline"])
    assert result["threshold"] == 0.5 and result["baseline"]["name"] == "fdi"
    pixels, debris = _labelled_debris(data_dir, "test")
    # unlabelled pixels are neither positive nor negative: only labelled ones are counted
    assert result["labelled_pixels"] == result["baseline"]["labelled_pixels"] == pixels
    assert 0 < pixels < 32 * 32 * result["patches"]  # sparse labels
    for row in (result, result["baseline"]):
        p, r, f1 = row["precision"], row["recall"], row["f1"]
        assert f1 == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)
        assert row["iou"] == pytest.approx(f1 / (2 - f1))
        # 10 m pixels: the labelled non-debris pixels, 1e4 to the km2.
        assert row["debris_free_km2"] == pytest.approx((pixels - debris) / 1e4)
        assert row["false_detections_per_km2"] == pytest.approx(
            row["false_detections"] / row["debris_free_km2"]
        )


def test_evaluate_cli_table_has_the_false_detection_column(data_dir, bundle_dir):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["evaluate", "--data", str(data_dir), "--model", str(bundle_dir)]) == 0
    header, model, fdi_row, *_ = buf.getvalue().splitlines()
    assert header.split()[-2:] == ["FD/km2", "threshold"]
    assert model.split()[0] == "model" and fdi_row.split()[0] == "fdi"
    assert len(model.split()) == len(fdi_row.split()) == 7


def test_fdi_baseline_threshold_is_tuned_on_val(data_dir):
    scores, targets = [], []
    for pid in read_split_ids(data_dir, "val"):
        reflectance, classes, _ = load_patch(data_dir, pid)
        t = map_labels(classes, "binary")
        keep = t >= 0
        scores.append(fdi(reflectance)[keep])
        targets.append(t[keep])
    want, _ = best_f1_threshold(np.concatenate(scores), np.concatenate(targets))
    on_test = evaluate_fdi_baseline(data_dir, "test")
    assert on_test["threshold"] == pytest.approx(want)
    on_val = evaluate_fdi_baseline(data_dir, "val")
    # on the split it was tuned on, the threshold gives the best F1 any threshold can
    assert on_val["f1"] == pytest.approx(
        best_f1_threshold(np.concatenate(scores), np.concatenate(targets))[1]
    )


def test_fdi_false_detections_are_counted_per_patch(data_dir):
    result = evaluate_fdi_baseline(data_dir, "test")
    count = 0
    for pid in read_split_ids(data_dir, "test"):
        reflectance, classes, _ = load_patch(data_dir, pid)
        t = map_labels(classes, "binary")
        index = fdi(reflectance)
        flagged = np.where(np.isfinite(index), index >= result["threshold"], False)
        count += count_false_detections(flagged, t == 1, t == 0)
    assert result["false_detections"] == count
