"""Pictures for people: scene quicklooks, training curves and the precision-recall curve.

Every function takes arrays or plain records and writes one PNG with matplotlib's Agg
renderer, without pyplot, so it runs headless (Ray workers, CI) and leaves no figure open.
"""

from __future__ import annotations

from oceanscan.plots.precision_recall import ISO_F1_LEVELS, pr_curve_png
from oceanscan.plots.quicklook import (
    DETECTION_COLOUR,
    MASK_COLOURS,
    PROBABILITY_ALPHA_FLOOR,
    PROBABILITY_ALPHA_FULL,
    quicklook_png,
)
from oceanscan.plots.training import best_epoch, training_curves_png

__all__ = [
    "DETECTION_COLOUR",
    "ISO_F1_LEVELS",
    "MASK_COLOURS",
    "PROBABILITY_ALPHA_FLOOR",
    "PROBABILITY_ALPHA_FULL",
    "best_epoch",
    "pr_curve_png",
    "quicklook_png",
    "training_curves_png",
]
