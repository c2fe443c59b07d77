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
        BundleError, ConfigError: when ``cfg.init_from`` cannot be read or does not fit the run
            (:func:`oceanscan.train.state.initial_weights`), before anything is trained.
        OceanscanError: if the run kept no checkpoint to export.
        ray.train.TrainingFailedError: if the workers failed more than ``cfg.max_failures`` times.
    """
    if cfg.init_from is not None:
        from oceanscan.train.state import initial_weights, model_arch

        # a bundle that is missing or does not fit is the config's fault: say so here, once,
        # not on every worker after the data is built and again on every retry
        initial_weights(cfg, model_arch(cfg))
    if cfg.num_workers == 0:
        from oceanscan.train.local_backend import run_in_process

        return run_in_process(cfg, on_epoch_end=on_epoch_end)
    from oceanscan.train.ray_trainer import run_on_ray

    return run_on_ray(cfg, on_epoch_end=on_epoch_end)
