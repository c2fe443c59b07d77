"""The training loop: the same code in this process and on every Ray Train worker.

:func:`train_loop` trains one rank's share of a run; a
:class:`~oceanscan.train.backend.TrainBackend` supplies what differs between running in this
process and on a Ray Train worker: the device, the DDP wrapper, the checkpoint to resume from,
and where each epoch's metrics and checkpoint go. This module imports no Ray.

Per epoch: train (AdamW, linear warmup then cosine decay stepped per optimizer step, gradient
clipping), validate (confusion counts and threshold-sweep counts summed over all workers, never an
average of per-worker F1), decide early stopping on rank 0 and broadcast the decision, write the
checkpoint on rank 0 and report it.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from oceanscan.classes import num_classes, positive_class
from oceanscan.data import label_counts
from oceanscan.train import checkpoint as ckpt
from oceanscan.train.backend import EpochHook, Loaders, TrainBackend
from oceanscan.train.config import TrainConfig
from oceanscan.train.datasets import build_datasets, data_summary, input_normalization
from oceanscan.train.distributed import all_gather_objects, broadcast_flag
from oceanscan.train.epoch import run_epoch
from oceanscan.train.rng import rng_state, seed_everything
from oceanscan.train.state import (
    TrainState,
    build_loss,
    build_model,
    build_state,
    initial_weights,
    model_arch,
)

__all__ = ["train_loop"]

log = logging.getLogger(__name__)


def train_loop(
    cfg: TrainConfig, backend: TrainBackend, *, on_epoch_end: EpochHook | None = None
) -> list[dict[str, Any]]:
    """Train the attention U-Net on this rank; see the module docstring for the whole recipe.

    The set-up order is fixed: the ranks seed, build the data, then the model from the same seed,
    then reseed, so that a run draws the same numbers whichever backend runs it.

    Args:
        cfg: the run's configuration.
        backend: where this rank runs.
        on_epoch_end: called on every rank after each epoch is reported (a test hook).

    Returns:
        The metrics of every finished epoch, in order (with those restored from a checkpoint).
    """
    ctx = backend.context
    device = backend.device(cfg.use_gpu)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    seed_everything(cfg.seed + ctx.rank)
    train_ds, val_ds = build_datasets(cfg)
    counts = label_counts(train_ds)  # type: ignore[arg-type]  # untransformed masks
    summary = data_summary(cfg, train_ds, val_ds, counts)
    loaders = backend.prepare_loaders(cfg, train_ds, val_ds, pin=device.type == "cuda")
    arch = model_arch(cfg)
    model = backend.prepare_model(build_model(arch, cfg.seed, initial_weights(cfg, arch)), device)
    seed_everything(cfg.seed + ctx.rank)
    loss_fn = build_loss(cfg, counts, device)
    state = build_state(cfg, model, steps_per_epoch=max(len(loaders.train), 1))
    run = _Run(cfg, backend, state, loss_fn, loaders, device, arch, summary, on_epoch_end)
    return run.fit()


@dataclass
class _Run:
    """One rank's run, once set up: the epoch loop, its resume and its reports."""

    cfg: TrainConfig
    backend: TrainBackend
    state: TrainState
    loss_fn: nn.Module
    loaders: Loaders
    device: torch.device
    arch: dict[str, Any]
    data_summary: dict[str, Any]
    on_epoch_end: EpochHook | None

    def fit(self) -> list[dict[str, Any]]:
        """Run the epochs left after any restored checkpoint, until the last or an early stop."""
        history, start_epoch, resumed_from = self._resume()
        for epoch in range(start_epoch, self.cfg.epochs + 1):
            if self.loaders.sampler is not None:
                self.loaders.sampler.set_epoch(epoch)
            if self._epoch(epoch, resumed_from, history):
                log.info(
                    "early stop after epoch %d (best epoch %s)",
                    epoch,
                    self.state.stopper.best_epoch,
                )
                break
        return history

    def _resume(self) -> tuple[list[dict[str, Any]], int, int | None]:
        """History, first epoch to run and the epoch resumed after (None for a fresh run)."""
        ctx = self.backend.context
        with self.backend.restore() as directory:
            if directory is None:
                return [], 1, None
            meta = self.state.restore(directory, ctx)
        # a run that had already stopped early stays stopped when its name is reused
        start = self.cfg.epochs + 1 if self.state.stopper.should_stop else meta.epoch + 1
        log.info("rank %d resumes after epoch %d", ctx.rank, meta.epoch)
        return list(meta.history), start, meta.epoch

    def _epoch(self, epoch: int, resumed_from: int | None, history: list[dict[str, Any]]) -> bool:
        """Train, validate, decide, report one epoch; True when training stops early."""
        ctx, stopper = self.backend.context, self.state.stopper
        metrics = run_epoch(
            self.cfg,
            self.state,
            self.loss_fn,
            self.loaders,
            device=self.device,
            num_classes=num_classes(self.cfg.class_mapping),
            positive=positive_class(self.cfg.class_mapping),
        )
        pr_curve = metrics.pop("pr_curve")
        metrics.update(epoch=epoch, resumed_from_epoch=resumed_from)
        improved = stopper.step(metrics["val_f1"], epoch) if ctx.is_chief else False
        stop = broadcast_flag(stopper.should_stop if ctx.is_chief else False, self.device)
        metrics.update(best_epoch=stopper.best_epoch, best_val_f1=stopper.best, stopped_early=stop)
        history.append(metrics)
        rng_states = all_gather_objects(rng_state())
        self._report(metrics, history, rng_states, improved=improved, pr_curve=pr_curve)
        if self.on_epoch_end is not None:
            self.on_epoch_end(epoch, ctx)
        return stop

    def _report(
        self,
        metrics: dict[str, Any],
        history: list[dict[str, Any]],
        rng_states: list[dict[str, Any]],
        *,
        improved: bool,
        pr_curve: dict[str, list[float]],
    ) -> None:
        """Rank 0 writes the checkpoint; every rank reports (on Ray, ``report`` is a barrier)."""
        ctx = self.backend.context
        if ctx.is_chief:
            _log_epoch(metrics, self.cfg.epochs)
        with tempfile.TemporaryDirectory(prefix="oceanscan-ckpt-") as tmp:
            checkpoint = None
            if ctx.is_chief:
                checkpoint = Path(tmp)
                meta = ckpt.CheckpointMeta(
                    epoch=metrics["epoch"],
                    metrics=metrics,
                    arch=self.arch,
                    class_mapping=self.cfg.class_mapping,
                    data_summary=self.data_summary,
                    history=history,
                    pr_curve=pr_curve,
                    normalization=input_normalization(self.cfg),
                )
                self.state.save(checkpoint, meta=meta, rng_states=rng_states, seed=self.cfg.seed)
            self.backend.report(metrics, checkpoint, improved=improved)


def _log_epoch(metrics: dict[str, Any], epochs: int) -> None:
    log.info(
        "epoch %d/%d train_loss %.4f val_f1 %.4f at threshold %.3f (argmax %.4f) "
        "train %.1fs val %.1fs",
        metrics["epoch"],
        epochs,
        metrics["train_loss"],
        metrics["val_f1"],
        metrics["threshold"],
        metrics["val_f1_argmax"],
        metrics["train_time_s"],
        metrics["val_time_s"],
    )
