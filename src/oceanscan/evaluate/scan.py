"""Scores of a finished scan against ground truth rasters (the synthetic catalogs' ``truth``).

For every complete scene whose item has a ``truth`` asset (MARIDA class ids on the scene's 10 m
grid, 0 = unlabeled), pixels that were scored and are labeled count: debris (class 1) is the
positive class, every other labeled class negative, as in training (DESIGN.md, "Classes and
labels"). A pixel is predicted debris when its stored probability is at or above the bundle
threshold recorded in the scene's attributes, the same rule as the summary and the detections.

Next to precision, recall, F1 and IoU, each scene and the total report false detections per km2
of debris-free water (:class:`oceanscan.metrics.FalseDetections`): the scored pixels flagged at
the threshold form 8-connected components over the whole scene, as the rows of
``detections.parquet`` do; a component with no pixel labelled debris and at least one labelled
otherwise is a false detection; their count is divided by the area of the scored pixels labelled
otherwise, at the pixel area of the scene's grid (its affine transform: 100 m2 on the 10 m grid).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine

from oceanscan.metrics import FalseDetections, binary_scores
from oceanscan.scan.store import (
    FILL,
    open_root,
    read_probability,
    read_scene_attrs,
    threshold_step,
)
from oceanscan.scene import scene_key
from oceanscan.stac import catalog_items

__all__ = ["DEBRIS_CLASS", "TRUTH_ASSET", "evaluate_scan"]

#: MARIDA class id of Marine Debris (Kikaki et al. 2022).
DEBRIS_CLASS = 1
#: Asset key of the ground truth raster in synthetic catalogs.
TRUTH_ASSET = "truth"


def _truth_hrefs(catalog: str | Path) -> dict[str, str]:
    hrefs = {}
    for item in catalog_items(catalog):
        asset = item.assets.get(TRUTH_ASSET)
        if asset is not None:
            hrefs[scene_key(item.id)] = asset.get_absolute_href() or asset.href
    return hrefs


def _row(tp: int, fp: int, fn: int, pixels: int, false: FalseDetections) -> dict[str, Any]:
    return {
        **binary_scores(tp, fp, fn),
        **false.as_dict(),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "pixels": pixels,
    }


def evaluate_scan(
    root: str, truth: str | Path, *, storage_options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Precision, recall, F1, IoU and false detections per km2 of a scan against truth rasters.

    Args:
        root: the scan's output root.
        truth: a static STAC catalog whose items carry a ``truth`` asset.
        storage_options: fsspec options for ``root``.

    Returns:
        ``{"scenes": {key: row}, "total": row}`` where a row holds ``precision``, ``recall``,
        ``f1``, ``iou``, ``false_detections``, ``debris_free_km2``, ``false_detections_per_km2``
        (see the module docstring), ``tp``, ``fp``, ``fn`` and ``pixels`` (scored, labelled);
        ``total`` pools the counts and areas of all scenes.

    Raises:
        ValueError: when no complete scene of the store has a truth raster, or a truth raster
            is not on its scene's grid.
    """
    hrefs = _truth_hrefs(truth)
    group = open_root(root, storage_options=storage_options, create=False)
    scenes: dict[str, Any] = {}
    totals = np.zeros(4, dtype=np.int64)
    all_false = FalseDetections()
    for key, attrs in sorted(read_scene_attrs(group).items()):
        if attrs.get("status") != "complete" or key not in hrefs:
            continue
        stored = read_probability(group, key)
        with rasterio.open(hrefs[key]) as src:
            labels = src.read(1)
        if labels.shape != stored.shape:
            raise ValueError(
                f"truth raster {hrefs[key]!r} has shape {labels.shape}, scene {key!r} has "
                f"{stored.shape}; truth must be on the scene's 10 m grid"
            )
        tp, fp, fn, pixels, false = _score_scene(stored, labels, attrs)
        totals += (tp, fp, fn, pixels)
        all_false += false
        scenes[key] = _row(tp, fp, fn, pixels, false)
    if not scenes:
        raise ValueError(
            f"no complete scene in {root!r} has a {TRUTH_ASSET!r} raster in {str(truth)!r}"
        )
    tp, fp, fn, pixels = (int(v) for v in totals)
    return {"scenes": scenes, "total": _row(tp, fp, fn, pixels, all_false)}


def _score_scene(
    stored: npt.NDArray[np.uint8], labels: npt.NDArray[Any], attrs: Mapping[str, Any]
) -> tuple[int, int, int, int, FalseDetections]:
    """Pixel counts (tp, fp, fn, scored and labelled) and false detections of one scene."""
    scored = stored != FILL
    valid = scored & (labels != 0)
    flagged = scored & (stored >= threshold_step(float(attrs["threshold"])))
    actual = labels == DEBRIS_CLASS
    tp = int((valid & flagged & actual).sum())
    fp = int((valid & flagged & ~actual).sum())
    fn = int((valid & ~flagged & actual).sum())
    false = FalseDetections()
    false.update(
        flagged,
        valid & actual,
        valid & ~actual,
        pixel_area_m2=abs(Affine(*attrs["spatial:transform"][:6]).determinant),
    )
    return tp, fp, fn, int(valid.sum()), false
