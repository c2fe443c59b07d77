"""What a run trains and a checkpoint saves: the model, its loss, optimizer, LR schedule, early stopping.

Built once per worker in a fixed order (the random draws of the model's initialisation and of the
data depend on it), saved at the end of every epoch and restored when a run resumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from oceanscan.classes import IGNORE_INDEX, num_classes
from oceanscan.data.inputs import input_channels
from oceanscan.errors import ConfigError
from oceanscan.model import AttentionUNet, CombinedLoss, class_weights_from_counts, load_bundle
from oceanscan.sentinel2 import BANDS
from oceanscan.train import checkpoint as ckpt
from oceanscan.train.averaging import WeightAverage
from oceanscan.train.config import TrainConfig
from oceanscan.train.distributed import WorkerContext
from oceanscan.train.early_stopping import EarlyStopping
from oceanscan.train.rng import seed_everything, set_rng_state
from oceanscan.train.schedule import build_scheduler

__all__ = [
    "TrainState",
    "build_loss",
    "build_model",
    "build_state",
    "initial_weights",
    "model_arch",
]


@dataclass
class TrainState:
    """The objects every epoch changes.

    Attributes:
        model: the model as the backend prepared it (DDP-wrapped on Ray Train with 2+ workers).
        optimizer: AdamW over the model's parameters.
        scheduler: warmup then cosine decay, stepped per optimizer step.
        stopper: early stopping on the validation F1 (decided on rank 0).
        average: the moving average of the weights, when the run keeps one.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    stopper: EarlyStopping
    average: WeightAverage | None = None

    @property
    def module(self) -> nn.Module:
        """The bare model being trained, without the DDP wrapper."""
        return self.model.module if hasattr(self.model, "module") else self.model

    @property
    def evaluated(self) -> nn.Module:
        """The bare network validation scores and checkpoints hold: the average when kept."""
        return self.average.module if self.average is not None else self.module

    def after_step(self) -> None:
        """Advance what follows each optimizer step: the LR schedule and the weight average."""
        self.scheduler.step()
        if self.average is not None:
            self.average.update(self.module)

    def save(
        self,
        directory: str | Path,
        *,
        meta: ckpt.CheckpointMeta,
        rng_states: list[dict[str, Any]],
        seed: int,
    ) -> None:
        """Write a checkpoint of this state with every rank's generator states.

        The checkpoint's weights are the validated ones (the average, when kept), so that its
        metrics describe them and the export ships them; the weights being trained then go into
        the train state, for a resumed run to continue from.
        """
        train_state: dict[str, Any] = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "early_stopping": self.stopper.state_dict(),
            "rng_per_rank": rng_states,
            "seed": seed,
        }
        if self.average is not None:
            train_state["training_weights"] = self.module.state_dict()
            train_state["average_updates"] = self.average.updates
        ckpt.save_checkpoint(
            directory, weights=self.evaluated.state_dict(), train_state=train_state, meta=meta
        )

    def restore(self, directory: str | Path, ctx: WorkerContext) -> ckpt.CheckpointMeta:
        """Load the checkpoint in ``directory`` into this state and this rank's generators.

        A run resumed with a different number of workers cannot map the old random streams onto
        the new ranks, so it reseeds them from the seed and the epoch instead.
        """
        weights = ckpt.load_weights(directory)
        state = ckpt.load_train_state(directory)
        meta = ckpt.load_meta(directory)
        self.module.load_state_dict(state.get("training_weights", weights))
        if self.average is not None:
            # a checkpoint without an average (written before the run kept one) starts it afresh
            averaged = "training_weights" in state
            self.average.load_state_dict(
                {
                    "weights": weights,
                    "updates": state["average_updates"] if averaged else 0,
                }
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.stopper.load_state_dict(state["early_stopping"])
        rng = state.get("rng_per_rank", [])
        if len(rng) == ctx.world_size:
            set_rng_state(rng[ctx.rank])
        else:
            seed_everything(state["seed"] + 1000 * meta.epoch + ctx.rank)
        return meta


def model_arch(cfg: TrainConfig) -> dict[str, Any]:
    """Keyword arguments of :class:`~oceanscan.model.AttentionUNet` for ``cfg``."""
    return {
        "in_channels": input_channels(cfg.input_method, len(BANDS)),
        "num_classes": num_classes(cfg.class_mapping),
        "base_width": cfg.base_width,
        "dropout": cfg.dropout,
        "attention_heads": cfg.attention_heads,
    }


def build_model(
    arch: dict[str, Any], seed: int, init: dict[str, Tensor] | None = None
) -> nn.Module:
    """The U-Net with the same initial weights on every rank, in channels_last.

    The weights are seeded, or ``init`` where the run fine-tunes a bundle
    (:func:`initial_weights`). channels_last is the layout the fastest convolution kernels take on
    both cuDNN and oneDNN (a width-8 training step on this project's 2-core CPU runs in 0.36 s
    instead of 0.50 s).
    """
    torch.manual_seed(seed)
    model: nn.Module = AttentionUNet(**arch)
    if init is not None:
        model.load_state_dict(init)
    return model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def initial_weights(cfg: TrainConfig, arch: dict[str, Any]) -> dict[str, Tensor] | None:
    """The weights of the bundle ``cfg.init_from``, loaded and verified as a scan would load them.

    None when the run starts from scratch. Dropout is not compared: it holds no weights, and a
    fine-tuning run may choose its own.

    Raises:
        BundleError: when the bundle cannot be read or does not verify (naming its path).
        ConfigError: naming the bundle and what differs, when its architecture, input method or
            class mapping is not the run's (the weights would not fit, or would mean another
            input or another task).
    """
    if cfg.init_from is None:
        return None
    bundle = load_bundle(cfg.init_from)
    theirs = {
        "architecture": _without_dropout(bundle.meta["architecture"]["hyperparameters"]),
        "input_method": bundle.meta["normalization"]["method"],
        "class_mapping": bundle.class_mapping,
    }
    ours = {
        "architecture": _without_dropout(arch),
        "input_method": cfg.input_method,
        "class_mapping": cfg.class_mapping,
    }
    differs = [f"{k} {theirs[k]!r} (this run: {ours[k]!r})" for k in ours if theirs[k] != ours[k]]
    if differs:
        raise ConfigError(f"init_from {cfg.init_from}: cannot fine-tune it: {'; '.join(differs)}")
    return {k: v.detach().clone() for k, v in bundle.model.state_dict().items()}


def _without_dropout(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hyperparameters.items() if k != "dropout"}


def build_loss(cfg: TrainConfig, counts: np.ndarray, device: torch.device) -> nn.Module:
    """The combined loss, class-weighted by the train split's label ``counts`` when configured."""
    weights = None
    if cfg.class_weighted_loss and counts.sum() > 0:
        weights = class_weights_from_counts(counts)
    return CombinedLoss(weights, ignore_index=IGNORE_INDEX).to(device)


def build_state(cfg: TrainConfig, model: nn.Module, steps_per_epoch: int) -> TrainState:
    """AdamW, its warmup-then-cosine schedule over the whole run, early stopping, the average."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = build_scheduler(
        optimizer,
        warmup_steps=cfg.warmup_epochs * steps_per_epoch,
        total_steps=cfg.epochs * steps_per_epoch,
        min_lr=cfg.min_lr,
    )
    average = None
    if cfg.weight_average_decay is not None:
        bare = model.module if hasattr(model, "module") else model
        average = WeightAverage(bare, cfg.weight_average_decay)
    stopper = EarlyStopping(cfg.patience_epochs, mode="max")
    return TrainState(model, optimizer, scheduler, stopper, average)
