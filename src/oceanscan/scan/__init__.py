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
    "Region": "oceanscan.scan.config",
    "ScanConfig": "oceanscan.scan.config",
    "load_scan_config": "oceanscan.scan.config",
    "ScanResult": "oceanscan.scan.pipeline",
    "scan_scenes": "oceanscan.scan.pipeline",
    "scan_regions": "oceanscan.scan.runner",
    "scan_inputs": "oceanscan.scan.files",
    "SceneChunk": "oceanscan.scan.reader",
    "read_window": "oceanscan.scan.reader",
    "TileSpec": "oceanscan.scan.tiling",
    "plan_tiles": "oceanscan.scan.tiling",
    "evaluate_scan": "oceanscan.evaluate.scan",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module 'oceanscan.scan' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULES[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
