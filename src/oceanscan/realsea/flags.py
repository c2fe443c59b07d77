"""Counting flags: the figures every part of the real-sea measurement reports."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from oceanscan.model import ModelBundle
from oceanscan.sentinel2 import fdi

__all__ = [
    "count_components",
    "flag_stats",
    "flags_on_water",
    "recall_at_flag_rate",
    "score_images",
    "side_by_side",
    "within",
]


def score_images(bundle: ModelBundle, images: npt.NDArray[np.float32], batch: int) -> npt.NDArray:
    """Probabilities for ``(N, bands, H, W)`` images, ``batch`` images per forward pass."""
    out = [bundle.predict_proba(images[i : i + batch]) for i in range(0, len(images), batch)]
    return np.concatenate(out, axis=0)


def count_components(mask: npt.NDArray[np.bool_]) -> int:
    """Detections: 8-connected components of ``mask``."""
    return int(ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))[1])


def flag_stats(
    flagged: npt.NDArray[np.bool_], water: npt.NDArray[np.bool_], pixel_area_m2: float = 100.0
) -> dict[str, float | int]:
    """Flagged fraction and detections per km2 of the flags that fall on water.

    Args:
        flagged: bool ``(..., H, W)`` flags.
        water: bool of the same shape, the pixels counted.
        pixel_area_m2: area of one pixel (default 100, the 10 m grid).

    Returns:
        ``water_pixels``, ``flagged_pixels``, ``flagged_fraction``, ``detections`` (8-connected
        components of flagged water pixels, counted per image) and ``detections_per_km2``.

    Raises:
        ValueError: when the shapes differ.
    """
    flagged = np.asarray(flagged, dtype=bool)
    water = np.asarray(water, dtype=bool)
    if flagged.shape != water.shape:
        raise ValueError(f"flags {flagged.shape} and water {water.shape} must have one shape")
    hit = flagged & water
    stack = hit.reshape(-1, *hit.shape[-2:])
    detections = sum(count_components(image) for image in stack)
    water_px = int(water.sum())
    area_km2 = water_px * pixel_area_m2 / 1e6
    return {
        "water_pixels": water_px,
        "flagged_pixels": int(hit.sum()),
        "flagged_fraction": float(hit.sum() / water_px) if water_px else math.nan,
        "detections": int(detections),
        "detections_per_km2": float(detections / area_km2) if water_px else math.nan,
    }


def within(mask: npt.NDArray[np.bool_], px: int) -> npt.NDArray[np.bool_]:
    """Pixels within ``px`` of a pixel of ``mask`` (8-neighbourhood, Chebyshev distance).

    How a hand-traced line is matched: a traced pixel is found when a flag lies this close to
    it, the buffer of line-extraction completeness (Wiedemann et al. 1998, "Empirical
    evaluation of automatically extracted road axes"; the relaxed recall of Mnih and Hinton
    2010, ECCV).
    """
    mask = np.asarray(mask, dtype=bool)
    if px == 0:
        return mask
    return ndimage.binary_dilation(mask, structure=np.ones((3, 3), dtype=bool), iterations=px)


def side_by_side(
    prob: npt.NDArray[np.floating],
    index: npt.NDArray[np.floating],
    threshold: float,
    fdi_threshold: float,
    stat: Callable[[npt.NDArray[np.bool_]], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """``stat`` of the model's flags (``prob >= threshold``) and of FDI's, NaN FDI never flagged."""
    return {
        "model": stat(prob >= threshold),
        "fdi": stat(np.nan_to_num(index, nan=-np.inf) >= fdi_threshold),
    }


def flags_on_water(
    bundle: ModelBundle,
    reflectance: npt.NDArray[np.float32],
    water: npt.NDArray[np.bool_],
    pixel_area_m2: float,
    fdi_threshold: float,
) -> dict[str, dict[str, Any]]:
    """:func:`flag_stats` on ``water`` of the model's and FDI's flags on one image ``(11, H, W)``.

    Every flag is a false alarm where the water holds no known debris.
    """
    prob = bundle.predict_proba(reflectance[None])[0]
    return side_by_side(
        prob,
        fdi(reflectance),
        bundle.threshold,
        fdi_threshold,
        lambda flagged: flag_stats(flagged, water, pixel_area_m2),
    )


def recall_at_flag_rate(
    score: npt.NDArray[np.floating],
    positive: npt.NDArray[np.bool_],
    negative: npt.NDArray[np.bool_],
    rate: float,
    *,
    match_px: int = 0,
) -> float:
    """Recall of ``positive`` pixels at the threshold that flags ``rate`` of ``negative`` ones.

    A figure of how well ``score`` ranks the one above the other, whatever threshold a model
    ships with: two models, or a model and FDI, compared at the same false-alarm rate. The
    threshold is the smallest score that flags at most ``rate`` of the negatives (NaN scores are
    never flagged); ties at it are not flagged. With ``match_px``, a positive pixel counts as
    found when any pixel within ``match_px`` of it (8-neighbourhood) is flagged, as
    :func:`within` matches a hand-traced line (``score`` and the masks must then be 2-D).

    Raises:
        ValueError: for a rate outside [0, 1), masks without a pixel or a negative ``match_px``.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    if match_px < 0:
        raise ValueError(f"match_px must be >= 0, got {match_px}")
    values = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=-np.inf)
    neg = values[np.asarray(negative, bool)]
    if match_px:
        values = ndimage.maximum_filter(
            values, size=2 * match_px + 1, mode="constant", cval=-np.inf
        )
    pos = values[np.asarray(positive, bool)]
    if not len(pos) or not len(neg):
        raise ValueError("positive and negative masks must each hold at least one pixel")
    allowed = math.floor(rate * len(neg))
    threshold = np.sort(neg)[::-1][allowed]  # the (allowed+1)-th highest negative score
    return float((pos > threshold).mean())
