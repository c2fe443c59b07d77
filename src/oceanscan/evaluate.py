"""Evaluate a model bundle on a MARIDA-layout split, next to a non-learned FDI baseline.

The model is scored at the decision threshold stored in its bundle (tuned on validation during
training). The baseline is the Floating Debris Index (Biermann et al. 2020, Sci. Rep. 10:5364,
eq. 1; :func:`oceanscan.sentinel2.fdi`) above one threshold, tuned for F1 on the val split of the
same directory, so that both are judged the same way: one threshold chosen on val, scored on the
evaluation split. Only labelled pixels count; unlabelled pixels are neither positive nor negative.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from oceanscan.classes import IGNORE_INDEX, map_labels, positive_class
from oceanscan.data import load_patch, read_split_ids
from oceanscan.metrics import ConfusionMatrix
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


def _labelled_patches(
    root: str | Path, split: str, mapping: str
) -> Iterator[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]]:
    """Reflectance (11,H,W) and binary targets (1 positive, 0 other, IGNORE_INDEX unlabelled)."""
    positive = positive_class(mapping)  # type: ignore[arg-type]
    for patch_id in read_split_ids(root, split):
        reflectance, classes, _ = load_patch(root, patch_id)
        targets = map_labels(classes, mapping)  # type: ignore[arg-type]
        binary = np.where(
            targets == IGNORE_INDEX, IGNORE_INDEX, (targets == positive).astype(np.int64)
        )
        yield np.asarray(reflectance, dtype=np.float32), binary


def _scores(
    confusion: ConfusionMatrix, threshold: float, patches: int, pixels: int
) -> dict[str, Any]:
    m = confusion.metrics(positive=1)
    out: dict[str, Any] = {k: float(m[k]) for k in _METRIC_KEYS}
    out.update(threshold=float(threshold), patches=patches, labelled_pixels=pixels)
    return out


def _update(
    confusion: ConfusionMatrix,
    scores: npt.NDArray[np.floating],
    threshold: float,
    targets: npt.NDArray[np.int64],
) -> int:
    labelled = targets != IGNORE_INDEX
    pred = np.where(np.isfinite(scores), scores >= threshold, False).astype(np.int64)
    confusion.update(torch.from_numpy(pred[labelled]), torch.from_numpy(targets[labelled]))
    return int(labelled.sum())


def evaluate_fdi_baseline(
    root: str | Path, split: str = "test", *, mapping: str = "binary", tune_split: str = "val"
) -> dict[str, Any]:
    """F1, precision, recall and IoU of ``FDI >= t``, with ``t`` tuned for F1 on ``tune_split``."""
    scores, targets = [], []
    for reflectance, binary in _labelled_patches(root, tune_split, mapping):
        labelled = binary != IGNORE_INDEX
        scores.append(fdi(reflectance, axis=0)[labelled])
        targets.append(binary[labelled])
    threshold, _ = best_f1_threshold(
        np.concatenate(scores) if scores else np.zeros(0),
        np.concatenate(targets) if targets else np.zeros(0, dtype=np.int64),
    )
    confusion = ConfusionMatrix(2, ignore_index=IGNORE_INDEX)
    patches = pixels = 0
    for reflectance, binary in _labelled_patches(root, split, mapping):
        pixels += _update(confusion, fdi(reflectance, axis=0), threshold, binary)
        patches += 1
    result = _scores(confusion, threshold, patches, pixels)
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
        ``precision``, ``recall``, ``f1``, ``iou`` and ``threshold`` of the model (at its bundle
        threshold), counts, the bundle's sha256, and ``baseline`` with the same keys for FDI.
    """
    bundle = load_bundle(bundle_dir)
    mapping = str(bundle.meta.get("class_mapping", "binary"))
    confusion = ConfusionMatrix(2, ignore_index=IGNORE_INDEX)
    patches = pixels = 0
    images: list[npt.NDArray[np.float32]] = []
    labels: list[npt.NDArray[np.int64]] = []

    def flush() -> int:
        prob = bundle.predict_proba(np.stack(images))
        n = sum(
            _update(confusion, p, bundle.threshold, t) for p, t in zip(prob, labels, strict=True)
        )
        images.clear()
        labels.clear()
        return n

    for reflectance, binary in _labelled_patches(root, split, mapping):
        if images and reflectance.shape != images[0].shape:
            pixels += flush()
        images.append(reflectance)
        labels.append(binary)
        patches += 1
        if len(images) == batch_size:
            pixels += flush()
    if images:
        pixels += flush()
    result = _scores(confusion, bundle.threshold, patches, pixels)
    result.update(
        split=split,
        data_root=str(root),
        class_mapping=mapping,
        model_sha256=bundle.sha256,
        baseline=evaluate_fdi_baseline(root, split, mapping=mapping),
    )
    return result
