"""The library entry point of training: ``run_training(cfg)``, in this process or on Ray Train."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oceanscan.train.backend import EpochHook
    from oceanscan.train.config import TrainConfig
    from oceanscan.train.export import TrainResult

__all__ = ["run_training"]


def run_training(cfg: TrainConfig, *, on_epoch_end: EpochHook | None = None) -> TrainResult:
    """Train as configured and export the best epoch as a model bundle in ``cfg.out_dir``.

    ``cfg.num_workers == 0`` trains in this process without Ray; otherwise a ``TorchTrainer``
    with that many workers runs on the Ray cluster this process is connected to (a local one is
    started when there is none). Ray is imported only in the second case.

    Args:
        cfg: the run's configuration.
        on_epoch_end: called on every rank after each epoch is reported; tests use it to inject
            faults (see :data:`oceanscan.train.backend.EpochHook`).

    Raises:
        OceanscanError: if the run kept no checkpoint to export.
        ray.train.TrainingFailedError: if the workers failed more than ``cfg.max_failures`` times.
    """
    if cfg.num_workers == 0:
        from oceanscan.train.local_backend import run_in_process

        return run_in_process(cfg, on_epoch_end=on_epoch_end)
    from oceanscan.train.ray_trainer import run_on_ray

    return run_on_ray(cfg, on_epoch_end=on_epoch_end)
