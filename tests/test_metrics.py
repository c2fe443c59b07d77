"""Metrics cross-checked against scikit-learn on the same labelled pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    jaccard_score,
    precision_recall_curve,
    precision_recall_fscore_support,
)

from oceanscan.classes import IGNORE_INDEX
from oceanscan.metrics import (
    ConfusionMatrix,
    FalseDetections,
    ThresholdSweep,
    binary_scores,
    count_false_detections,
)

IGN = IGNORE_INDEX


def _labels(k: int, seed: int, shape=(4, 16, 16)):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, k, shape)
    # Predictions agree with the target most of the time, so the scores are not all alike.
    pred = np.where(rng.random(shape) < 0.6, target, rng.integers(0, k, shape))
    target[rng.random(shape) < 0.25] = IGN
    return torch.from_numpy(pred), torch.from_numpy(target)


def test_binary_scores_hand_computed():
    s = binary_scores(tp=6, fp=2, fn=4)
    assert s == pytest.approx({"precision": 0.75, "recall": 0.6, "f1": 12 / 18, "iou": 0.5})
    assert binary_scores(0, 0, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "iou": 0.0}
    with pytest.raises(ValueError, match="counts"):
        binary_scores(-1, 0, 0)


@pytest.mark.parametrize("k", [2, 5])
def test_confusion_matrix_matches_sklearn(k):
    pred, target = _labels(k, seed=k)
    cm = ConfusionMatrix(k)
    cm.update(pred[:2], target[:2])
    cm.update(pred[2:].numpy(), target[2:].numpy())
    valid = (target != IGN).numpy().ravel()
    y_true, y_pred = target.numpy().ravel()[valid], pred.numpy().ravel()[valid]
    labels = list(range(k))
    np.testing.assert_array_equal(cm.matrix, confusion_matrix(y_true, y_pred, labels=labels))

    m = cm.metrics(positive=1)
    p, r, f, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    np.testing.assert_allclose(m["precision_per_class"], p)
    np.testing.assert_allclose(m["recall_per_class"], r)
    np.testing.assert_allclose(m["f1_per_class"], f)
    np.testing.assert_array_equal(m["support_per_class"], support)
    np.testing.assert_allclose(
        m["iou_per_class"], jaccard_score(y_true, y_pred, labels=labels, average=None)
    )
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=labels, average="macro"))
    assert m["miou"] == pytest.approx(jaccard_score(y_true, y_pred, labels=labels, average="macro"))
    assert m["f1"] == pytest.approx(f[1])
    assert m["iou"] == pytest.approx(jaccard_score(y_true == 1, y_pred == 1))
    assert m["pixels"] == valid.sum()
    assert m["accuracy"] == pytest.approx((y_true == y_pred).mean())


def test_unlabelled_pixels_are_never_negatives():
    target = torch.tensor([[1, IGN, IGN, 0]])
    pred = torch.tensor([[1, 1, 0, 1]])
    cm = ConfusionMatrix(2)
    cm.update(pred, target)
    m = cm.metrics(positive=1)
    assert (m["tp"], m["fp"], m["fn"]) == (1, 1, 0)
    assert m["pixels"] == 2


def test_zero_division_gives_zero():
    cm = ConfusionMatrix(3)
    cm.update(torch.zeros(4, dtype=torch.int64), torch.zeros(4, dtype=torch.int64))
    m = cm.metrics(positive=2)
    assert m["precision"] == m["recall"] == m["f1"] == m["iou"] == 0.0
    assert m["f1_per_class"] == [1.0, 0.0, 0.0]
    assert ConfusionMatrix(2).metrics()["accuracy"] == 0.0


def test_merge_and_from_matrix_sum_counts():
    pred, target = _labels(3, seed=11)
    whole, a, b = ConfusionMatrix(3), ConfusionMatrix(3), ConfusionMatrix(3)
    whole.update(pred, target)
    a.update(pred[:1], target[:1])
    b.update(pred[1:], target[1:])
    np.testing.assert_array_equal((a + b).matrix, whole.matrix)
    # What an all-reduce produces: the summed raw counts, wrapped again.
    summed = ConfusionMatrix.from_matrix(a.counts + b.counts)
    assert summed.metrics() == whole.metrics()
    assert a.to("cpu") is a and a.counts.device.type == "cpu"
    with pytest.raises(ValueError, match="merge"):
        a.merge(ConfusionMatrix(2))


def test_confusion_rejects_out_of_range_and_shape_mismatch():
    cm = ConfusionMatrix(2)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        cm.update(torch.tensor([0, 2]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        cm.update(torch.tensor([0, 1]), torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="positive"):
        cm.metrics(positive=5)
    with pytest.raises(ValueError, match="num_classes"):
        ConfusionMatrix(1)


def _probabilities(seed: int, n: int = 3000, bins: int = 1001):
    """Probabilities on the sweep's threshold grid, positives scored higher on average."""
    rng = np.random.default_rng(seed)
    grid = ThresholdSweep(bins).thresholds
    target = (rng.random(n) < 0.2).astype(np.int64)
    score = np.clip(rng.normal(0.35 + 0.3 * target, 0.15), 0, 1)
    prob = grid[np.round(score * (bins - 1)).astype(int)]
    target[rng.random(n) < 0.1] = IGN
    return prob, target


