"""Evaluate a model bundle on a MARIDA-layout split, next to a non-learned FDI baseline.

The model is scored at the decision threshold stored in its bundle (tuned on validation during
training). The baseline is the Floating Debris Index (Biermann et al. 2020, Sci. Rep. 10:5364,
eq. 1; :func:`oceanscan.sentinel2.fdi`) above one threshold, tuned for F1 on the val split of the
same directory, so that both are judged the same way: one threshold chosen on val, scored on the
evaluation split. Only labelled pixels count; unlabelled pixels are neither positive nor negative.

Next to precision, recall, F1 and IoU, both report false detections per km2 of debris-free water
(:class:`oceanscan.metrics.FalseDetections`): in each patch, the flagged pixels (model
probability at or above the bundle threshold; FDI at or above its val-tuned threshold) form
8-connected components, and a component with no pixel labelled debris (the positive class) and at
least one labelled otherwise is a false detection; their count over all patches is divided by the
labelled non-debris area of the patches, at 10 m per pixel (1e4 pixels per km2). Components are
per patch: one crossing a patch edge counts once in each patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from oceanscan.classes import IGNORE_INDEX
from oceanscan.data import labelled_batches, labelled_patches
from oceanscan.metrics import ConfusionMatrix, FalseDetections
from oceanscan.model import load_bundle
from oceanscan.sentinel2 import fdi

__all__ = ["best_f1_threshold", "evaluate_bundle", "evaluate_fdi_baseline"]

_METRIC_KEYS = ("precision", "recall", "f1", "iou")


def best_f1_threshold(
    scores: npt.NDArray[np.floating], targets: npt.NDArray[np.integer]
) -> tuple[float, float]:
    """The threshold ``t`` maximising F1 of ``scores >= t`` against binary ``targets``.

    Exact (every distinct score is a candidate), in O(n log n): scores are sorted once and true
    and false positives are cumulative sums. NaN scores are never positive.

    Args:
        scores: one score per labelled pixel, any real range (FDI is reflectance-like).
        targets: 0 or 1 per pixel, same shape.

    Returns:
        ``(threshold, f1)``; ``(inf, 0.0)`` when there is no positive pixel.

    Raises:
        ValueError: if shapes differ or ``targets`` holds values other than 0 and 1.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    targets = np.asarray(targets).ravel()
    if scores.shape != targets.shape:
        raise ValueError(f"scores {scores.shape} and targets {targets.shape} must have one shape")
    if targets.size and not np.isin(targets, (0, 1)).all():
        raise ValueError(f"targets must be 0 or 1, got values {np.unique(targets)[:10]}")
    positives = int(targets.sum())
    finite = np.isfinite(scores)
    scores, targets = scores[finite], targets[finite]
    if positives == 0 or scores.size == 0:
        return float("inf"), 0.0
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], targets[order].astype(np.int64)
    tp = np.cumsum(t)
    fp = np.cumsum(1 - t)
    last = np.r_[s[1:] != s[:-1], True]  # cut only between distinct scores
    f1 = 2 * tp[last] / (tp[last] + fp[last] + positives)
    best = int(np.argmax(f1))
    return float(s[last][best]), float(f1[best])


#: Area of one pixel of MARIDA's (and the synthetic patches') 10 m grid, in square metres.
_PIXEL_AREA_M2 = 100.0


