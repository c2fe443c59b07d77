"""Raster helpers for quicklooks: block downsampling and a robust true-colour stretch.

Pure numpy, so they are tested on small arrays without drawing anything.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "block_max",
    "block_mean",
    "block_mode",
    "downsample_factor",
    "stretch_rgb",
]


def downsample_factor(height: int, width: int, max_size_px: int) -> int:
    """The smallest integer block size that brings the longer side to at most ``max_size_px``.

    Raises:
        ValueError: if ``max_size_px`` is smaller than 1.
    """
    if max_size_px < 1:
        raise ValueError(f"max_size_px must be >= 1, got {max_size_px!r}")
    return max(1, math.ceil(max(height, width) / max_size_px))


def _blocks(a: npt.NDArray[np.generic], factor: int, fill: float) -> npt.NDArray[np.generic]:
    """View the last two axes of ``a`` as ``(h, factor, w, factor)`` blocks, padding with ``fill``."""
    *lead, height, width = a.shape
    pad_h, pad_w = -height % factor, -width % factor
    if pad_h or pad_w:
        pad = [(0, 0)] * len(lead) + [(0, pad_h), (0, pad_w)]
        a = np.pad(a, pad, constant_values=fill)
    h, w = a.shape[-2] // factor, a.shape[-1] // factor
    return a.reshape(*lead, h, factor, w, factor)


def block_mean(a: npt.NDArray[np.floating], factor: int) -> npt.NDArray[np.float32]:
    """Mean of each ``factor x factor`` block over the last two axes, ignoring NaN.

    A block of NaN only stays NaN. Edge blocks are averaged over the pixels that exist.
    """
    a = np.asarray(a, dtype=np.float32)
    if factor == 1:
        return a
    finite = np.isfinite(a)
    # Reduce the contiguous axis first: about twice as fast as one reduction over both.
    total = _blocks(np.where(finite, a, np.float32(0)), factor, 0).sum(axis=-1).sum(axis=-2)
    count = _blocks(finite.view(np.uint8), factor, 0).sum(axis=-1, dtype=np.uint32).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def block_max(a: npt.NDArray[np.floating], factor: int) -> npt.NDArray[np.float32]:
    """Maximum of each ``factor x factor`` block, ignoring NaN (NaN where the block is all NaN).

    Debris is a few pixels wide: a block mean would dilute a one-pixel detection below the
    display threshold, a block maximum keeps it visible at any zoom.
    """
    if factor == 1:
        return np.asarray(a, dtype=np.float32)
    blocks = _blocks(np.asarray(a, dtype=np.float32), factor, np.nan)
    return np.fmax.reduce(np.fmax.reduce(blocks, axis=-1), axis=-2).astype(np.float32)


def block_mode(
    codes: npt.NDArray[np.integer], factor: int, num_codes: int
) -> npt.NDArray[np.uint8]:
    """Most frequent code ``0..num_codes-1`` of each block; ties go to the lower code.

    Used for the mask: a block shows what most of its pixels are, so a thin coastline does not
    paint a whole downsampled ocean block as land.
    """
    codes = np.asarray(codes)
    if factor == 1:
        return codes.astype(np.uint8)
    blocks = _blocks(codes.astype(np.int16), factor, -1)
    counts = np.stack([(blocks == c).sum(axis=(-3, -1)) for c in range(num_codes)])
    return np.argmax(counts, axis=0).astype(np.uint8)


def stretch_rgb(
    rgb: npt.NDArray[np.floating],
    *,
    percentiles: tuple[float, float] = (2.0, 98.0),
    gamma: float = 2.0,
    where: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float32]:
    """Map ``(3, H, W)`` reflectance to ``(H, W, 3)`` display values in [0, 1].

    One stretch for all three bands (the lowest band's low percentile to the highest band's
    high percentile) keeps the hue: a per-band stretch would turn blue water grey. A gamma above
    1 (``v ** (1 / gamma)``) lifts dark water, where floating material is, out of the shadows.

    Args:
        rgb: reflectance of B04, B03, B02 (in that order), NaN where missing.
        percentiles: low and high percentiles mapped to 0 and 1, defaults to (2, 98).
        gamma: display gamma, defaults to 2.0.
        where: pixels the percentiles are taken over (e.g. the scored water pixels, so that
            bright clouds do not darken the sea); all finite pixels when None or empty.

    Returns:
        float32 ``(H, W, 3)``; NaN pixels come back as 0 (black).

    Raises:
        ValueError: if ``gamma`` is not positive or ``percentiles`` are not increasing in [0, 100].
    """
    lo_p, hi_p = percentiles
    if not 0.0 <= lo_p < hi_p <= 100.0:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles!r}")
    if not gamma > 0.0:
        raise ValueError(f"gamma must be > 0, got {gamma!r}")
    rgb = np.asarray(rgb, dtype=np.float32)
    finite = np.isfinite(rgb).all(axis=0)
    sample = finite if where is None else finite & where
    if not sample.any():
        sample = finite
    out = np.zeros((*rgb.shape[1:], 3), dtype=np.float32)
    if not sample.any():
        return out
    values = rgb[:, sample]
    lo = float(np.percentile(values, lo_p, axis=1).min())
    hi = float(np.percentile(values, hi_p, axis=1).max())
    scale = hi - lo if hi > lo else 1.0
    with np.errstate(invalid="ignore"):
        v = np.clip((np.moveaxis(rgb, 0, -1) - lo) / scale, 0.0, 1.0) ** (1.0 / gamma)
    out[finite] = v[finite]
    return out
