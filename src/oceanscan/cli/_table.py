"""The metrics table that ``oceanscan evaluate`` and ``oceanscan evaluate-scan`` print."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["METRICS_HEADER", "metrics_columns"]

#: The column titles over :func:`metrics_columns`.
METRICS_HEADER = f"{'precision':>9s} {'recall':>9s} {'f1':>9s} {'iou':>9s}"


def metrics_columns(row: Mapping[str, Any]) -> str:
    """Precision, recall, F1 and IoU of one result row, aligned under :data:`METRICS_HEADER`."""
    return f"{row['precision']:9.4f} {row['recall']:9.4f} {row['f1']:9.4f} {row['iou']:9.4f}"
