"""Segmentation metrics as mergeable counts: a confusion matrix, a threshold sweep, false detections.

All three accumulate raw counts (never ratios), so per-worker results combine exactly by
summing, which is what an all-reduce over Ray Train workers does. Unlabelled pixels
(:data:`oceanscan.classes.IGNORE_INDEX`) are never counted, in particular never as negatives:
MARIDA labels a few pixels per patch and leaves the rest unlabelled, and counting those as
"not debris" would reward a model for ignoring debris it was never shown.

The definitions follow scikit-learn's (``precision_recall_fscore_support``, ``jaccard_score``,
``precision_recall_curve``) with ``zero_division=0``; MARIDA reports its results with those
functions (``semantic_segmentation/unet/evaluation.py`` in marine-debris/marine-debris.github.io).
"""

from oceanscan.metrics.confusion import ConfusionMatrix, binary_scores
from oceanscan.metrics.false_detections import FalseDetections, count_false_detections
from oceanscan.metrics.threshold_sweep import ThresholdSweep

__all__ = [
    "ConfusionMatrix",
    "FalseDetections",
    "ThresholdSweep",
    "binary_scores",
    "count_false_detections",
]
