"""The Ray tasks of a scan: read one tile, write one tile core.

They live apart from :mod:`oceanscan.scan.pipeline` so that a Ray worker running them imports
only what they need (numpy, rasterio, zarr: about 0.4 s) and not the driver's geopandas, pandas
and scipy (0.7 s more), a cost paid by every fresh worker process at the start of each run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from oceanscan.allocator import keep_freed_memory
from oceanscan.scan.reader import read_window
from oceanscan.scan.store import FILL, quantize, write_core
from oceanscan.scan.tiling import TileSpec, crop_core, pad_to_tile
from oceanscan.scene import SceneSpec
from oceanscan.sentinel2 import BANDS, MASK_NODATA

__all__ = ["read_tile", "write_tile"]


def read_tile(
    row: dict[str, Any],
    *,
    scenes: Mapping[str, SceneSpec],
    fail_on_error: bool,
    rio_env: Mapping[str, Any],
) -> dict[str, Any]:
    """Ray task: read one tile window with its margin and pad it to the tile square.

    Any exception becomes the row's ``error`` (the scene will be recorded failed with it) rather
    than an exception, which would stop the whole stream and every other scene with it.
    """
    keep_freed_memory()  # every tile allocates arrays of the same sizes
    spec = TileSpec.from_row(row)
    size, c = spec.padded_size, spec.tile_size
    # The core square the predictor's output has; pixels past a partial core stay nodata.
    mask = np.full((c, c), MASK_NODATA, dtype=np.uint8)
    try:
        chunk = read_window(
            scenes[spec.scene_key], spec.read, fail_on_error=fail_on_error, rio_env=rio_env
        )
        reflectance = pad_to_tile(np.asarray(chunk.reflectance, dtype=np.float32), spec)
        h, w = spec.core.height, spec.core.width
        mask[:h, :w] = crop_core(pad_to_tile(chunk.mask, spec), spec)
        row["error"] = ""
    except Exception as err:  # noqa: BLE001  (recorded per scene; see docstring)
        reflectance = np.zeros((len(BANDS), size, size), dtype=np.float32)
        row["error"] = f"tile {spec.index} read {spec.read}: {type(err).__name__}: {err}"
    row["reflectance"] = reflectance
    row["mask"] = mask
    return row


def write_tile(
    row: dict[str, Any], *, root: str, storage_options: Mapping[str, Any], step: int
) -> dict[str, Any]:
    """Ray task: quantize one tile core, write it (one chunk per array), return its summary."""
    keep_freed_memory()
    spec = TileSpec.from_row(row)
    out = {
        "scene_key": spec.scene_key,
        "error": str(row["error"]),
        "scored": 0,
        "debris": 0,
        "max_step": -1,
        "pixels": spec.core.height * spec.core.width,
    }
    if out["error"]:
        return out
    mask = crop_core(np.asarray(row["mask"]), spec)
    stored = quantize(crop_core(np.asarray(row["probability"]), spec), mask)
    try:
        write_core(root, spec.scene_key, spec.core, stored, mask, storage_options=storage_options)
    except Exception as err:  # noqa: BLE001  (a failed write fails its scene, not the run)
        out["error"] = f"tile {spec.index} write: {type(err).__name__}: {err}"
        return out
    scored = stored != FILL
    out["scored"] = int(scored.sum())
    out["debris"] = int((scored & (stored >= step)).sum())
    out["max_step"] = int(stored[scored].max()) if out["scored"] else -1
    return out
