"""Turn a training checkpoint into a model bundle, the only thing a scan needs.

:func:`export_run` is where every training run ends, in this process or on Ray Train: it exports
the best checkpoint and says what the run produced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oceanscan.model import AttentionUNet, load_bundle, save_bundle
from oceanscan.train import checkpoint as ckpt
from oceanscan.train.config import TrainConfig, recorded_path

__all__ = ["TrainResult", "export_bundle", "export_run"]

log = logging.getLogger(__name__)


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


def export_run(
    best_dir: str | Path,
    cfg: TrainConfig,
    *,
    history: list[dict[str, Any]],
    run_path: str | None,
) -> TrainResult:
    """Export the best checkpoint of a finished run to ``cfg.out_dir`` as a model bundle.

    Args:
        best_dir: the checkpoint of the best epoch.
        cfg: the run's configuration.
        history: metrics of every finished epoch of the run.
        run_path: the Ray Train run directory, recorded in ``model.json`` with the run name;
            None for a run in this process, which keeps no run directory.

    Returns:
        The bundle, the best epoch and its metrics, the history, the run directory.
    """
    meta = ckpt.load_meta(best_dir)
    extra: dict[str, Any] = (
        {} if run_path is None else {"run_name": cfg.run_name, "run_path": run_path}
    )
    if cfg.init_from is not None:
        extra["init_from"] = _provenance(cfg.init_from)
    # The summary was written where the run trained: on a Ray worker, whose working directory is
    # Ray's own, data_root is still the absolute path the workers were given. Here, in the
    # process that launched the run, it can be recorded as the command named it.
    summary = dict(meta.data_summary)
    if "data_root" in summary:
        summary["data_root"] = recorded_path(str(summary["data_root"]))
    bundle = export_bundle(
        best_dir, cfg.out_dir, history=history, extra=extra, data_summary=summary
    )
    log.info("exported epoch %d (val_f1 %.4f) to %s", meta.epoch, meta.metrics["val_f1"], bundle)
    return TrainResult(
        bundle_dir=Path(bundle),
        best_epoch=meta.epoch,
        metrics=meta.metrics,
        history=history,
        run_path=run_path,
    )


def _provenance(bundle_dir: str) -> dict[str, str]:
    """Where a fine-tuned run started: the bundle's path and the sha256 of its weights."""
    return {"bundle": recorded_path(bundle_dir), "sha256": load_bundle(bundle_dir).sha256}


def export_bundle(
    checkpoint_dir: str | Path,
    out_dir: str | Path,
    *,
    history: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    data_summary: dict[str, Any] | None = None,
) -> Path:
    """Export the weights of ``checkpoint_dir`` with its tuned threshold and metrics as a bundle.

    Args:
        checkpoint_dir: a checkpoint written by the training loop (usually the best one).
        out_dir: bundle directory to write (created if missing).
        history: metrics of every epoch of the run; defaults to the checkpoint's own history,
            which ends at the checkpoint's epoch.
        extra: more JSON-serialisable facts for ``model.json`` (run name, storage path...).
        data_summary: what the model was trained on; defaults to the checkpoint's own.

    Returns:
        The bundle directory.
    """
    meta = ckpt.load_meta(checkpoint_dir)
    model = AttentionUNet(**meta.arch)
    model.load_state_dict(ckpt.load_weights(checkpoint_dir))
    metrics = dict(meta.metrics)
    metrics["history"] = history if history is not None else meta.history
    if meta.pr_curve is not None:
        metrics["pr_curve"] = meta.pr_curve
    return save_bundle(
        out_dir,
        model,
        arch=meta.arch,
        class_mapping=meta.class_mapping,
        threshold=float(meta.metrics["threshold"]),
        metrics=metrics,
        data_summary=meta.data_summary if data_summary is None else data_summary,
        normalization=meta.normalization,
        extra={"best_epoch": meta.epoch, **(extra or {})},
    )
