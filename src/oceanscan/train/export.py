"""Turn a training checkpoint into a model bundle, the only thing a scan needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oceanscan.model import AttentionUNet, save_bundle
from oceanscan.train import checkpoint as ckpt

__all__ = ["export_bundle"]


def export_bundle(
    checkpoint_dir: str | Path,
    out_dir: str | Path,
    *,
    history: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Export the weights of ``checkpoint_dir`` with its tuned threshold and metrics as a bundle.

    Args:
        checkpoint_dir: a checkpoint written by the training loop (usually the best one).
        out_dir: bundle directory to write (created if missing).
        history: metrics of every epoch of the run; defaults to the checkpoint's own history,
            which ends at the checkpoint's epoch.
        extra: more JSON-serialisable facts for ``model.json`` (run name, storage path...).

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
        data_summary=meta.data_summary,
        normalization=meta.normalization,
        extra={"best_epoch": meta.epoch, **(extra or {})},
    )
