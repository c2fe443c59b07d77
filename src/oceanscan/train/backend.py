"""The seam between the training loop and where it runs: in this process, or on Ray Train.

:func:`oceanscan.train.loop.train_loop` is the same code in both places; it asks a
:class:`TrainBackend` for everything that differs between them:

* ``context``: this worker's rank and world size;
* :meth:`~TrainBackend.device` and :meth:`~TrainBackend.prepare_model`: where the model runs and
  how it is wrapped (DistributedDataParallel under Ray Train);
* :meth:`~TrainBackend.prepare_loaders`: the rank's shard of the train and validation splits;
* :meth:`~TrainBackend.restore`: the checkpoint to resume from, if any;
* :meth:`~TrainBackend.report`: what becomes of an epoch's metrics and checkpoint, and with it
  which checkpoint is kept as the best one (Ray Train's checkpoint manager, or a copy on local
  disk in this process).

``oceanscan.train.local_backend`` and ``oceanscan.train.ray_backend`` implement it; only the
latter (and ``ray_trainer``, which starts the workers) imports Ray.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from oceanscan.train.config import TrainConfig
from oceanscan.train.distributed import WorkerContext

__all__ = ["EpochHook", "Loaders", "TrainBackend"]

#: Called on every rank once an epoch is reported, with the epoch (1-based) and the rank's
#: context. Tests pass one to :func:`oceanscan.train.run_training` to crash a worker at a chosen
#: epoch; it travels to Ray Train workers with the training function, pickled.
EpochHook = Callable[[int, WorkerContext], None]


class Loaders(NamedTuple):
    """One rank's data loaders, and the sampler whose ``set_epoch`` reshuffles its shard."""

    train: DataLoader[Any]
    val: DataLoader[Any]
    sampler: DistributedSampler[Any] | None


class TrainBackend(ABC):
    """Where the training loop runs: the few things the loop cannot decide by itself.

    Args:
        context: rank, world size and local rank of the calling process.
    """

    def __init__(self, context: WorkerContext) -> None:
        self.context = context

    @abstractmethod
    def device(self, use_gpu: bool) -> torch.device:
        """The device this rank trains on."""

    @abstractmethod
    def prepare_model(self, model: nn.Module, device: torch.device) -> nn.Module:
        """``model`` on ``device``, wrapped for data-parallel training where there are ranks."""

    @abstractmethod
    def restore(self) -> AbstractContextManager[Path | None]:
        """A context giving the directory of the checkpoint to resume from, or None."""

    @abstractmethod
    def report(self, metrics: dict[str, Any], checkpoint: Path | None, *, improved: bool) -> None:
        """Hand over an epoch's metrics and (on rank 0) its checkpoint directory.

        Args:
            metrics: the epoch's metrics, JSON-serialisable.
            checkpoint: the checkpoint directory written by rank 0; None on other ranks. It is
                deleted when this returns, so a backend that keeps it copies it.
            improved: whether rank 0's early stopping saw a better ``val_f1`` this epoch.
        """

    def prepare_loaders(
        self, cfg: TrainConfig, train: Dataset[Any], val: Dataset[Any], *, pin: bool
    ) -> Loaders:
        """This rank's loaders, the same for every backend.

        Train gets a DistributedSampler (``set_epoch`` reshuffles every epoch); val is split by
        stride without padding, so that no validation pixel is counted twice in the summed counts.
        Ray's ``prepare_data_loader`` is not used: its sampler pads the validation split, and the
        loop moves batches to the device itself.
        """
        ctx = self.context
        sampler = None
        if ctx.world_size > 1:
            sampler = DistributedSampler(
                train, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=cfg.seed
            )
        common = {
            "batch_size": cfg.batch_size,
            "num_workers": cfg.dataloader_workers,
            "pin_memory": pin,
            "persistent_workers": cfg.dataloader_workers > 0,
        }
        train_loader = DataLoader(
            train, sampler=sampler, shuffle=sampler is None, drop_last=False, **common
        )
        val_shard = Subset(val, range(ctx.rank, len(val), ctx.world_size))  # type: ignore[arg-type]
        val_loader = DataLoader(val_shard, shuffle=False, **common)
        return Loaders(train_loader, val_loader, sampler)
