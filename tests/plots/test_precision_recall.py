"""Precision-recall PNGs drawn from a threshold sweep; bad curves named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib._pylab_helpers import Gcf

from oceanscan.metrics import ThresholdSweep
from oceanscan.plots import pr_curve_png
from tests.helpers.plots import pixels_of, read_png


def _sweep_curve() -> tuple[dict[str, np.ndarray], float]:
    rng = np.random.default_rng(1)
    target = rng.random(4000) < 0.1
    prob = np.clip(0.35 * target + 0.65 * rng.random(4000), 0.0, 1.0)
    sweep = ThresholdSweep(bins=101)
    sweep.update(
        torch.from_numpy(prob.astype(np.float32)), torch.from_numpy(target.astype(np.int64))
    )
    threshold, _ = sweep.best_threshold()
    return sweep.curve(), threshold


def test_pr_curve_png_from_a_threshold_sweep(tmp_path):
    curve, threshold = _sweep_curve()
    image = read_png(pr_curve_png(tmp_path / "pr.png", curve, threshold))
    assert image.var() > 0.001
    # The chosen point is drawn as a filled red marker.
    assert pixels_of(image, "#d62728").sum() > 30
    assert Gcf.get_num_fig_managers() == 0


@pytest.mark.parametrize(
    ("edit", "threshold", "error", "names"),
    [
        (lambda c: c.pop("recall"), 0.5, ValueError, "recall"),
        (
            lambda c: c.update(precision=c["precision"][:-1]),
            0.5,
            ValueError,
            r"curve\['precision'\]",
        ),
        (lambda c: c.update(f1=c["f1"] + 2.0), 0.5, ValueError, r"curve\['f1'\]"),
        (
            lambda c: c.update(thresholds=c["thresholds"][::-1].copy()),
            0.5,
            ValueError,
            "increasing",
        ),
        (lambda c: None, 1.5, ValueError, "chosen_threshold"),
        (lambda c: None, "high", TypeError, "chosen_threshold"),
    ],
)
def test_pr_curve_rejects_bad_input_by_name(tmp_path, edit, threshold, error, names):
    curve, _ = _sweep_curve()
    curve = dict(curve)
    edit(curve)
    with pytest.raises(error, match=names):
        pr_curve_png(tmp_path / "bad.png", curve, threshold)
