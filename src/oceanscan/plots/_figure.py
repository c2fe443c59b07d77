"""Figures without pyplot: every plot owns its Figure and Agg canvas, so nothing leaks between calls.

pyplot keeps a global list of open figures; a long scan that draws one quicklook per scene
would pile them up (and pyplot picks a GUI backend where one is installed). A bare
:class:`matplotlib.figure.Figure` attached to :class:`FigureCanvasAgg` is garbage once the
function returns and renders the same on a laptop, a Ray worker or CI.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["DPI", "new_figure", "save_png"]

#: Dots per inch of every PNG: figure sizes below are chosen in pixels / DPI.
DPI = 100


def new_figure(width_in: float, height_in: float) -> Figure:
    """A Figure of the given size in inches, drawn by Agg, with constrained layout.

    Args:
        width_in: figure width in inches (``DPI`` pixels per inch).
        height_in: figure height in inches.

    Returns:
        The figure; it is not registered with pyplot.
    """
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path_out: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as a PNG at ``path_out``, creating the parent directory.

    Args:
        fig: the figure to write.
        path_out: destination file; its suffix must be ``.png`` so that the file says what it is.

    Returns:
        ``path_out`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: if ``path_out`` does not end in ``.png``.
    """
    path = Path(path_out)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path_out must end in '.png', got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, facecolor="white")
    return path
