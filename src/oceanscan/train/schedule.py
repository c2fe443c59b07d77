"""Learning-rate schedule: linear warmup, then cosine decay, stepped once per optimizer step.

Per-step (not per-epoch) stepping keeps the warmup smooth when an epoch is only a few steps (small
data sets, many workers) and makes the schedule independent of how an epoch is split into batches.
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR

__all__ = ["WARMUP_START_FACTOR", "build_scheduler", "lr_at_step"]

#: The warmup starts at this fraction of the peak learning rate.
WARMUP_START_FACTOR = 0.01


def _check(warmup_steps: int, total_steps: int) -> None:
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"warmup_steps must be in [0, total_steps={total_steps}), got {warmup_steps}"
        )


def lr_at_step(
    step: int, *, peak_lr: float, min_lr: float, warmup_steps: int, total_steps: int
) -> float:
    """The closed-form learning rate before optimizer step ``step`` (0-based).

    Warmup rises linearly from ``WARMUP_START_FACTOR * peak_lr`` to ``peak_lr`` over
    ``warmup_steps`` steps; the cosine then falls from ``peak_lr`` to ``min_lr`` over the remaining
    ``total_steps - warmup_steps`` steps. This is what :func:`build_scheduler` produces, written out
    so that the schedule can be checked and plotted without an optimizer.

    Raises:
        ValueError: if ``warmup_steps`` is not in ``[0, total_steps)``.
    """
    _check(warmup_steps, total_steps)
    if step < warmup_steps:
        factor = WARMUP_START_FACTOR + (1.0 - WARMUP_START_FACTOR) * step / warmup_steps
        return peak_lr * factor
    t = min(step - warmup_steps, total_steps - warmup_steps)
    cos = 0.5 * (1.0 + math.cos(math.pi * t / (total_steps - warmup_steps)))
    return min_lr + (peak_lr - min_lr) * cos


def build_scheduler(
    optimizer: torch.optim.Optimizer, *, warmup_steps: int, total_steps: int, min_lr: float
) -> LRScheduler:
    """``LinearLR`` warmup followed by ``CosineAnnealingLR``; call ``.step()`` after each step.

    Args:
        optimizer: optimizer whose current ``lr`` is the peak learning rate.
        warmup_steps: optimizer steps of linear warmup (0 for none).
        total_steps: optimizer steps of the whole run (epochs x steps per epoch).
        min_lr: learning rate at the end of the cosine.

    Raises:
        ValueError: if ``warmup_steps`` is not in ``[0, total_steps)``.
    """
    _check(warmup_steps, total_steps)
    cosine = CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps, eta_min=min_lr)
    if warmup_steps == 0:
        return cosine
    warmup = LinearLR(
        optimizer, start_factor=WARMUP_START_FACTOR, end_factor=1.0, total_iters=warmup_steps
    )
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])
