"""Scene-wide scanning: tiling, reading, prediction, Zarr writing, ledger, pipeline.

The public names below are imported lazily (PEP 562), so a Ray worker that only needs
:mod:`oceanscan.scan.reader` or :mod:`oceanscan.scan.tiling` does not import geopandas, zarr and
the pipeline with them.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Region",
    "ScanConfig",
    "ScanResult",
    "SceneChunk",
    "TileSpec",
    "evaluate_scan",
    "load_scan_config",
    "plan_tiles",
    "read_window",
    "scan_inputs",
    "scan_regions",
    "scan_scenes",
]

_MODULES = {
    "Region": "config",
    "ScanConfig": "config",
    "load_scan_config": "config",
    "ScanResult": "pipeline",
    "scan_scenes": "pipeline",
    "scan_regions": "runner",
    "scan_inputs": "files",
    "SceneChunk": "reader",
    "read_window": "reader",
    "TileSpec": "tiling",
    "plan_tiles": "tiling",
    "evaluate_scan": "evaluate",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module 'oceanscan.scan' has no attribute {name!r}")
    return getattr(importlib.import_module(f"oceanscan.scan.{_MODULES[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