@dataclass
class _Tally:
    """Pixel counts and false detections of one detector over the patches of a split."""

    confusion: ConfusionMatrix = field(
        default_factory=lambda: ConfusionMatrix(2, ignore_index=IGNORE_INDEX)
    )
    false_detections: FalseDetections = field(default_factory=FalseDetections)
    patches: int = 0
    pixels: int = 0

    def add(
        self, scores: npt.NDArray[np.floating], threshold: float, targets: npt.NDArray[np.int64]
    ) -> None:
        """Count one patch: ``scores`` (H, W) flagged at ``threshold`` against ``targets``."""
        labelled = targets != IGNORE_INDEX
        flagged = np.where(np.isfinite(scores), scores >= threshold, False)
        self.confusion.update(
            torch.from_numpy(flagged[labelled].astype(np.int64)),
            torch.from_numpy(targets[labelled]),
        )
        self.false_detections.update(
            flagged, targets == 1, targets == 0, pixel_area_m2=_PIXEL_AREA_M2
        )
        self.patches += 1
        self.pixels += int(labelled.sum())

    def result(self, threshold: float) -> dict[str, Any]:
        m = self.confusion.metrics(positive=1)
        out: dict[str, Any] = {k: float(m[k]) for k in _METRIC_KEYS}
        out.update(self.false_detections.as_dict())
        out.update(threshold=float(threshold), patches=self.patches, labelled_pixels=self.pixels)
        return out


def evaluate_fdi_baseline(
    root: str | Path, split: str = "test", *, mapping: str = "binary", tune_split: str = "val"
) -> dict[str, Any]:
    """Scores of ``FDI >= t`` on ``split``, with ``t`` tuned for F1 on ``tune_split``.

    Args:
        root: MARIDA-layout directory (``patches/``, ``splits/``).
        split: the split scored, defaults to test.
        mapping: class mapping whose positive class is debris, defaults to ``"binary"``.
        tune_split: the split the threshold is tuned on, defaults to val.

    Returns:
        ``precision``, ``recall``, ``f1``, ``iou``, ``false_detections``, ``debris_free_km2``,
        ``false_detections_per_km2`` (see the module docstring), ``threshold``, ``patches``,
        ``labelled_pixels``, ``name`` (``"fdi"``) and ``tuned_on``.
    """
    scores, targets = [], []
    for reflectance, binary in labelled_patches(root, tune_split, mapping):
        labelled = binary != IGNORE_INDEX
        scores.append(fdi(reflectance, axis=0)[labelled])
        targets.append(binary[labelled])
    threshold, _ = best_f1_threshold(
        np.concatenate(scores) if scores else np.zeros(0),
        np.concatenate(targets) if targets else np.zeros(0, dtype=np.int64),
    )
    tally = _Tally()
    for reflectance, binary in labelled_patches(root, split, mapping):
        tally.add(fdi(reflectance, axis=0), threshold, binary)
    result = tally.result(threshold)
    result.update(name="fdi", tuned_on=tune_split)
    return result


def evaluate_bundle(
    root: str | Path, bundle_dir: str | Path, split: str = "test", *, batch_size: int = 8
) -> dict[str, Any]:
    """Score a model bundle on ``split`` of a MARIDA-layout directory, and the FDI baseline.

    Args:
        root: MARIDA-layout directory (``patches/``, ``splits/``).
        bundle_dir: model bundle written by training.
        split: ``"train"``, ``"val"`` or ``"test"``, defaults to test.
        batch_size: patches per forward pass, defaults to 8.

    Returns:
        ``precision``, ``recall``, ``f1``, ``iou``, ``false_detections``, ``debris_free_km2``,
        ``false_detections_per_km2`` (see the module docstring) and ``threshold`` of the model
        (at its bundle threshold), counts, the bundle's sha256, and ``baseline`` with the same
        keys for FDI.
    """
    bundle = load_bundle(bundle_dir)
    mapping = str(bundle.meta.get("class_mapping", "binary"))
    tally = _Tally()
    for images, targets in labelled_batches(root, split, mapping, batch_size=batch_size):
        for p, t in zip(bundle.predict_proba(images), targets, strict=True):
            tally.add(p, bundle.threshold, t)
    result = tally.result(bundle.threshold)
    result.update(
        split=split,
        data_root=str(root),
        class_mapping=mapping,
        model_sha256=bundle.sha256,
        baseline=evaluate_fdi_baseline(root, split, mapping=mapping),
    )
    return result
