"""The training loop on a Ray Train worker: DDP, ``ray.train.report`` and resume from Ray's checkpoint.

Each ``TorchTrainer`` worker runs :func:`train_loop_per_worker`, which validates the config dict
Ray hands it and runs :func:`oceanscan.train.loop.train_loop` with a :class:`RayBackend`. Ray
Train's checkpoint manager keeps the best checkpoints (``CheckpointConfig`` in
:mod:`oceanscan.train.ray_trainer`); the driver exports the best one after ``fit()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ray.train
import ray.train.torch
import torch
from torch import nn

from oceanscan.train.backend import EpochHook, TrainBackend
from oceanscan.train.config import TrainConfig
from oceanscan.train.distributed import WorkerContext
from oceanscan.train.loop import train_loop

__all__ = ["RayBackend", "train_loop_per_worker", "worker_context"]


def worker_context() -> WorkerContext:
    """Ask Ray Train for this worker's rank; outside Ray Train, act as rank 0 of a world of 1."""
    try:
        ctx = ray.train.get_context()
        rank, world, local = ctx.get_world_rank(), ctx.get_world_size(), ctx.get_local_rank()
    except RuntimeError:
        return WorkerContext(rank=0, world_size=1, local_rank=0, under_ray=False)
    return WorkerContext(rank=rank, world_size=world, local_rank=local, under_ray=True)


class RayBackend(TrainBackend):
    """A Ray Train worker: its device, DDP via ``prepare_model``, reports to the controller."""

    def __init__(self) -> None:
        super().__init__(worker_context())

    def device(self, use_gpu: bool) -> torch.device:
        """The device Ray Train assigned to this worker (``use_gpu`` is in its ScalingConfig)."""
        return ray.train.torch.get_device()

    def prepare_model(self, model: nn.Module, device: torch.device) -> nn.Module:
        """Moved to the worker's device and wrapped in DDP when there is more than one worker.

        DDP also broadcasts rank 0's weights; the loop seeds every rank alike, so that changes
        nothing.
        """
        return ray.train.torch.prepare_model(model)

    @contextmanager
    def restore(self) -> Iterator[Path | None]:
        """The latest checkpoint Ray Train hands back after a restart (or a reused run name)."""
        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as directory:
            yield Path(directory)

    def report(self, metrics: dict[str, Any], checkpoint: Path | None, *, improved: bool) -> None:
        """``ray.train.report`` on every rank (a barrier); Ray's manager ranks the checkpoints."""
        ray.train.report(
            metrics,
            checkpoint=ray.train.Checkpoint.from_directory(checkpoint) if checkpoint else None,
        )


def train_loop_per_worker(config: dict[str, Any], *, on_epoch_end: EpochHook | None = None) -> None:
    """What each Ray Train worker runs: the training loop with a :class:`RayBackend`.

    Args:
        config: a :class:`~oceanscan.train.config.TrainConfig` as a dict (``model_dump()``): Ray
            Train hands the per-worker function a plain dict.
        on_epoch_end: see :data:`oceanscan.train.backend.EpochHook`; bound with
            ``functools.partial`` so that Ray still sees one required argument.

    Raises:
        oceanscan.errors.ConfigError: if ``config`` does not validate.
    """
    from oceanscan.config import validate_config

    cfg = validate_config(config, TrainConfig, source="train_loop_per_worker config")
    train_loop(cfg, RayBackend(), on_epoch_end=on_epoch_end)
