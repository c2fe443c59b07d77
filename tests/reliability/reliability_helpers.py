"""Builders shared by the reliability tests: the scan tests' tiny bundle and scene writers, a
tree digest of a store, and a way to read a scan store back as plain arrays and attributes."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import zarr

_SCAN_TESTS = Path(__file__).resolve().parents[1] / "scan"
if str(_SCAN_TESTS) not in sys.path:
    sys.path.insert(0, str(_SCAN_TESTS))

from scan_helpers import make_spec, save_tiny_bundle
from scene_files import write_scene

from oceanscan.scan.store import store_url

__all__ = [
    "RUN_SPECIFIC",
    "chunk_files",
    "make_spec",
    "save_tiny_bundle",
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
