"""What a training checkpoint directory holds, written and read in one place.

A checkpoint is a plain directory (Ray Train copies it to ``storage_path``):

* ``model.pt``: the unwrapped model's state dict (no DDP ``module.`` prefix), loadable with
  ``weights_only=True``;
* ``train_state.pt``: optimizer, scheduler and early-stopping state, the epoch just finished, and the
  RNG states of every rank, so a resumed run continues the same random stream;
* ``meta.json``: validation metrics and tuned threshold of that epoch, the architecture, the data
  summary and the metrics history of every finished epoch (human-readable, and all that the bundle
  export needs besides the weights).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointMeta", "load_meta", "load_train_state", "load_weights", "save_checkpoint"]

_WEIGHTS = "model.pt"
_STATE = "train_state.pt"
_META = "meta.json"


@dataclass(frozen=True)
class CheckpointMeta:
    """The JSON part of a checkpoint.

    Attributes:
        epoch: the epoch (1-based) whose end the checkpoint captures.
        metrics: validation metrics of that epoch (``val_f1``, ``threshold``...).
        arch: keyword arguments of :class:`oceanscan.model.AttentionUNet`.
        class_mapping: the class mapping trained on.
        data_summary: what the model was trained on (patch counts, label counts, root).
        history: one metrics dict per finished epoch, in order.
        pr_curve: the validation precision-recall curve of this epoch (thresholds, precision,
            recall, f1), from which the threshold was chosen.
        normalization: how reflectance became model input (a bundle's ``normalization``);
            None in checkpoints of runs that only standardized.
    """

    epoch: int
    metrics: dict[str, Any]
    arch: dict[str, Any]
    class_mapping: str
    data_summary: dict[str, Any]
    history: list[dict[str, Any]]
    pr_curve: dict[str, list[float]] | None = None
    normalization: dict[str, Any] | None = None


def save_checkpoint(
    directory: str | Path,
    *,
    weights: dict[str, torch.Tensor],
    train_state: dict[str, Any],
    meta: CheckpointMeta,
) -> Path:
    """Write a checkpoint into ``directory`` (created if missing) and return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in weights.items()}, directory / _WEIGHTS)
    torch.save(train_state, directory / _STATE)
    (directory / _META).write_text(json.dumps(meta.__dict__, indent=1, default=float))
    return directory


def load_weights(directory: str | Path) -> dict[str, torch.Tensor]:
    """The model state dict of a checkpoint, loaded safely (``weights_only=True``)."""
    return torch.load(Path(directory) / _WEIGHTS, map_location="cpu", weights_only=True)


def load_train_state(directory: str | Path) -> dict[str, Any]:
    """Optimizer, scheduler, early-stopping and RNG state of a checkpoint.

    Loaded with ``weights_only=False`` because NumPy and Python RNG states are not tensors: only
    load checkpoints that this run (or a run of yours) wrote.
    """
    return torch.load(Path(directory) / _STATE, map_location="cpu", weights_only=False)


def load_meta(directory: str | Path) -> CheckpointMeta:
    """The JSON part of a checkpoint."""
    return CheckpointMeta(**json.loads((Path(directory) / _META).read_text()))
