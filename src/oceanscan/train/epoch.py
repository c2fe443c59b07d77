"""One epoch on one rank: train over its shard, validate, and the metrics summed over all ranks.

Validation sums confusion counts and threshold-sweep counts over all workers before any score is
computed, never an average of per-worker F1, so the metrics are those of the whole validation
split whatever the number of workers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from oceanscan.metrics import ConfusionMatrix, ThresholdSweep
from oceanscan.train.backend import Loaders
from oceanscan.train.config import TrainConfig
from oceanscan.train.distributed import all_reduce_sum
from oceanscan.train.state import TrainState
from oceanscan.train.steps import train_step, validate

__all__ = ["run_epoch"]


def run_epoch(
    cfg: TrainConfig,
    state: TrainState,
    loss_fn: nn.Module,
    loaders: Loaders,
    *,
    device: torch.device,
    num_classes: int,
    positive: int,
) -> dict[str, Any]:
    """Train and validate once; the metrics of the epoch and its PR curve (``pr_curve``)."""
    state.model.train()
    t0 = time.perf_counter()
    loss_sum, batches, samples = torch.zeros((), device=device), 0, 0
    for batch in loaders.train:
        loss, _ = train_step(
            state.model,
            batch,
            loss_fn,
            state.optimizer,
            device=device,
            grad_clip_norm=cfg.grad_clip_norm,
        )
        state.after_step()
        loss_sum += loss
        batches, samples = batches + 1, samples + len(batch["image"])
    loss_total = float(loss_sum)  # one device sync per epoch
    train_time = time.perf_counter() - t0

    t1 = time.perf_counter()
    confusion, sweep = validate(
        state.evaluated, loaders.val, num_classes=num_classes, positive=positive, device=device
    )
    confusion.counts = all_reduce_sum(confusion.counts, device)
    sweep.counts = all_reduce_sum(sweep.counts, device)
    sweep.positive_sum = all_reduce_sum(sweep.positive_sum, device)
    val_time = time.perf_counter() - t1

    totals = all_reduce_sum(np.array([loss_total, batches, samples], dtype=np.float64), device)
    return {
        "pr_curve": _pr_curve(sweep),
        "train_loss": float(totals[0] / max(totals[1], 1)),
        **_validation_metrics(confusion, sweep, positive, cfg.threshold_debris_fraction),
        "lr": float(state.optimizer.param_groups[0]["lr"]),
        "train_time_s": train_time,
        "val_time_s": val_time,
        "train_samples_per_s": float(totals[2]) / max(train_time, 1e-9),
    }


def _pr_curve(sweep: ThresholdSweep, points: int = 101) -> dict[str, list[float]]:
    """The validation precision-recall curve at ``points`` thresholds, small enough for JSON."""
    curve = sweep.curve()
    idx = np.unique(np.linspace(0, len(curve["thresholds"]) - 1, points).round().astype(int))
    return {
        key: [float(v) for v in np.asarray(curve[key])[idx]]
        for key in ("thresholds", "precision", "recall", "f1")
    }


def _validation_metrics(
    confusion: ConfusionMatrix,
    sweep: ThresholdSweep,
    positive: int,
    debris_fraction: float | None = None,
) -> dict[str, float]:
    """Scores of the positive class at the tuned threshold (``val_*``) and at argmax.

    The threshold maximises F1 as if ``debris_fraction`` of the pixels were debris
    (``val_f1_at_fraction``; see :meth:`ThresholdSweep.curve`), so that it suits a real sea, not
    only patches picked for their debris. ``val_f1`` is the plain F1 of the validation pixels at
    that threshold: the operating point the bundle ships with, and so the score early stopping
    and checkpoint ranking use. Under heavy class imbalance the argmax F1 stays 0 for many early
    epochs and would not rank them at all.
    """
    threshold, f1_at_fraction = sweep.best_threshold(prevalence=debris_fraction)
    curve = sweep.curve()
    i = int(np.argmin(np.abs(curve["thresholds"] - threshold)))
    tp, fp, fn = (float(curve[key][i]) for key in ("tp", "fp", "fn"))
    f1 = float(curve["f1"][i])
    argmax = confusion.metrics(positive=positive)
    return {
        "val_f1_at_fraction": float(f1_at_fraction),
        "val_f1": float(f1),
        "val_precision": float(curve["precision"][i]),
        "val_recall": float(curve["recall"][i]),
        "val_iou": tp / (tp + fp + fn) if tp else 0.0,
        "threshold": float(threshold),
        "val_f1_argmax": float(argmax["f1"]),
        "val_iou_argmax": float(argmax["iou"]),
        "val_miou_argmax": float(argmax["miou"]),
        "val_labelled_pixels": float(argmax["pixels"]),
    }
