"""Reading a scan store back for comparisons: a tree digest of its files, its scenes as plain
arrays and attributes, the chunk files of a scene, and the scene statuses a reader sees now."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from oceanscan.scan.store import store_url

__all__ = [
    "RUN_SPECIFIC",
    "assert_same_store",
    "assert_scene_equal",
    "chunk_files",
    "scene_statuses",
    "store_snapshot",
    "tree_digest",
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
