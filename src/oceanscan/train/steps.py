"""One optimizer step and one validation pass, the inner pieces of the training loop.

Kept apart from :mod:`oceanscan.train.loop` (the epoch loop, checkpoints and reporting) so that a
benchmark or a test can time or check a single step without the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

from oceanscan.classes import IGNORE_INDEX
from oceanscan.metrics import ConfusionMatrix, ThresholdSweep

__all__ = ["train_step", "validate"]


def train_step(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    loss_fn: Callable[..., torch.Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device,
    grad_clip_norm: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on one batch; returns ``(loss, gradient norm before clipping)``.

    Inputs are channels_last, like the weights. On CUDA the forward pass runs under bf16 autocast
    (no loss scaling needed, unlike fp16); the loss is computed in float32. Under DDP the gradients are averaged
    over workers inside ``backward()``, so clipping sees the global gradient. Both results are
    0-d tensors left on the device: reading them every step would stall the GPU queue.
    A batch's ``"weight"`` map, when it has one, is passed to the loss as its per-pixel weights.
    """
    image = batch["image"].to(device, non_blocking=True)
    image = image.contiguous(memory_format=torch.channels_last)
    target = batch["mask"].to(device, non_blocking=True)
    image = torch.nan_to_num(image, nan=0.0)
    with _autocast(device):
        logits = model(image)
    if "weight" in batch:
        weight = batch["weight"].to(device, non_blocking=True)
        loss = loss_fn(logits.float(), target, weight)
    else:
        loss = loss_fn(logits.float(), target)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip_norm is not None:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip_norm)
    else:
        norm = torch.linalg.vector_norm(
            torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None])
        )
    optimizer.step()
    return loss.detach(), norm.detach()


def _autocast(device: torch.device) -> AbstractContextManager[Any]:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def validate(
    model: nn.Module,
    batches: Iterable[dict[str, torch.Tensor]],
    *,
    num_classes: int,
    positive: int,
    device: torch.device,
) -> tuple[ConfusionMatrix, ThresholdSweep]:
    """Confusion counts (argmax prediction) and threshold-sweep counts of the positive class.

    The counts are this worker's only; the caller sums them over workers before computing any
    metric, so that F1 is the F1 of the whole validation set.
    """
    model.eval()
    confusion = ConfusionMatrix(num_classes, ignore_index=IGNORE_INDEX)
    sweep = ThresholdSweep(positive=positive, ignore_index=IGNORE_INDEX)
    for batch in batches:
        image = torch.nan_to_num(batch["image"].to(device, non_blocking=True), nan=0.0)
        image = image.contiguous(memory_format=torch.channels_last)
        target = batch["mask"].to(device, non_blocking=True)
        with _autocast(device):
            logits = model(image)
        prob = torch.softmax(logits.float(), dim=1)
        confusion.update(prob.argmax(dim=1), target)
        sweep.update(prob[:, positive], target)
    return confusion, sweep
