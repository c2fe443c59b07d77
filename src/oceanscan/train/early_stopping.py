"""Early stopping on a validation metric, with state that goes into every checkpoint.

Kept free of torch.distributed: the loop decides on rank 0 and broadcasts the decision, so every
rank leaves the epoch loop at the same epoch (a rank that stops alone would hang the others in
their next all-reduce).
"""

from __future__ import annotations

import math
from typing import Any, Literal

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Stop when a metric has not improved for ``patience`` consecutive epochs.

    Args:
        patience: epochs without improvement that are tolerated; the run stops on the next one.
        mode: ``"max"`` for metrics such as F1, ``"min"`` for losses.
        min_delta: smallest change that counts as an improvement, defaults to 0.

    Raises:
        ValueError: for ``patience < 1``, a negative ``min_delta`` or an unknown ``mode``.
    """

    def __init__(
        self, patience: int, *, mode: Literal["max", "min"] = "max", min_delta: float = 0.0
    ) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be one of ('max', 'min'), got {mode!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.patience = patience
        self.mode = mode
        self.min_delta = min_delta
        self.best: float = -math.inf if mode == "max" else math.inf
        self.best_epoch: int | None = None
        self.bad_epochs = 0

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def step(self, value: float, epoch: int) -> bool:
        """Record the metric of ``epoch``; return True when it is a new best."""
        if self._improves(value):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` epochs in a row brought no improvement."""
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the count after a restart."""
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the count saved by :meth:`state_dict`."""
        self.best = float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.bad_epochs = int(state["bad_epochs"])
