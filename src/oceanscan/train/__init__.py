"""Training: the loop, its LR schedule and early stopping, and where it runs (here or Ray Train).

``run_training(TrainConfig(...))`` is the library entry point behind ``oceanscan train`` and
``jobs/train.py``; ``train_loop_per_worker`` is the function each Ray Train worker runs. The loop
(``loop.train_loop``) is the same in both places; a backend (``local_backend``, ``ray_backend``)
supplies what differs, and ``export.export_run`` ends every run by exporting the best checkpoint.

Names are imported on first use (PEP 562), so that ``oceanscan.train.config`` or
``oceanscan.train.schedule`` can be used without importing the data and model stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "EarlyStopping",
    "EpochHook",
    "TrainBackend",
    "TrainConfig",
    "TrainResult",
    "build_scheduler",
    "build_trainer",
    "export_bundle",
    "export_run",
    "lr_at_step",
    "resolve_storage_path",
    "run_training",
    "train_loop",
    "train_loop_per_worker",
    "train_step",
    "validate",
]

_WHERE = {
    "EarlyStopping": "early_stopping",
    "EpochHook": "backend",
    "TrainBackend": "backend",
    "TrainConfig": "config",
    "TrainResult": "export",
    "build_scheduler": "schedule",
    "build_trainer": "ray_trainer",
    "export_bundle": "export",
    "export_run": "export",
    "lr_at_step": "schedule",
    "resolve_storage_path": "config",
    "run_training": "run",
    "train_loop": "loop",
    "train_loop_per_worker": "ray_backend",
    "train_step": "steps",
    "validate": "steps",
}

if TYPE_CHECKING:
    from oceanscan.train.backend import EpochHook, TrainBackend
    from oceanscan.train.config import TrainConfig, resolve_storage_path
    from oceanscan.train.early_stopping import EarlyStopping
    from oceanscan.train.export import TrainResult, export_bundle, export_run
    from oceanscan.train.loop import train_loop
    from oceanscan.train.ray_backend import train_loop_per_worker
    from oceanscan.train.ray_trainer import build_trainer
    from oceanscan.train.run import run_training
    from oceanscan.train.schedule import build_scheduler, lr_at_step
    from oceanscan.train.steps import train_step, validate


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'oceanscan.train' has no attribute {name!r}")
    return getattr(importlib.import_module(f"oceanscan.train.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
