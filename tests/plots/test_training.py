"""Training-curve PNGs and the best epoch they mark."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib._pylab_helpers import Gcf

from oceanscan.plots import best_epoch, training_curves_png
from tests.helpers.plots import read_png


def _history(epochs: int = 12) -> list[dict[str, float]]:
    rows = []
    for e in range(epochs):
        rows.append(
            {
                "epoch": e,
                "train_loss": 1.0 / (e + 1),
                "val_loss": 1.0 / (e + 1) + 0.03 * max(0, e - 5),
                "val_f1": 0.08 * e if e <= 7 else 0.56 - 0.02 * (e - 7),
                "val_precision": 0.5 + 0.02 * e,
                "val_recall": 0.6,
                "val_iou": 0.04 * e,
                "lr": 1e-3 * min(1.0, (e + 1) / 3) * (0.5 + 0.5 * np.cos(np.pi * e / epochs))
                + 1e-6,
                "threshold": 0.4,
            }
        )
    return rows


def test_training_curves_png(tmp_path):
    out = training_curves_png(tmp_path / "curves.png", _history(), title="run 1")
    image = read_png(out)
    assert image.var() > 0.001
    assert Gcf.get_num_fig_managers() == 0


def test_training_curves_tolerate_missing_values(tmp_path):
    rows = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_f1": None, "lr": 1e-3} for e in range(3)]
    image = read_png(training_curves_png(tmp_path / "sparse.png", rows))
    assert image.var() > 0.001


def test_best_epoch_follows_the_checkpoint_ranking():
    assert best_epoch(_history()) == (7.0, "val_f1")
    no_f1 = [{k: v for k, v in row.items() if k != "val_f1"} for row in _history()]
    assert best_epoch(no_f1) == (5.0, "val_loss")  # val_loss bottoms out at epoch 5
    train_only = [{"epoch": e, "train_loss": 3.0 - e} for e in range(4)]
    assert best_epoch(train_only) == (3.0, "train_loss")
    assert best_epoch([{"epoch": 0}]) is None
    # A resumed run reports epoch 1 again: the later row counts, order does not matter.
    resumed = [
        {"epoch": 1, "val_f1": 0.9},
        {"epoch": 0, "val_f1": 0.5},
        {"epoch": 1, "val_f1": 0.1},
    ]
    assert best_epoch(resumed) == (0.0, "val_f1")


@pytest.mark.parametrize(
    ("history", "error", "names"),
    [
        ([], ValueError, "history"),
        ({"epoch": 1}, TypeError, "history"),
        ([{"epoch": 0}, {"train_loss": 1.0}], ValueError, r"history\[1\]"),
        ([{"epoch": 0, "val_f1": "high"}], TypeError, r"history\[0\]\['val_f1'\]"),
        ([{"epoch": 0}, 3], TypeError, r"history\[1\]"),
    ],
)
def test_training_curves_reject_bad_history_by_name(tmp_path, history, error, names):
    with pytest.raises(error, match=names):
        training_curves_png(tmp_path / "bad.png", history)
