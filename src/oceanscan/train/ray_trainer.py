"""Ray Train wiring: a ``TorchTrainer`` around the per-worker loop, run from the driver.

The run directory is ``<storage_path>/<run_name>``. Running again with the same storage path and
run name resumes a crashed run from its latest checkpoint (Ray Train V2 restores the run state
from that directory; there is no ``Trainer.restore``). Within a run, ``FailureConfig.max_failures``
restarts a failed worker group from the latest checkpoint.
"""

from __future__ import annotations

import functools
from typing import Any

from oceanscan.errors import OceanscanError
from oceanscan.train import checkpoint as ckpt
from oceanscan.train.backend import EpochHook
from oceanscan.train.config import TrainConfig, resolve_storage_path
from oceanscan.train.export import TrainResult, export_run
from oceanscan.train.ray_backend import train_loop_per_worker

__all__ = ["SCORE_ATTRIBUTE", "build_trainer", "run_on_ray"]

#: The checkpoint metric Ray keeps the best checkpoints by (validation F1 at the tuned threshold).
SCORE_ATTRIBUTE = "val_f1"


def build_trainer(cfg: TrainConfig, *, on_epoch_end: EpochHook | None = None) -> Any:
    """The ``ray.train.torch.TorchTrainer`` for ``cfg`` (``cfg.num_workers`` >= 1).

    Ray Train's checkpoint manager keeps the ``cfg.checkpoints_to_keep`` best checkpoints by
    :data:`SCORE_ATTRIBUTE` (and the latest). ``on_epoch_end`` runs on every worker after each
    epoch (see :data:`oceanscan.train.backend.EpochHook`).
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    if cfg.num_workers < 1:
        raise ValueError(
            f"num_workers must be >= 1 to train on Ray, got {cfg.num_workers}; "
            "use run_training() for an in-process run"
        )
    resources: dict[str, float] = {"CPU": cfg.cpus_per_worker}
    if cfg.use_gpu:
        resources["GPU"] = 1.0
    worker_fn = train_loop_per_worker
    if on_epoch_end is not None:
        worker_fn = functools.partial(train_loop_per_worker, on_epoch_end=on_epoch_end)
    return TorchTrainer(
        worker_fn,
        train_loop_config=cfg.model_dump(mode="json"),
        scaling_config=ScalingConfig(
            num_workers=cfg.num_workers, use_gpu=cfg.use_gpu, resources_per_worker=resources
        ),
        run_config=RunConfig(
            name=cfg.run_name,
            storage_path=resolve_storage_path(cfg.storage_path),
            failure_config=FailureConfig(max_failures=cfg.max_failures),
            checkpoint_config=CheckpointConfig(
                num_to_keep=cfg.checkpoints_to_keep,
                checkpoint_score_attribute=SCORE_ATTRIBUTE,
                checkpoint_score_order="max",
            ),
        ),
    )


def _ensure_ray() -> None:
    """Connect to the cluster in RAY_ADDRESS (set by ``ray job submit``) or start a local Ray."""
    import ray

    if not ray.is_initialized():
        ray.init()


def run_on_ray(cfg: TrainConfig, *, on_epoch_end: EpochHook | None = None) -> TrainResult:
    """Train with ``cfg.num_workers`` Ray Train workers and export the best checkpoint.

    The history comes from the latest checkpoint, which holds every finished epoch once (a
    restarted worker group resumes from it); the exported weights are those of the best one.

    Raises:
        OceanscanError: if the run reported no checkpoint.
        ray.train.TrainingFailedError: if the workers failed more than ``cfg.max_failures`` times.
    """
    _ensure_ray()
    result = build_trainer(cfg, on_epoch_end=on_epoch_end).fit()
    best = result.get_best_checkpoint(metric=SCORE_ATTRIBUTE, mode="max")
    if best is None or result.checkpoint is None:
        raise OceanscanError(
            f"training run {cfg.run_name!r} in {cfg.storage_path!r} reported no checkpoint"
        )
    with result.checkpoint.as_directory() as latest:
        history = ckpt.load_meta(latest).history
    with best.as_directory() as best_dir:
        return export_run(best_dir, cfg, history=history, run_path=result.path)