def test_threshold_sweep_matches_sklearn_pr_curve():
    prob, target = _probabilities(seed=0)
    sweep = ThresholdSweep()
    sweep.update(torch.from_numpy(prob[:1000]), torch.from_numpy(target[:1000]))
    rest = ThresholdSweep()
    rest.update(prob[1000:], target[1000:])
    sweep = sweep + rest

    valid = target != IGN
    y, p = target[valid], prob[valid]
    precision, recall, thresholds = precision_recall_curve(y, p)
    curve = sweep.curve()
    index = np.searchsorted(curve["thresholds"], thresholds)
    np.testing.assert_array_equal(curve["thresholds"][index], thresholds)
    np.testing.assert_allclose(curve["precision"][index], precision[:-1])
    np.testing.assert_allclose(curve["recall"][index], recall[:-1])

    f1 = 2 * precision[:-1] * recall[:-1] / (precision[:-1] + recall[:-1])
    threshold, best = sweep.best_threshold()
    assert best == pytest.approx(f1.max())
    assert f1_score(y, p >= threshold) == pytest.approx(best)
    assert sweep.num_positive == (y == 1).sum()
    assert sweep.num_negative == (y == 0).sum()
    assert sweep.mean_positive_probability == pytest.approx(p[y == 1].mean(), rel=1e-6)
    assert sweep.max_positive_probability == pytest.approx(p[y == 1].max(), rel=1e-6)


def test_float32_probabilities_compare_like_float32_thresholds():
    """A float32 0.7 must count as >= 0.7, as ``prob >= 0.7`` on a float32 array says."""
    prob = np.array([0.7, 0.3, 0.69], dtype=np.float32)
    sweep = ThresholdSweep()
    sweep.update(prob, np.array([1, 1, 0]))
    curve = sweep.curve()
    at = int(np.flatnonzero(np.isclose(curve["thresholds"], 0.7))[0])
    assert (curve["tp"][at], curve["fp"][at]) == ((prob >= 0.7)[:2].sum(), 0)
    assert (curve["tp"][at - 10], curve["fp"][at - 10]) == (1, 1)  # threshold 0.69


def test_best_threshold_is_the_middle_of_a_flat_optimum():
    sweep = ThresholdSweep(bins=11)
    sweep.update(torch.tensor([0.2, 0.8, 0.8]), torch.tensor([0, 1, 1]))
    # Any threshold in (0.2, 0.8] separates perfectly: 0.3 ... 0.8, midpoint 0.5.
    assert sweep.best_threshold() == (pytest.approx(0.5), 1.0)


def test_threshold_sweep_skips_unlabelled_and_nan():
    sweep = ThresholdSweep(bins=101, positive=3)
    prob = torch.tensor([0.9, 0.9, float("nan"), 0.1])
    target = torch.tensor([3, IGN, 3, 7])
    sweep.update(prob, target)
    assert (sweep.num_positive, sweep.num_negative) == (1, 1)
    assert sweep.counts[1, 90] == 1 and sweep.counts[0, 10] == 1


