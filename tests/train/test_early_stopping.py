"""Early stopping on the validation F1: patience, NaN, state round trip."""

from __future__ import annotations

import math

import pytest

from oceanscan.train.early_stopping import EarlyStopping


def test_early_stopping_counts_epochs_without_improvement():
    stopper = EarlyStopping(patience=2)
    assert stopper.step(0.5, 1) is True
    assert stopper.step(0.4, 2) is False and not stopper.should_stop
    assert stopper.step(0.6, 3) is True and stopper.bad_epochs == 0  # a new best resets the count
    assert stopper.step(0.6, 4) is False  # equal is not better
    assert stopper.step(math.nan, 5) is False  # NaN never improves
    assert stopper.should_stop and stopper.best == 0.6 and stopper.best_epoch == 3


def test_early_stopping_state_round_trips():
    a = EarlyStopping(patience=3, mode="min")
    for epoch, loss in enumerate([1.0, 0.5, 0.7], start=1):
        a.step(loss, epoch)
    b = EarlyStopping(patience=3, mode="min")
    b.load_state_dict(a.state_dict())
    assert (b.best, b.best_epoch, b.bad_epochs) == (0.5, 2, 1)
    b.step(0.8, 4)
    b.step(0.9, 5)
    assert b.should_stop


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(0)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(3, mode="maximum")  # type: ignore[arg-type]
