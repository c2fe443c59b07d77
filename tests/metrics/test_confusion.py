"""Confusion-matrix scores cross-checked against scikit-learn on the same labelled pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    jaccard_score,
    precision_recall_fscore_support,
)

from oceanscan.classes import IGNORE_INDEX
from oceanscan.metrics import ConfusionMatrix, binary_scores

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
