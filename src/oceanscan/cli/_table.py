"""The metrics table that ``oceanscan evaluate`` and ``oceanscan evaluate-scan`` print."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["METRICS_HEADER", "metrics_columns"]

#: The column titles over :func:`metrics_columns`; ``FD/km2`` is false detections per km2 of
#: debris-free water (:class:`oceanscan.metrics.FalseDetections`).
METRICS_HEADER = f"{'precision':>9s} {'recall':>9s} {'f1':>9s} {'iou':>9s} {'FD/km2':>9s}"


def metrics_columns(row: Mapping[str, Any]) -> str:
    """Precision, recall, F1, IoU and false detections per km2 of one result row.

    Aligned under :data:`METRICS_HEADER`.
    """
    return (
        f"{row['precision']:9.4f} {row['recall']:9.4f} {row['f1']:9.4f} {row['iou']:9.4f} "
        f"{row['false_detections_per_km2']:9.4g}"
    )
