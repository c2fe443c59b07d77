"""The confusion matrix of a segmentation, and the scores of one class from its counts.

Counts are kept, never ratios, so per-worker matrices merge exactly by summing (see
:mod:`oceanscan.metrics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from oceanscan.classes import IGNORE_INDEX
from oceanscan.metrics._counts import ArrayLike, as_tensor, ratio

__all__ = ["ConfusionMatrix", "binary_scores"]


def binary_scores(tp: float, fp: float, fn: float) -> dict[str, float]:
    """Precision, recall, F1 and IoU of one class from its true/false positive/negative counts.

    Zero divisions give 0.0 (a class never predicted has precision 0, not NaN).

    Args:
        tp: true positives.
        fp: false positives.
        fn: false negatives.

    Returns:
        ``{"precision", "recall", "f1", "iou"}`` as floats.

    Raises:
        ValueError: for a negative count.
    """
    if min(tp, fp, fn) < 0:
        raise ValueError(f"counts must be >= 0, got tp={tp}, fp={fp}, fn={fn}")
    tp, fp, fn = float(tp), float(fp), float(fn)
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "iou": tp / (tp + fp + fn) if tp else 0.0,
    }


class ConfusionMatrix:
    """K x K pixel counts ``[true class, predicted class]`` over labelled pixels.

    The counts stay a tensor on the device of the updates (predictions need not be copied to the
    host); workers can
    ``torch.distributed.all_reduce(cm.counts)`` them in place, or send :attr:`matrix` to the
    driver and :meth:`merge` there.

    Args:
        num_classes: K.
        ignore_index: target value of unlabelled pixels, defaults to -100.

    Raises:
        ValueError: for ``num_classes`` < 2.
    """

    def __init__(self, num_classes: int, *, ignore_index: int = IGNORE_INDEX) -> None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.counts: Tensor = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    @classmethod
    def from_matrix(cls, matrix: ArrayLike, *, ignore_index: int = IGNORE_INDEX) -> ConfusionMatrix:
        """Wrap existing K x K counts (e.g. all-reduced ones).

        Raises:
            ValueError: if ``matrix`` is not square or has negative counts.
        """
        counts = as_tensor(matrix, "matrix").to(torch.int64)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
            raise ValueError(f"matrix must be K x K, got shape {tuple(counts.shape)}")
        if bool((counts < 0).any()):
            raise ValueError("matrix counts must be >= 0")
        cm = cls(counts.shape[0], ignore_index=ignore_index)
        cm.counts = counts.clone()
        return cm

    def to(self, device: str | torch.device) -> ConfusionMatrix:
        """Move the counts to ``device`` (e.g. before an NCCL all-reduce); returns ``self``."""
        self.counts = self.counts.to(device)
        return self

    @property
    def matrix(self) -> npt.NDArray[np.int64]:
        """The counts as a numpy array, rows true class, columns predicted class."""
        return self.counts.detach().cpu().numpy()

    def reset(self) -> None:
        """Zero the counts (keeps their device)."""
        self.counts.zero_()

    def update(self, pred: ArrayLike, target: ArrayLike) -> None:
        """Count one batch.

        Args:
            pred: predicted class indices, any shape (e.g. ``(N, H, W)``).
            target: true class indices of the same shape, ``ignore_index`` where unlabelled.

        Raises:
            ValueError: for mismatched shapes or a labelled value outside 0..K-1.
        """
        pred_t, target_t = as_tensor(pred, "pred"), as_tensor(target, "target")
        if pred_t.shape != target_t.shape:
            raise ValueError(
                f"pred shape {tuple(pred_t.shape)} differs from "
                f"target shape {tuple(target_t.shape)}"
            )
        if self.counts.device != target_t.device:
            self.counts = self.counts.to(target_t.device)
        k = self.num_classes
        pred_t = pred_t.to(device=target_t.device, dtype=torch.int64).reshape(-1)
        target_t = target_t.to(torch.int64).reshape(-1)
        valid = target_t != self.ignore_index
        pred_t, target_t = pred_t[valid], target_t[valid]
        if target_t.numel() and (
            bool(((target_t < 0) | (target_t >= k)).any())
            or bool(((pred_t < 0) | (pred_t >= k)).any())
        ):
            raise ValueError(
                f"class indices must be in 0..{k - 1} (or target {self.ignore_index} for "
                "unlabelled pixels)"
            )
        self.counts += torch.bincount(target_t * k + pred_t, minlength=k * k).reshape(k, k)

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """A new matrix holding the sum of both.

        Raises:
            ValueError: if the class counts differ.
        """
        if not isinstance(other, ConfusionMatrix):
            raise TypeError(f"can only merge a ConfusionMatrix, got {type(other).__name__}")
        if other.num_classes != self.num_classes:
            raise ValueError(
                f"cannot merge a {other.num_classes}-class matrix "
                f"into a {self.num_classes}-class one"
            )
        return ConfusionMatrix.from_matrix(
            self.counts.cpu() + other.counts.cpu(), ignore_index=self.ignore_index
        )

    def __add__(self, other: ConfusionMatrix) -> ConfusionMatrix:
        return self.merge(other)

    def metrics(self, positive: int | None = None) -> dict[str, Any]:
        """Scores from the counts.

        Args:
            positive: the class whose precision, recall, F1 and IoU are reported at the top
                level (the debris class of a binary task, see
                :func:`oceanscan.classes.positive_class`); None to report only per-class and
                macro values.

        Returns:
            ``pixels`` (labelled pixels counted), ``accuracy``, per-class lists
            ``precision_per_class``, ``recall_per_class``, ``f1_per_class``, ``iou_per_class``
            and ``support_per_class``, their unweighted means ``macro_precision``,
            ``macro_recall``, ``macro_f1``, ``miou``; with ``positive``, also ``precision``,
            ``recall``, ``f1``, ``iou``, ``tp``, ``fp``, ``fn`` of that class.

        Raises:
            ValueError: for ``positive`` outside 0..K-1.
        """
        m = self.matrix.astype(np.float64)
        tp = np.diag(m)
        fp = m.sum(axis=0) - tp
        fn = m.sum(axis=1) - tp
        precision = ratio(tp, tp + fp)
        recall = ratio(tp, tp + fn)
        f1 = ratio(2 * tp, 2 * tp + fp + fn)
        iou = ratio(tp, tp + fp + fn)
        out: dict[str, Any] = {
            "pixels": int(m.sum()),
            "accuracy": float(tp.sum() / m.sum()) if m.sum() else 0.0,
            "precision_per_class": precision.tolist(),
            "recall_per_class": recall.tolist(),
            "f1_per_class": f1.tolist(),
            "iou_per_class": iou.tolist(),
            "support_per_class": m.sum(axis=1).astype(np.int64).tolist(),
            "macro_precision": float(precision.mean()),
            "macro_recall": float(recall.mean()),
            "macro_f1": float(f1.mean()),
            "miou": float(iou.mean()),
        }
        if positive is not None:
            if not 0 <= positive < self.num_classes:
                raise ValueError(f"positive must be in 0..{self.num_classes - 1}, got {positive!r}")
            out.update(binary_scores(tp[positive], fp[positive], fn[positive]))
            out.update(tp=int(tp[positive]), fp=int(fp[positive]), fn=int(fn[positive]))
        return out
