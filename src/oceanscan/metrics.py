"""Segmentation metrics as mergeable counts: a confusion matrix, a threshold sweep, false detections.

All three accumulate raw counts (never ratios), so per-worker results combine exactly by
summing, which is what an all-reduce over Ray Train workers does. Unlabelled pixels
(:data:`oceanscan.classes.IGNORE_INDEX`) are never counted, in particular never as negatives:
MARIDA labels a few pixels per patch and leaves the rest unlabelled, and counting those as
"not debris" would reward a model for ignoring debris it was never shown.

The definitions follow scikit-learn's (``precision_recall_fscore_support``, ``jaccard_score``,
``precision_recall_curve``) with ``zero_division=0``; MARIDA reports its results with those
functions (``semantic_segmentation/unet/evaluation.py`` in marine-debris/marine-debris.github.io).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy import ndimage
from torch import Tensor

from oceanscan.classes import IGNORE_INDEX

__all__ = [
    "ConfusionMatrix",
    "FalseDetections",
    "ThresholdSweep",
    "binary_scores",
    "count_false_detections",
]

ArrayLike = Tensor | npt.NDArray[Any]


def _ratio(num: npt.NDArray[np.float64], den: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Elementwise ``num / den`` with 0.0 where ``den == 0`` (scikit-learn's zero_division=0)."""
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


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


def _as_tensor(x: ArrayLike, name: str) -> Tensor:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")


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
        counts = _as_tensor(matrix, "matrix").to(torch.int64)
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
        pred_t, target_t = _as_tensor(pred, "pred"), _as_tensor(target, "target")
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
        precision = _ratio(tp, tp + fp)
        recall = _ratio(tp, tp + fn)
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)
        iou = _ratio(tp, tp + fp + fn)
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