def test_empty_sweep_is_harmless():
    sweep = ThresholdSweep()
    assert sweep.best_threshold() == (0.5, 0.0)
    assert sweep.mean_positive_probability == 0.0
    assert sweep.max_positive_probability == 0.0
    with pytest.raises(ValueError, match="bins"):
        ThresholdSweep(bins=1)


def _grid(rows: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """flagged, positive, negative from a picture: ``D`` debris, ``.`` clean water, ``?``
    unlabelled; lower case where the pixel is flagged."""
    chars = np.array([list(r) for r in rows])
    flagged = np.char.islower(chars)
    upper = np.char.upper(chars)
    return flagged, upper == "D", np.isin(upper, [".", "W"])


def test_a_component_touching_debris_is_not_false():
    # One blob over clean water that reaches a debris pixel at its corner: a true detection.
    flagged, positive, negative = _grid(
        [
            "......",
            ".ww...",
            ".ww...",
            "...d..",
            "......",
        ]
    )
    assert count_false_detections(flagged, positive, negative) == 0
    # The same blob one pixel further away is its own component, and a false one.
    flagged, positive, negative = _grid(
        [
            "......",
            ".ww...",
            ".ww...",
            "....d.",
            "......",
        ]
    )
    assert count_false_detections(flagged, positive, negative) == 1


def test_separate_blobs_on_clean_water_are_counted_one_each():
    flagged, positive, negative = _grid(
        [
            "ww....w",
            "w.....w",
            ".......",
            "...w...",
            "....w..",  # diagonal neighbours: one 8-connected component
            "..D...d",
        ]
    )
    # Top left, top right and the diagonal pair; the flagged debris pixel is a true detection.
    assert count_false_detections(flagged, positive, negative) == 3
    assert count_false_detections(np.zeros_like(flagged), positive, negative) == 0


def test_components_on_unlabelled_pixels_only_are_not_judged():
    flagged, positive, negative = _grid(
        [
            "??....",
            "??..??",
            "....?w",  # flagged pixels reaching clean water: judged
            "......",
        ]
    )
    flagged[0:2, 0:2] = True  # a component wholly on unlabelled pixels
    flagged[1, 4:6] = True
    assert count_false_detections(flagged, positive, negative) == 1


def test_false_detections_per_km2_divides_by_the_debris_free_area():
    side = 100  # 100 x 100 px of 10 m = 1 km2
    flagged = np.zeros((side, side), dtype=bool)
    positive = np.zeros_like(flagged)
    flagged[10, 10] = flagged[50, 50:53] = flagged[90, 90] = True
    positive[90, 90] = True  # a hit, not a false detection
    negative = ~positive
    fd = FalseDetections()
    fd.update(flagged, positive, negative)
    assert fd.count == 2
    assert fd.debris_free_km2 == pytest.approx((side * side - 1) / 1e4)
    assert fd.per_km2 == pytest.approx(2 / ((side * side - 1) / 1e4))
    # Only labelled non-debris pixels are area: unlabelled ones neither add area nor detections.
    half = negative.copy()
    half[:, side // 2 :] = False
    fd_half = FalseDetections()
    fd_half.update(flagged, positive, half)
    assert (fd_half.count, fd_half.debris_free_km2) == (1, pytest.approx(0.5))
    # 20 m pixels cover four times the area.
    coarse = FalseDetections()
    coarse.update(flagged, positive, negative, pixel_area_m2=400.0)
    assert coarse.per_km2 == pytest.approx(fd.per_km2 / 4)
    # Patches merge by summing counts and areas, not by averaging rates.
    both = fd + fd_half
    assert both.count == 3 and both.per_km2 == pytest.approx(3 / (0.9999 + 0.5))
    assert set(both.as_dict()) == {
        "false_detections",
        "debris_free_km2",
        "false_detections_per_km2",
    }
    assert FalseDetections().per_km2 == 0.0


def test_false_detections_reject_bad_input():
    a = np.zeros((4, 4), dtype=bool)
    with pytest.raises(ValueError, match=r"flagged \(4, 4\), positive \(4, 5\)"):
        count_false_detections(a, np.zeros((4, 5), dtype=bool), a)
    with pytest.raises(ValueError, match="2-D"):
        count_false_detections(a[0], a[0], a[0])
    with pytest.raises(ValueError, match="pixel_area_m2"):
        FalseDetections().update(a, a, a, pixel_area_m2=0.0)
