"""Precision-recall PNG: the validation PR curve with the chosen operating point and iso-F1 lines.

Takes the curve :meth:`oceanscan.metrics.ThresholdSweep.curve` returns (arrays ``thresholds``,
``precision``, ``recall``, ``f1``; extra keys such as ``tp`` are ignored) and the threshold the
bundle ships with.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes

from oceanscan.plots._checks import as_unit_float
from oceanscan.plots._figure import new_figure, save_png

__all__ = ["ISO_F1_LEVELS", "pr_curve_png"]

#: F1 values drawn as iso-lines on the precision-recall plane.
ISO_F1_LEVELS = (0.2, 0.4, 0.6, 0.8)
_CURVE_KEYS = ("thresholds", "precision", "recall", "f1")
_CHOSEN_COLOUR = "#d62728"


def _check_curve(curve: Mapping[str, Any]) -> dict[str, npt.NDArray[np.float64]]:
    if not isinstance(curve, Mapping):
        raise TypeError(f"curve must be a dict of arrays {_CURVE_KEYS}, got {type(curve).__name__}")
    missing = [k for k in _CURVE_KEYS if k not in curve]
    if missing:
        raise ValueError(f"curve lacks keys {missing}; it needs {_CURVE_KEYS}")
    arrays: dict[str, npt.NDArray[np.float64]] = {}
    for key in _CURVE_KEYS:
        try:
            arrays[key] = np.asarray(curve[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"curve[{key!r}] must be an array of numbers") from None
        if arrays[key].ndim != 1:
            raise ValueError(f"curve[{key!r}] must be 1-D, got shape {arrays[key].shape}")
    length = arrays["thresholds"].size
    if length == 0:
        raise ValueError("curve['thresholds'] is empty; it needs at least one threshold")
    for key in _CURVE_KEYS[1:]:
        if arrays[key].size != length:
            raise ValueError(
                f"curve[{key!r}] has length {arrays[key].size}; expected {length} to match "
                "curve['thresholds']"
            )
    for key in _CURVE_KEYS:
        values = arrays[key]
        if not np.isfinite(values).all() or values.min() < 0.0 or values.max() > 1.0:
            raise ValueError(f"curve[{key!r}] must hold finite values in [0, 1]")
    if (np.diff(arrays["thresholds"]) <= 0).any():
        raise ValueError("curve['thresholds'] must be strictly increasing")
    return arrays


def _iso_f1(f1: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Points (recall, precision) with ``2PR / (P + R) = f1``, i.e. ``P = f1 R / (2R - f1)``."""
    recall = np.linspace(f1 / 2 + 1e-3, 1.0, 200)
    precision = f1 * recall / (2 * recall - f1)
    keep = precision <= 1.0
    return recall[keep], precision[keep]


def _draw_iso_f1(ax: Axes) -> None:
    """Dotted iso-F1 curves (:data:`ISO_F1_LEVELS`), each labelled at its top end."""
    for level in ISO_F1_LEVELS:
        ri, pi = _iso_f1(level)
        ax.plot(ri, pi, color="grey", linewidth=0.8, alpha=0.5, linestyle=":")
        ax.annotate(
            f"F1={level:g}",
            (ri[-1], pi[-1]),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            fontsize=7,
            color="grey",
        )


def _draw_pr_panel(
    ax: Axes,
    t: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    f1: npt.NDArray[np.float64],
    i: int,
    defined: npt.NDArray[np.bool_],
) -> None:
    """Precision against recall where defined, with threshold ``i`` marked and labelled."""
    _draw_iso_f1(ax)
    ax.plot(r[defined], p[defined], linewidth=1.8, label="model")
    ax.plot(
        [r[i]],
        [p[i]],
        marker="o",
        markersize=9,
        color=_CHOSEN_COLOUR,
        linestyle="none",
        label=f"threshold {t[i]:.3f}",
    )
    # Put the label on the side of the point facing the middle of the plot, inside the axes.
    right, high = r[i] > 0.55, p[i] > 0.55
    ax.annotate(
        f"t = {t[i]:.3f}\nP = {p[i]:.3f}, R = {r[i]:.3f}\nF1 = {f1[i]:.3f}",
        (r[i], p[i]),
        xytext=(-10 if right else 10, -10 if high else 10),
        textcoords="offset points",
        ha="right" if right else "left",
        va="top" if high else "bottom",
        fontsize=8,
        color=_CHOSEN_COLOUR,
    )
    ax.set_xlim(0.0, 1.02)
    ax.set_ylim(0.0, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)


def _draw_threshold_panel(
    ax: Axes,
    t: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    f1: npt.NDArray[np.float64],
    i: int,
    defined: npt.NDArray[np.bool_],
) -> None:
    """F1, precision (where defined) and recall against threshold; threshold ``i`` as a line."""
    ax.plot(t, f1, linewidth=1.8, label="F1")
    ax.plot(t, np.where(defined, p, np.nan), linewidth=1.2, label="precision")
    ax.plot(t, r, linewidth=1.2, label="recall")
    ax.axvline(t[i], color=_CHOSEN_COLOUR, linestyle="--", linewidth=1, label=f"chosen {t[i]:.3f}")
    ax.set_xlim(float(t.min()), float(t.max()) if t.max() > t.min() else float(t.min()) + 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("threshold")
    ax.set_ylabel("score")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def pr_curve_png(
    path_out: str | os.PathLike[str],
    curve: Mapping[str, Any],
    chosen_threshold: float,
    *,
    title: str = "validation precision-recall",
) -> Path:
    """Draw the precision-recall curve with iso-F1 lines, and the scores against threshold.

    Left panel: precision against recall, the chosen threshold's point marked and labelled, and
    iso-F1 curves (:data:`ISO_F1_LEVELS`) for reading F1 off the plane. Thresholds at which no
    pixel is predicted positive (precision and recall both 0) are left out of both precision lines:
    precision is undefined there, not 0. Right panel: F1, precision and recall against
    threshold, the chosen threshold as a vertical line. The point shown is that of the curve's
    threshold nearest to ``chosen_threshold``.

    Args:
        path_out: destination ``.png`` file; parent directories are created.
        curve: 1-D arrays of one length under ``thresholds`` (strictly increasing),
            ``precision``, ``recall`` and ``f1``, all in [0, 1].
        chosen_threshold: the operating threshold in [0, 1], e.g. the bundle's.
        title: figure title, defaults to ``"validation precision-recall"``.

    Returns:
        ``path_out`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: if ``curve`` lacks a key, its arrays differ in length, leave [0, 1] or the
            thresholds do not increase, if ``chosen_threshold`` leaves [0, 1], or if
            ``path_out`` is not a ``.png``.
        TypeError: if ``curve`` is not a dict of numeric arrays or ``chosen_threshold`` is not a
            number.
    """
    arrays = _check_curve(curve)
    chosen = as_unit_float("chosen_threshold", chosen_threshold)
    t, p, r, f1 = (arrays[k] for k in _CURVE_KEYS)
    i = int(np.argmin(np.abs(t - chosen)))

    fig = new_figure(11.0, 5.0)
    fig.suptitle(title)
    pr_ax, t_ax = fig.subplots(1, 2, width_ratios=(1.0, 1.2))

    defined = (p > 0) | (r > 0)
    _draw_pr_panel(pr_ax, t, p, r, f1, i, defined)
    _draw_threshold_panel(t_ax, t, p, r, f1, i, defined)
    return save_png(fig, path_out)
