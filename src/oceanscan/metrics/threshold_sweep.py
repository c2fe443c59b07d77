"""Histograms of the positive-class probability, from which the decision threshold is chosen.

Precision, recall and F1 at every candidate threshold come from cumulative sums of the
histograms, and workers' histograms merge by addition (see :mod:`oceanscan.metrics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from oceanscan.classes import IGNORE_INDEX
from oceanscan.metrics._counts import ArrayLike, as_tensor, ratio

__all__ = ["ThresholdSweep"]


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
        prob_t, target_t = as_tensor(prob, "prob"), as_tensor(target, "target")
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
            "precision": ratio(tpf, tpf + fpf),
            "recall": ratio(tpf, tpf + fnf),
            "f1": ratio(2 * tpf, 2 * tpf + fpf + fnf),
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
