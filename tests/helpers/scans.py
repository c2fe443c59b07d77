"""A clean scan of a synthetic catalog to compare faulty runs with, and the same scan as an
``oceanscan scan`` command line for a subprocess."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from oceanscan.scan.config import ScanConfig
from oceanscan.scan.pipeline import scan_scenes
from oceanscan.scan.sources import catalog_scenes
from oceanscan.synth.catalog import write_catalog
from tests.helpers.bundles import save_tiny_bundle
from tests.helpers.stores import store_snapshot

__all__ = ["clean_catalog_scan", "scan_command"]

#: Scan settings of the subprocess and in-process scans of the catalog tests.
_MARGIN, _BATCH = 8, 2


def clean_catalog_scan(
    base: Path, *, scenes: int, size: int, tile: int, seed: int
) -> dict[str, Any]:
    """Write a synthetic catalog and a tiny bundle under ``base`` and scan it once, cleanly.

    Returns:
        ``base``, ``catalog`` (directory), ``bundle``, ``config`` (of the clean scan; change
        ``root`` to reuse it) and ``clean`` (the clean store's snapshot).
    """
    catalog = write_catalog(base / "catalog", scenes=scenes, size=size, seed=seed).parent
    bundle = save_tiny_bundle(base / "bundle")
    config = ScanConfig(
        model=str(bundle),
        root=str(base / "clean"),
        tile_size_px=tile,
        margin_px=_MARGIN,
        batch_size=_BATCH,
        device="cpu",
        progress_bars=False,
    )
    clean = scan_scenes(catalog_scenes(catalog), config)
    assert len(clean.counts.complete) == scenes
    return {
        "base": base,
        "catalog": catalog,
        "bundle": bundle,
        "config": config,
        "clean": store_snapshot(base / "clean"),
    }


def scan_command(setup: dict[str, Any], root: Path, *, tile: int) -> list[str]:
    """``oceanscan scan`` of ``setup``'s catalog into ``root``, as the clean scan was configured."""
    return [
        sys.executable, "-m", "oceanscan", "scan",
        "--catalog", str(setup["catalog"]),
        "--model", str(setup["bundle"]),
        "--root", str(root),
        "--tile-size", str(tile),
        "--margin", str(_MARGIN),
        "--batch-size", str(_BATCH),
        "--no-progress",
        "--device", "cpu",
    ]  # fmt: skip
