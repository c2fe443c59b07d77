"""Ray Train wiring: a ``TorchTrainer`` around the per-worker loop, and the library entry point.

The run directory is ``<storage_path>/<run_name>``. Running again with the same storage path and
run name resumes a crashed run from its latest checkpoint (Ray Train V2 restores the run state
from that directory; there is no ``Trainer.restore``). Within a run, ``FailureConfig.max_failures``
restarts a failed worker group from the latest checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oceanscan.errors import OceanscanError
from oceanscan.train import checkpoint as ckpt
from oceanscan.train.config import TrainConfig, resolve_storage_path
from oceanscan.train.export import export_bundle
from oceanscan.train.loop import train_loop_per_worker

__all__ = ["TrainResult", "build_trainer", "run_training"]

log = logging.getLogger(__name__)

#: The checkpoint metric Ray keeps the best checkpoints by (validation F1 at the tuned threshold).
SCORE_ATTRIBUTE = "val_f1"


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced.

    Attributes:
        bundle_dir: the exported model bundle.
        best_epoch: the epoch of the exported weights.
        metrics: validation metrics of the best epoch.
        history: metrics of every finished epoch, in order, each epoch once.
        run_path: the Ray run directory (checkpoints), or None for an in-process run.
    """

    bundle_dir: Path
    best_epoch: int
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    run_path: str | None


def build_trainer(cfg: TrainConfig) -> Any:
    """The ``ray.train.torch.TorchTrainer`` for ``cfg`` (``cfg.num_workers`` >= 1)."""
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
    return TorchTrainer(
        train_loop_per_worker,
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


def run_training(cfg: TrainConfig) -> TrainResult:
    """Train as configured and export the best epoch as a model bundle in ``cfg.out_dir``.

    ``cfg.num_workers == 0`` trains in this process without Ray; otherwise a ``TorchTrainer``
    with that many workers runs on the Ray cluster this process is connected to (a local one is
    started when there is none).

    Raises:
        OceanscanError: if the run reported no checkpoint.
        ray.train.TrainingFailedError: if the workers failed more than ``cfg.max_failures`` times.
    """
    if cfg.num_workers == 0:
        train_loop_per_worker(cfg.model_dump(mode="json"))
        bundle = Path(cfg.out_dir)
        from oceanscan.model import load_bundle

        meta = load_bundle(bundle).meta
        metrics = dict(meta.get("metrics", {}))
        history = metrics.pop("history", [])
        return TrainResult(
            bundle_dir=bundle,
            best_epoch=int(metrics.get("epoch", 0)),
            metrics=metrics,
            history=history,
            run_path=None,
        )

    _ensure_ray()
    result = build_trainer(cfg).fit()
    best = result.get_best_checkpoint(metric=SCORE_ATTRIBUTE, mode="max")
    if best is None or result.checkpoint is None:
        raise OceanscanError(
            f"training run {cfg.run_name!r} in {cfg.storage_path!r} reported no checkpoint"
        )
    with result.checkpoint.as_directory() as latest:
        history = ckpt.load_meta(latest).history
    with best.as_directory() as best_dir:
        meta = ckpt.load_meta(best_dir)
        bundle = export_bundle(
            best_dir,
            cfg.out_dir,
            history=history,
            extra={"run_name": cfg.run_name, "run_path": result.path},
        )
    log.info("exported epoch %d (val_f1 %.4f) to %s", meta.epoch, meta.metrics["val_f1"], bundle)
    return TrainResult(
        bundle_dir=Path(bundle),
        best_epoch=meta.epoch,
        metrics=meta.metrics,
        history=history,
        run_path=result.path,
    )
