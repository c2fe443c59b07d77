"""An exponential moving average of the model's weights: the network a run validates and ships.

Why: two runs of the same recipe that differ only in their seed found 0.505 and 0.117 of Durban's
traced filaments (docs/model.md). A single epoch's weights carry the noise of the last few hundred
optimizer steps into the bundle, and the real-sea figures, which the synthetic validation split
cannot see, swing with it. Averaging the weights along the trajectory is the usual remedy (Polyak &
Juditsky 1992; Izmailov et al. 2018, "Averaging weights leads to wider optima and better
generalization", arXiv:1803.05407) and costs one copy of the model.

The decay ramps up with the number of updates as in TensorFlow's
``tf.train.ExponentialMovingAverage(num_updates=...)``: ``min(decay, (1 + n) / (10 + n))``, so the
random initial weights leave the average within the first epochs, and a short run averages over
roughly its last tenth. BatchNorm running statistics are averaged like the weights (as timm's
``ModelEmaV2`` does), so that they match the averaged weights they normalise for; integer buffers
(BatchNorm's batch counter) are copied.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

__all__ = ["WeightAverage"]


class WeightAverage:
    """An exponential moving average of a model, kept on the model's device.

    Args:
        model: the bare model being trained (not a DDP wrapper); it is copied, not kept.
        decay: the largest decay; each update moves the average ``1 - decay`` of the way (or more,
            early in the run) towards the current weights.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next update uses: ramped up over the first updates, capped at ``decay``."""
        n = self.updates + 1
        return min(self.decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights and buffers (one optimizer step)."""
        weight = 1.0 - self.current_decay()
        current = model.state_dict()
        floats_avg, floats_cur = [], []
        for name, averaged in self.module.state_dict().items():
            value = current[name].detach()
            if averaged.is_floating_point():
                floats_avg.append(averaged)
                floats_cur.append(value.to(averaged.dtype))
            else:
                averaged.copy_(value)
        if floats_avg:
            torch._foreach_lerp_(floats_avg, floats_cur, weight)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights and the update count, for a checkpoint."""
        return {"weights": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.module.load_state_dict(state["weights"])
        self.updates = int(state["updates"])
