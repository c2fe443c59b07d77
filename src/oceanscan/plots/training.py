"""Training curves PNG: loss, validation scores and learning rate by epoch, best epoch marked.

Reads the per-epoch history the training loop keeps (and the model bundle records): rows with
``epoch``, ``train_loss``, ``val_f1``, ``lr`` and, where computed, ``val_loss``,
``val_precision``, ``val_recall``, ``val_iou``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes

from oceanscan.plots._figure import new_figure, save_png

__all__ = ["best_epoch", "training_curves_png"]

_LOSS_KEYS = (("train_loss", "train"), ("val_loss", "validation"))
_SCORE_KEYS = (
    ("val_f1", "F1"),
    ("val_precision", "precision"),
    ("val_recall", "recall"),
    ("val_iou", "IoU"),
)
_LR_KEY = "lr"
#: Not in the default colour cycle, so it never matches a metric line.
_BEST_COLOUR = "black"


def _columns(history: Sequence[Mapping[str, Any]]) -> dict[str, npt.NDArray[np.float64]]:
    """Validate the rows and return one float column per key, sorted by epoch.

    A missing or None value becomes NaN (a gap in the line). When an epoch appears twice (a
    resumed run reports it again) the later row wins.
    """
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise TypeError(f"history must be a list of dicts, got {type(history).__name__}")
    if not history:
        raise ValueError("history is empty; it needs at least one row with an 'epoch'")
    by_epoch: dict[float, Mapping[str, Any]] = {}
    keys = ["epoch", *(k for k, _ in (*_LOSS_KEYS, *_SCORE_KEYS)), _LR_KEY]
    for i, row in enumerate(history):
        if not isinstance(row, Mapping):
            raise TypeError(f"history[{i}] must be a dict, got {type(row).__name__}")
        if row.get("epoch") is None:
            raise ValueError(f"history[{i}] has no 'epoch'; every row needs one")
        for key in keys:
            value = row.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TypeError(f"history[{i}][{key!r}] must be a number or None, got {value!r}")
        by_epoch[float(row["epoch"])] = row
    epochs = sorted(by_epoch)
    return {
        key: np.array(
            [math.nan if by_epoch[e].get(key) is None else float(by_epoch[e][key]) for e in epochs]
        )
        for key in keys
    }


def best_epoch(history: Sequence[Mapping[str, Any]]) -> tuple[float, str] | None:
    """The epoch a run would keep, and the metric that chose it.

    Highest ``val_f1`` (the score the training loop ranks checkpoints and stops early on), else
    lowest ``val_loss``, else lowest ``train_loss``; the first epoch wins a tie.

    Returns:
        ``(epoch, key)``, or None when no row has any of the three.

    Raises:
        ValueError: if ``history`` is empty or a row has no ``epoch``.
        TypeError: if ``history`` is not a list of dicts or holds a non-numeric metric.
    """
    cols = _columns(history)
    for key, pick in (
        ("val_f1", np.nanargmax),
        ("val_loss", np.nanargmin),
        ("train_loss", np.nanargmin),
    ):
        if np.isfinite(cols[key]).any():
            return float(cols["epoch"][int(pick(cols[key]))]), key
    return None


def _plot_lines(
    ax: Axes,
    epochs: npt.NDArray[np.float64],
    cols: dict[str, npt.NDArray[np.float64]],
    keys: tuple[tuple[str, str], ...],
) -> bool:
    drawn = False
    for key, label in keys:
        values = cols[key]
        if np.isfinite(values).any():
            marker = "o" if len(epochs) <= 30 else None
            ax.plot(epochs, values, marker=marker, markersize=3, linewidth=1.5, label=label)
            drawn = True
    if drawn:
        ax.legend(fontsize=8)
    else:
        ax.text(
            0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center", va="center", color="grey"
        )
    return drawn


def _plot_learning_rate(
    ax: Axes, epochs: npt.NDArray[np.float64], cols: dict[str, npt.NDArray[np.float64]]
) -> None:
    """The learning rate, on a log axis when it spans more than a factor of ten."""
    lr = cols[_LR_KEY]
    if _plot_lines(ax, epochs, cols, ((_LR_KEY, "learning rate"),)):
        positive = lr[np.isfinite(lr) & (lr > 0)]
        if positive.size == np.isfinite(lr).sum() and positive.max() > 10 * positive.min():
            ax.set_yscale("log")
    ax.set_ylabel("learning rate")
    ax.set_xlabel("epoch")


def _mark_best(
    axes: Sequence[Axes],
    epochs: npt.NDArray[np.float64],
    cols: dict[str, npt.NDArray[np.float64]],
    best: tuple[float, str],
    *,
    chosen: Axes,
) -> None:
    """A dashed line at the best epoch on every panel; its value circled on ``chosen``."""
    epoch, key = best
    value = cols[key][int(np.flatnonzero(epochs == epoch)[0])]
    for ax in axes:
        ax.axvline(epoch, color=_BEST_COLOUR, linestyle="--", linewidth=1)
    chosen.plot(
        [epoch],
        [value],
        marker="o",
        markersize=10,
        markerfacecolor="none",
        markeredgecolor=_BEST_COLOUR,
        markeredgewidth=2,
        linestyle="none",
    )
    chosen.annotate(
        f"best epoch {epoch:g}\n{key} = {value:.4g}",
        (epoch, value),
        xytext=(8, -8),
        textcoords="offset points",
        va="top",
        fontsize=8,
        color=_BEST_COLOUR,
    )


def training_curves_png(
    path_out: str | os.PathLike[str],
    history: Sequence[Mapping[str, Any]],
    *,
    title: str = "training",
) -> Path:
    """Draw three panels by epoch: losses, validation scores, learning rate; mark the best epoch.

    The best epoch (see :func:`best_epoch`) is a dashed vertical line on every panel, with its
    value circled on the panel of the metric that chose it. The learning rate uses a log axis when
    it spans more than a factor of ten (warmup and cosine decay do). Missing values leave gaps.

    Args:
        path_out: destination ``.png`` file; parent directories are created.
        history: one dict per epoch with ``epoch`` and any of ``train_loss``, ``val_loss``,
            ``val_f1``, ``val_precision``, ``val_recall``, ``val_iou``, ``lr``; other keys are
            ignored.
        title: figure title, defaults to ``"training"``.

    Returns:
        ``path_out`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: if ``history`` is empty, a row has no ``epoch`` or ``path_out`` is not a
            ``.png``.
        TypeError: if ``history`` is not a list of dicts or a metric is not a number.
    """
    cols = _columns(history)
    best = best_epoch(history)
    epochs = cols["epoch"]

    fig = new_figure(7.0, 8.0)
    fig.suptitle(title)
    axes = fig.subplots(3, 1, sharex=True)
    loss_ax, score_ax, lr_ax = axes
    _plot_lines(loss_ax, epochs, cols, _LOSS_KEYS)
    loss_ax.set_ylabel("loss")
    if _plot_lines(score_ax, epochs, cols, _SCORE_KEYS):
        score_ax.set_ylim(-0.02, 1.02)
    score_ax.set_ylabel("validation score")

    _plot_learning_rate(lr_ax, epochs, cols)
    if best is not None:
        _mark_best(axes, epochs, cols, best, chosen=score_ax if best[1] == "val_f1" else loss_ax)
    for ax in axes:
        ax.grid(alpha=0.3)
    return save_png(fig, path_out)
