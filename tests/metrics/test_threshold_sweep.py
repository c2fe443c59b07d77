"""The threshold sweep's precision-recall curve cross-checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, precision_recall_curve

from oceanscan.classes import IGNORE_INDEX
from oceanscan.metrics import ThresholdSweep

IGN = IGNORE_INDEX


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
