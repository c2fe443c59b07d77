"""The training loop in this process, without Ray: rank 0 of a world of 1 (``num_workers=0``).

Nothing to resume from (a run in this process always starts at epoch 1), and no controller to
report to: :class:`LocalBackend` keeps the best checkpoint itself, in a temporary directory, as Ray
Train's checkpoint manager does for a run on Ray. :func:`run_in_process` exports it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import torch
from torch import nn

from oceanscan.errors import OceanscanError
from oceanscan.train.backend import EpochHook, TrainBackend
from oceanscan.train.config import TrainConfig
from oceanscan.train.distributed import WorkerContext
from oceanscan.train.export import TrainResult, export_run
from oceanscan.train.loop import train_loop

__all__ = ["LocalBackend", "run_in_process"]


class LocalBackend(TrainBackend):
    """This process as the only rank; a context manager that deletes the kept checkpoint on exit."""

    def __init__(self) -> None:
        super().__init__(WorkerContext(rank=0, world_size=1, local_rank=0, under_ray=False))
        self._tmp = tempfile.TemporaryDirectory(prefix="oceanscan-best-")
        self._best = Path(self._tmp.name) / "best"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tmp.cleanup()

    def device(self, use_gpu: bool) -> torch.device:
        """The first GPU when asked for and present, else the CPU."""
        if use_gpu and torch.cuda.is_available():
            return torch.device("cuda", self.context.local_rank)
        return torch.device("cpu")

    def prepare_model(self, model: nn.Module, device: torch.device) -> nn.Module:
        """``model`` on ``device``, unwrapped: there are no other ranks to synchronise with."""
        return model.to(device)

    @contextmanager
    def restore(self) -> Iterator[Path | None]:
        """Nothing: a run in this process keeps no checkpoints beyond its own lifetime."""
        yield None

    def report(self, metrics: dict[str, Any], checkpoint: Path | None, *, improved: bool) -> None:
        """Keep a copy of ``checkpoint`` when it is the best so far."""
        if checkpoint is None or not improved:
            return
        if self._best.exists():
            shutil.rmtree(self._best)
        shutil.copytree(checkpoint, self._best)

    @property
    def best_checkpoint(self) -> Path | None:
        """The best epoch's checkpoint directory, or None before an epoch improved."""
        return self._best if self._best.exists() else None


def run_in_process(cfg: TrainConfig, *, on_epoch_end: EpochHook | None = None) -> TrainResult:
    """Train in this process and export the best epoch as a bundle in ``cfg.out_dir``.

    Raises:
        OceanscanError: if no epoch had a validation F1 to rank it by (all NaN).
    """
    with LocalBackend() as backend:
        history = train_loop(cfg, backend, on_epoch_end=on_epoch_end)
        best = backend.best_checkpoint
        if best is None:
            raise OceanscanError(
                f"training run {cfg.run_name!r} in this process kept no checkpoint: "
                "no epoch had a validation F1"
            )
        return export_run(best, cfg, history=history, run_path=None)
