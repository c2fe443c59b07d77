"""The Ray tasks of a scan: read one tile, write one tile core.

They live apart from :mod:`oceanscan.scan.pipeline` so that a Ray worker running them imports
only what they need (numpy, rasterio, zarr: about 0.4 s) and not the driver's geopandas, pandas
and scipy (0.7 s more), a cost paid by every fresh worker process at the start of each run.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from oceanscan.allocator import keep_freed_memory
from oceanscan.scan.reader import read_window
from oceanscan.scan.store import FILL, quantize, write_core
from oceanscan.scan.tiling import TileSpec, crop_core, pad_to_tile
from oceanscan.scene import SceneSpec
from oceanscan.sentinel2 import BANDS, MASK_NODATA

__all__ = ["read_batch", "read_tile", "write_batch", "write_tile"]


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


def read_batch(
    batch: Mapping[str, npt.NDArray[Any]],
    *,
    scenes: Mapping[str, SceneSpec],
    fail_on_error: bool,
    rio_env: Mapping[str, Any],
) -> dict[str, npt.NDArray[Any]]:
    """Read every tile row of a numpy batch (:func:`read_tile`), as one numpy batch.

    The columns of ``batch`` are kept; ``reflectance`` ``(N, 11, S, S)``, ``mask`` ``(N, C, C)``
    and ``error`` ``(N,)`` are added. For predictor actors that read their own tiles
    (:func:`oceanscan.scan.execute.execute` on CPU clusters).
    """

    def read(row: dict[str, Any]) -> dict[str, Any]:
        return read_tile(row, scenes=scenes, fail_on_error=fail_on_error, rio_env=rio_env)

    # The tiles at once: GDAL releases the GIL while it waits on a remote range request or
    # decodes a block, so the latency of cloud reads overlaps instead of adding up.
    tiles = _rows(batch)
    with ThreadPoolExecutor(max_workers=max(1, len(tiles))) as pool:
        rows = list(pool.map(read, tiles))
    out = {c: np.asarray(values) for c, values in batch.items()}
    out["reflectance"] = np.stack([r["reflectance"] for r in rows])
    out["mask"] = np.stack([r["mask"] for r in rows])
    out["error"] = np.array([r["error"] for r in rows], dtype=object)
    return out


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


def write_batch(
    batch: Mapping[str, npt.NDArray[Any]],
    *,
    root: str,
    storage_options: Mapping[str, Any],
    step: int,
) -> dict[str, npt.NDArray[Any]]:
    """Write every tile of a scored numpy batch (:func:`write_tile`); their summaries as a batch.

    For predictor actors that write their own tiles (:func:`oceanscan.scan.execute.execute` on
    CPU clusters).
    """
    summaries = [
        write_tile(row, root=root, storage_options=storage_options, step=step)
        for row in _rows(batch)
    ]
    return {key: np.array([s[key] for s in summaries]) for key in summaries[0]}


def _rows(batch: Mapping[str, npt.NDArray[Any]]) -> list[dict[str, Any]]:
    """The rows of a numpy batch (a dict of equally long columns), one dict per row."""
    columns = list(batch)
    count = len(batch[columns[0]]) if columns else 0
    return [{c: batch[c][i] for c in columns} for i in range(count)]
