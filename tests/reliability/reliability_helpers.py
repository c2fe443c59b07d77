"""Builders shared by the reliability tests: the scan tests' tiny bundle and scene writers, a
tree digest of a store, and a way to read a scan store back as plain arrays and attributes."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import ray
import zarr

_SCAN_TESTS = Path(__file__).resolve().parents[1] / "scan"
if str(_SCAN_TESTS) not in sys.path:
    sys.path.insert(0, str(_SCAN_TESTS))

from scan_helpers import make_spec, save_tiny_bundle
from scene_files import write_scene

from oceanscan.scan.config import ScanConfig
from oceanscan.scan.pipeline import scan_scenes
from oceanscan.scan.sources import catalog_scenes
from oceanscan.scan.store import store_url
from oceanscan.synth.catalog import write_catalog

__all__ = [
    "RUN_SPECIFIC",
    "assert_same_store",
    "assert_scene_equal",
    "chunk_files",
    "clean_catalog_scan",
    "make_spec",
    "ray_cluster_env",
    "save_tiny_bundle",
    "scan_command",
    "scene_statuses",
    "store_snapshot",
    "tree_digest",
    "write_scene",
]

#: Scene attributes that differ between two runs of the same inputs by design.
RUN_SPECIFIC = frozenset({"run_id"})


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path (what "unchanged" means on disk)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def store_snapshot(root: Path | str) -> dict[str, dict[str, Any]]:
    """Every scene's probability and mask arrays and attributes (minus run-specific ones)."""
    group = zarr.open_group(store_url(str(root)), mode="r", use_consolidated=False)
    out: dict[str, dict[str, Any]] = {}
    for key, scene in group["scenes"].groups():
        attrs = {k: v for k, v in scene.attrs.items() if k not in RUN_SPECIFIC}
        arrays = {
            name: np.asarray(scene[name][:]) for name in ("probability", "mask") if name in scene
        }
        out[key] = {"attrs": attrs, **arrays}
    return out


#: Metadata documents of Zarr v3 (``zarr.json``) and v2 (``.zarray``, ``.zattrs``...).
_METADATA = frozenset({"zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"})


def chunk_files(root: Path, key: str, array: str = "probability") -> list[Path]:
    """The chunk files a scene's array has on disk, in Zarr v2 or v3 layout."""
    base = Path(store_url(str(root))) / "scenes" / key / array
    if not base.exists():
        return []
    return sorted(p for p in base.rglob("*") if p.is_file() and p.name not in _METADATA)


def scene_statuses(root: Path | str) -> dict[str, str | None]:
    """Each scene's status as a concurrent reader sees it now; {} while there is no store yet."""
    try:
        group = zarr.open_group(store_url(str(root)), mode="r", use_consolidated=False)
        return {key: scene.attrs.get("status") for key, scene in group["scenes"].groups()}
    except (FileNotFoundError, KeyError, ValueError, zarr.errors.BaseZarrError):
        return {}  # being created or rewritten right now


def assert_scene_equal(got: dict[str, Any], ref: dict[str, Any], key: str) -> None:
    """One scene of two :func:`store_snapshot` results is bit-identical (arrays and attributes)."""
    np.testing.assert_array_equal(got["probability"], ref["probability"], err_msg=key)
    np.testing.assert_array_equal(got["mask"], ref["mask"], err_msg=key)
    assert got["attrs"] == ref["attrs"], key


def assert_same_store(snapshot: dict[str, Any], reference: dict[str, Any]) -> None:
    """Two stores hold the same scenes, each bit-identical."""
    assert sorted(snapshot) == sorted(reference)
    for key, ref in reference.items():
        assert_scene_equal(snapshot[key], ref, key)


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


def ray_cluster_env() -> dict[str, str]:
    """The environment for a subprocess that joins this test session's Ray cluster."""
    return {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
