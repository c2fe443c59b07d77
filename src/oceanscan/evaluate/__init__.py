"""Evaluation: a model bundle on MARIDA-layout patches, and a finished scan against truth rasters.

:mod:`.patches` scores a bundle on a split at its threshold, next to the Floating Debris Index
baseline (``oceanscan evaluate``); :mod:`.scan` scores the stored probabilities of a scan against
the ``truth`` rasters of a synthetic catalog (``oceanscan evaluate-scan``). Both report the same
metrics, false detections per km2 of debris-free water included.

The public names are imported lazily (PEP 562), so evaluating a scan does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DEBRIS_CLASS",
    "TRUTH_ASSET",
    "best_f1_threshold",
    "evaluate_bundle",
    "evaluate_fdi_baseline",
    "evaluate_scan",
]

_MODULES = {
    "best_f1_threshold": "patches",
    "evaluate_bundle": "patches",
    "evaluate_fdi_baseline": "patches",
    "DEBRIS_CLASS": "scan",
    "TRUTH_ASSET": "scan",
    "evaluate_scan": "scan",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module 'oceanscan.evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"oceanscan.evaluate.{_MODULES[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
