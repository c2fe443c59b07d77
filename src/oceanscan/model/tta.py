"""Test-time augmentation: average a model's probabilities over rotated and mirrored views.

Satellite scenes have no preferred orientation at 10 m, so a rotated or mirrored image is as valid an
input as the original. A trained network still has orientation-specific quirks: measured on real
Sentinel-2 (``benchmarks/real_sea.py``, ``docs/model.md``), most of the shipped model's isolated
false alarms on hazy and glinting water appear in one view and not in its 180-degree turn, while
debris filaments score high in every view. Averaging views therefore quiets water at a cost of one
forward pass per view. Rußwurm et al. (2023, iScience 26(12), "Large-scale detection of marine
debris in coastal areas with Sentinel-2") offer the same option in marinedebrisdetector.

View sets, by the name a model bundle records in ``model.json`` (``inference.tta``):

* ``none``: the image as it is (1 pass);
* ``rot180``: the image and its half turn (2 passes; keeps any rectangular shape);
* ``dihedral``: the 8 rotations and mirrors of the square (8 passes; square inputs only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

__all__ = ["DIHEDRAL", "TTA_VIEWS", "average_views", "check_views"]

#: A view: (quarter turns counter-clockwise in the H, W plane, then mirrored along W).
View = tuple[int, bool]

#: The 8 elements of the dihedral group D4 on a square.
DIHEDRAL: tuple[View, ...] = tuple((k, f) for f in (False, True) for k in range(4))

#: The view sets a bundle or a scan can name.
TTA_VIEWS: Mapping[str, tuple[View, ...]] = {
    "none": ((0, False),),
    "rot180": ((0, False), (2, False)),
    "dihedral": DIHEDRAL,
}


def check_views(name: str) -> str:
    """``name`` if it names a view set of :data:`TTA_VIEWS`.

    Raises:
        ValueError: naming the unknown set and the known ones.
    """
    if name not in TTA_VIEWS:
        raise ValueError(f"unknown test-time augmentation {name!r}; known: {sorted(TTA_VIEWS)}")
    return name


def rot_flip(x: npt.NDArray[np.float32], k: int, flip: bool) -> npt.NDArray[np.float32]:
    """View ``(k, flip)`` of the last two axes of ``x``."""
    out = np.rot90(x, k, axes=(-2, -1))
    return out[..., ::-1] if flip else out


def unrot_flip(x: npt.NDArray[np.float32], k: int, flip: bool) -> npt.NDArray[np.float32]:
    """Map a prediction made on view ``(k, flip)`` back to the input's frame."""
    out = x[..., ::-1] if flip else x
    return np.rot90(out, -k, axes=(-2, -1))


def average_views(
    predict: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]],
    batch: npt.NDArray[np.float32],
    views: str = "dihedral",
) -> npt.NDArray[np.float32]:
    """Mean of ``predict`` over the views ``views`` of ``batch``, each mapped back.

    Args:
        predict: maps ``(N, B, H, W)`` inputs to ``(N, H, W)`` probabilities.
        batch: ``(N, B, H, W)`` images.
        views: a name of :data:`TTA_VIEWS`; ``"none"`` calls ``predict`` once, unchanged.

    Returns:
        ``(N, H, W)`` float32 mean probability.

    Raises:
        ValueError: for an unknown view set, or ``dihedral`` on non-square images (a quarter turn
            would change their shape).
    """
    chosen = TTA_VIEWS[check_views(views)]
    if len(chosen) == 1:
        return predict(batch)
    if any(k % 2 for k, _ in chosen) and batch.shape[-1] != batch.shape[-2]:
        raise ValueError(
            f"test-time augmentation {views!r} turns images by quarter turns and needs square "
            f"images, got shape {batch.shape}; use 'rot180' for rectangles"
        )
    total = np.zeros((batch.shape[0], *batch.shape[-2:]), dtype=np.float32)
    for k, flip in chosen:
        view = np.ascontiguousarray(rot_flip(batch, k, flip))
        total += unrot_flip(predict(view), k, flip)
    return total / np.float32(len(chosen))