class ThresholdSweep:
    """Histograms of the positive-class probability, to pick the decision threshold.

    Labelled pixels fall into ``bins`` bins of width ``1 / (bins - 1)``; bin ``i`` holds the
    probabilities ``p`` with ``t_i <= p < t_(i+1)`` for thresholds ``t_i = i / (bins - 1)``
    (1.0 in the last). Counting the
    pixels in bins ``>= i`` gives exactly the pixels with ``p >= i / (bins - 1)``, so precision,
    recall and F1 at every candidate threshold come from two cumulative sums, and workers'
    histograms merge by addition. The threshold resolution is ``1 / (bins - 1)`` (0.001 with the
    default 1001 bins).

    Attributes:
        counts: int64 tensor ``(2, bins)``: row 0 negative pixels, row 1 positive pixels.
        positive_sum: float64 tensor, sum of the probabilities on positive pixels (SUM-reduce).
        positive_max: float64 tensor, their maximum, -inf before any (MAX-reduce).

    Args:
        bins: number of candidate thresholds ``0, 1/(bins-1), ..., 1``, defaults to 1001.
        positive: the target value counted as positive, defaults to 1.
        ignore_index: target value of unlabelled pixels, defaults to -100.

    Raises:
        ValueError: for ``bins`` < 2.
    """

    def __init__(
        self, bins: int = 1001, *, positive: int = 1, ignore_index: int = IGNORE_INDEX
    ) -> None:
        if bins < 2:
            raise ValueError(f"bins must be >= 2, got {bins!r}")
        self.bins = bins
        self.positive = positive
        self.ignore_index = ignore_index
        self.counts: Tensor = torch.zeros(2, bins, dtype=torch.int64)
        self.positive_sum: Tensor = torch.zeros((), dtype=torch.float64)
        self.positive_max: Tensor = torch.full((), float("-inf"), dtype=torch.float64)

    def to(self, device: str | torch.device) -> ThresholdSweep:
        """Move counts and statistics to ``device`` (e.g. for an all-reduce); returns ``self``."""
        self.counts = self.counts.to(device)
        self.positive_sum = self.positive_sum.to(device)
        self.positive_max = self.positive_max.to(device)
        return self

    def update(self, prob: ArrayLike, target: ArrayLike) -> None:
        """Count one batch.

        Args:
            prob: probability of the positive class per pixel, e.g. ``(N, H, W)``, in [0, 1];
                NaN probabilities are skipped.
            target: class indices of the same shape, ``ignore_index`` where unlabelled; every
                labelled value other than ``positive`` is a negative.

        Raises:
            ValueError: for mismatched shapes.
        """
        prob_t, target_t = _as_tensor(prob, "prob"), _as_tensor(target, "target")
        if prob_t.shape != target_t.shape:
            raise ValueError(
                f"prob shape {tuple(prob_t.shape)} differs from "
                f"target shape {tuple(target_t.shape)}"
            )
        device = target_t.device
        if self.counts.device != device:
            self.to(device)
        # Compare in the probabilities' own precision (float32 unless float64), as
        # ``prob >= threshold`` on a float32 array does when the threshold is applied later.
        dtype = torch.float64 if prob_t.dtype == torch.float64 else torch.float32
        p = prob_t.to(device=device, dtype=dtype).reshape(-1)
        t = target_t.reshape(-1)
        keep = (t != self.ignore_index) & ~torch.isnan(p)
        p, is_pos = p[keep].clamp(0.0, 1.0), (t[keep] == self.positive)
        # Bin i holds thresholds[i] <= p < thresholds[i + 1]: a search against the very
        # thresholds reported, so "bin >= i" and "p >= thresholds[i]" agree to the last bit.
        edges = torch.from_numpy(self.thresholds).to(device=device, dtype=dtype)
        index = (torch.searchsorted(edges, p, right=True) - 1).clamp_(0, self.bins - 1)
        self.counts += torch.bincount(
            is_pos.to(torch.int64) * self.bins + index, minlength=2 * self.bins
        ).reshape(2, self.bins)
        pos = p[is_pos].to(torch.float64)
        self.positive_sum += pos.sum()
        if pos.numel():
            self.positive_max = torch.maximum(self.positive_max, pos.max())

    def merge(self, other: ThresholdSweep) -> ThresholdSweep:
        """A new sweep holding both histograms.

        Raises:
            ValueError: if the bin counts differ.
        """
        if not isinstance(other, ThresholdSweep):
            raise TypeError(f"can only merge a ThresholdSweep, got {type(other).__name__}")
        if other.bins != self.bins:
            raise ValueError(f"cannot merge a {other.bins}-bin sweep into a {self.bins}-bin one")
        out = ThresholdSweep(self.bins, positive=self.positive, ignore_index=self.ignore_index)
        out.counts = self.counts.cpu() + other.counts.cpu()
        out.positive_sum = self.positive_sum.cpu() + other.positive_sum.cpu()
        out.positive_max = torch.maximum(self.positive_max.cpu(), other.positive_max.cpu())
        return out

    def __add__(self, other: ThresholdSweep) -> ThresholdSweep:
        return self.merge(other)

    @property
    def thresholds(self) -> npt.NDArray[np.float64]:
        """The candidate thresholds ``i / (bins - 1)``."""
        return np.linspace(0.0, 1.0, self.bins)

    @property
    def num_positive(self) -> int:
        """Positive labelled pixels counted."""
        return int(self.counts[1].sum())

    @property
    def num_negative(self) -> int:
        """Negative labelled pixels counted."""
        return int(self.counts[0].sum())

    @property
    def mean_positive_probability(self) -> float:
        """Mean probability on positive pixels (0.0 before any): how sure the model is on debris."""
        n = self.num_positive
        return float(self.positive_sum) / n if n else 0.0

    @property
    def max_positive_probability(self) -> float:
        """Highest probability on a positive pixel (0.0 before any)."""
        return float(self.positive_max) if self.num_positive else 0.0

    def curve(self, *, prevalence: float | None = None) -> dict[str, npt.NDArray[Any]]:
        """Counts and scores at every threshold, for a precision-recall plot.

        Args:
            prevalence: score as if this fraction of the labelled pixels were positive:
                false positives are scaled by ``(P / N) * (1 - prevalence) / prevalence``, the
                number of negatives such a set would hold per positive. Validation patches are
                chosen for their debris and hold far more of it than a real sea, so a threshold
                tuned on them as they are flags too much of a clean sea. ``None`` (default)
                scores the counts as they are; ``fp`` is always the raw count.

        Returns:
            Arrays of length ``bins``: ``thresholds``, ``tp``, ``fp``, ``fn`` (pixels with
            probability >= threshold), ``precision``, ``recall``, ``f1`` (0.0 on zero division).

        Raises:
            ValueError: for a prevalence outside (0, 1).
        """
        counts = self.counts.detach().cpu().numpy()
        # Suffix sums: pixels whose bin is >= i, i.e. whose probability is >= threshold i.
        fp = counts[0, ::-1].cumsum()[::-1]
        tp = counts[1, ::-1].cumsum()[::-1]
        fn = counts[1].sum() - tp
        tpf, fpf, fnf = tp.astype(np.float64), fp.astype(np.float64), fn.astype(np.float64)
        if prevalence is not None:
            if not 0.0 < prevalence < 1.0:
                raise ValueError(f"prevalence must be within (0, 1), got {prevalence!r}")
            pos, neg = float(counts[1].sum()), float(counts[0].sum())
            if pos > 0 and neg > 0:
                fpf = fpf * (pos / neg) * (1.0 - prevalence) / prevalence
        return {
            "thresholds": self.thresholds,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": _ratio(tpf, tpf + fpf),
            "recall": _ratio(tpf, tpf + fnf),
            "f1": _ratio(2 * tpf, 2 * tpf + fpf + fnf),
        }

    def best_threshold(self, *, prevalence: float | None = None) -> tuple[float, float]:
        """The threshold of highest F1, and that F1.

        F1 is flat between two observed probabilities; among the thresholds of a run of equal,
        maximal F1 the midpoint of the first run is returned, the choice furthest from both
        neighbouring probabilities and so the least sensitive to a shift between validation
        and scan data.

        Args:
            prevalence: tune as if this fraction of pixels were positive (see :meth:`curve`);
                the F1 returned is then the one at that prevalence.

        Returns:
            ``(threshold, f1)``; ``(0.5, 0.0)`` when no positive pixel has been counted.
        """
        curve = self.curve(prevalence=prevalence)
        f1 = curve["f1"]
        best = float(f1.max())
        if best == 0.0:
            return 0.5, 0.0
        start = int(np.argmax(f1 == best))
        stop = start
        while stop + 1 < f1.size and f1[stop + 1] == best:
            stop += 1
        return float(curve["thresholds"][(start + stop) // 2]), best


#: 8-connectivity: flagged pixels that touch by an edge or a corner form one detection, as in
#: the scan's ``detections.parquet`` (:mod:`oceanscan.scan.detections`).
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def count_false_detections(
    flagged: npt.NDArray[np.bool_],
    positive: npt.NDArray[np.bool_],
    negative: npt.NDArray[np.bool_],
) -> int:
    """Detections that contain no labelled debris: flagged components found on clean water.

    The flagged pixels form 8-connected components (``scipy.ndimage.label``), each one
    detection as an analyst would see it. A component is a false detection when none of its
    pixels is labelled positive (debris) and at least one is labelled negative. A component
    lying wholly on unlabelled pixels is not judged, as unlabelled pixels are neither positive
    nor negative in the pixel metrics: MARIDA leaves most pixels unlabelled, and the synthetic
    truth leaves the faint rim and the faintest pixels of debris unlabelled.

    Args:
        flagged: bool ``(H, W)``, the pixels a detector flags (model probability or FDI at or
            above its threshold); one image: components do not continue across calls.
        positive: bool ``(H, W)``, pixels labelled debris (the positive class).
        negative: bool ``(H, W)``, pixels labelled anything else; disjoint from ``positive``.

    Returns:
        The number of false detections.

    Raises:
        ValueError: if the three arrays are not all of one 2-D shape.
    """
    flagged, positive, negative = (np.asarray(a, dtype=bool) for a in (flagged, positive, negative))
    if flagged.ndim != 2 or not flagged.shape == positive.shape == negative.shape:
        raise ValueError(
            f"flagged {flagged.shape}, positive {positive.shape} and negative "
            f"{negative.shape} must be one 2-D shape"
        )
    components, n = ndimage.label(flagged, structure=_EIGHT_CONNECTED)
    if n == 0:
        return 0
    touches_positive = np.zeros(n + 1, dtype=bool)
    touches_positive[components[positive]] = True
    touches_negative = np.zeros(n + 1, dtype=bool)
    touches_negative[components[negative]] = True
    false = touches_negative & ~touches_positive
    false[0] = False  # label 0 is the background, not a component
    return int(false.sum())


@dataclass
class FalseDetections:
    """False detections per km2 of debris-free water, summed over patches or scenes.

    :meth:`update` adds one image's false detections (:func:`count_false_detections`) and its
    negative area: the pixels labelled as anything but debris, times the pixel area. The rate
    divides the two; it does not depend on how many debris objects there are to find, which
    precision does, so it tells what a detector costs an analyst on real seas, which are clean
    almost everywhere. Counts and areas add, so results merge by summing.

    Attributes:
        count: false detections counted.
        debris_free_m2: labelled, non-debris area searched, in square metres.
    """

    count: int = 0
    debris_free_m2: float = 0.0

    def update(
        self,
        flagged: npt.NDArray[np.bool_],
        positive: npt.NDArray[np.bool_],
        negative: npt.NDArray[np.bool_],
        *,
        pixel_area_m2: float = 100.0,
    ) -> None:
        """Count one image (a patch, a scene); arguments as :func:`count_false_detections`.

        Args:
            flagged: bool ``(H, W)``, the flagged pixels.
            positive: bool ``(H, W)``, pixels labelled debris.
            negative: bool ``(H, W)``, pixels labelled anything else.
            pixel_area_m2: area of one pixel in square metres, defaults to 100 (the 10 m grid:
                1e4 pixels per km2).

        Raises:
            ValueError: for mismatched shapes or a pixel area that is not > 0.
        """
        if not pixel_area_m2 > 0:
            raise ValueError(f"pixel_area_m2 must be > 0, got {pixel_area_m2!r}")
        self.count += count_false_detections(flagged, positive, negative)
        self.debris_free_m2 += int(np.count_nonzero(negative)) * float(pixel_area_m2)

    def __add__(self, other: FalseDetections) -> FalseDetections:
        if not isinstance(other, FalseDetections):
            return NotImplemented
        return FalseDetections(self.count + other.count, self.debris_free_m2 + other.debris_free_m2)

    @property
    def debris_free_km2(self) -> float:
        """The labelled, non-debris area searched, in km2."""
        return self.debris_free_m2 / 1e6

    @property
    def per_km2(self) -> float:
        """False detections per km2 of debris-free water; 0.0 when no area is counted.

        Every false detection touches a labelled non-debris pixel, so without area there is no
        false detection either, and 0 / 0 is reported as 0.0 (scikit-learn's zero_division=0).
        """
        return self.count / self.debris_free_km2 if self.debris_free_m2 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """``false_detections``, ``debris_free_km2`` and ``false_detections_per_km2``."""
        return {
            "false_detections": self.count,
            "debris_free_km2": self.debris_free_km2,
            "false_detections_per_km2": self.per_km2,
        }
