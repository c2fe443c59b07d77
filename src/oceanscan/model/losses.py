"""The combined segmentation loss: soft Dice + focal + weighted cross-entropy.

Marine debris covers well under 1 % of MARIDA's labelled pixels, so plain cross-entropy is won by
predicting water everywhere. Each term answers part of that: Dice scores the overlap of the rare
class regardless of how much water surrounds it, focal loss (Lin et al. 2017, "Focal Loss for
Dense Object Detection", ICCV) down-weights the easy water pixels, and class-weighted cross-entropy
keeps calibrated per-pixel probabilities. Composite imbalance-aware losses of this kind lift the
binary debris F1 of a U-Net to 0.90 on MARIDA (Bouchelaghem et al. 2026, Frontiers in Marine
Science; see ``../shared/reference/marida_constants.json``).

Every term ignores unlabelled pixels (target :data:`oceanscan.classes.IGNORE_INDEX`) and returns
a zero that still carries a gradient, never NaN, for a batch without a labelled pixel. All terms
compute in float32 whatever the autocast dtype of the logits. None of them synchronises the
device with the host, so they cost nothing extra inside a CUDA training step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from oceanscan.classes import IGNORE_INDEX

__all__ = [
    "MARIDA_WEIGHT_OFFSET",
    "CombinedLoss",
    "class_weights_from_counts",
    "dice_loss",
    "focal_loss",
    "weighted_cross_entropy",
]

#: Offset ``c`` of MARIDA's class-weight rule ``w = 1 / ln(c + p)``: ``gen_weights`` in
#: marine-debris/marine-debris.github.io ``semantic_segmentation/unet/utils/assets.py`` defaults
#: to 1.02, and MARIDA's ``train.py`` calls it with 1.03 (the weights the paper trained with).
MARIDA_WEIGHT_OFFSET = 1.03


def _check_inputs(logits: Tensor, target: Tensor) -> None:
    if logits.ndim != 4:
        raise ValueError(f"logits must be (N, K, H, W), got shape {tuple(logits.shape)}")
    expected = (logits.shape[0], *logits.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"target must be (N, H, W) = {expected} to match logits {tuple(logits.shape)}, "
            f"got shape {tuple(target.shape)}"
        )
    if target.dtype != torch.int64:
        raise TypeError(f"target must be an int64 tensor of class indices, got {target.dtype}")


def _labelled(target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor]:
    """Boolean mask of labelled pixels, and the target with ignored pixels set to class 0."""
    valid = target != ignore_index
    return valid, torch.where(valid, target, torch.zeros_like(target))


def dice_loss(
    logits: Tensor,
    target: Tensor,
    *,
    ignore_index: int = IGNORE_INDEX,
    smooth: float = 0.0,
    eps: float = 1e-7,
) -> Tensor:
    """Soft multi-class Dice loss over the labelled pixels of the whole batch.

    For each class ``c`` present in the labelled target, ``dice_c = (2 sum p_c t_c + smooth) /
    (sum p_c + sum t_c + smooth)`` with ``p`` the softmax probabilities and ``t`` the one-hot
    target, sums over every labelled pixel of the batch. The loss is ``1 - mean_c dice_c``.
    Classes absent from the batch's labels are left out of the mean (as in
    segmentation_models_pytorch's multiclass mode), so a batch without debris neither rewards nor
    punishes the debris channel directly; the background class' Dice still punishes false
    positives. Batch-wide sums, rather than per-image ones, keep the few debris pixels of a batch
    from being drowned by images that have none.

    Args:
        logits: ``(N, K, H, W)`` class scores.
        target: ``(N, H, W)`` int64 class indices, ``ignore_index`` where unlabelled.
        ignore_index: target value of unlabelled pixels, defaults to -100.
        smooth: additive smoothing of numerator and denominator, defaults to 0.
        eps: lower bound of the denominator, defaults to 1e-7.

    Returns:
        A scalar in [0, 1]; 0 (with a gradient) when no pixel is labelled.
    """
    _check_inputs(logits, target)
    valid, safe = _labelled(target, ignore_index)
    k = logits.shape[1]
    mask = valid.unsqueeze(1).float()  # (N, 1, H, W)
    probs = logits.float().softmax(dim=1) * mask
    onehot = F.one_hot(safe, k).permute(0, 3, 1, 2).float() * mask
    dims = (0, 2, 3)
    intersection = (probs * onehot).sum(dims)
    cardinality = probs.sum(dims) + onehot.sum(dims)
    dice = (2.0 * intersection + smooth) / (cardinality + smooth).clamp_min(eps)
    present = (onehot.sum(dims) > 0).float()
    # Zero-label batches: every class is absent, the sum is an all-zero product with the logits.
    return ((1.0 - dice) * present).sum() / present.sum().clamp_min(1.0)


def _alpha_per_class(
    alpha: float | Sequence[float] | Tensor | None, k: int, device: torch.device
) -> Tensor:
    if alpha is None:
        return torch.ones(k, device=device)
    if isinstance(alpha, (int, float)):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"focal alpha must be in [0, 1], got {alpha!r}")
        if k == 2:
            return torch.tensor([1.0 - alpha, alpha], device=device)
        return torch.full((k,), float(alpha), device=device)
    weights = torch.as_tensor(alpha, dtype=torch.float32, device=device)
    if weights.shape != (k,):
        raise ValueError(
            f"focal alpha must be a scalar or one weight per class ({k}), "
            f"got shape {tuple(weights.shape)}"
        )
    return weights


def focal_loss(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: float | Sequence[float] | Tensor | None = 0.25,
    gamma: float = 2.0,
    ignore_index: int = IGNORE_INDEX,
    pixel_weight: Tensor | None = None,
) -> Tensor:
    """Softmax focal loss of Lin et al. 2017, averaged over labelled pixels.

    ``FL = -alpha_t (1 - p_t)^gamma log p_t`` per pixel, with ``p_t`` the softmax probability of
    the true class. For two classes ``alpha`` weights the positive class (1) and ``1 - alpha``
    the negative one, so the loss equals torchvision's ``sigmoid_focal_loss`` on the logit
    difference ``l1 - l0`` (softmax over two logits is the sigmoid of their difference). For more
    classes a scalar ``alpha`` scales every class alike; pass one weight per class to weigh them.

    Args:
        logits: ``(N, K, H, W)`` class scores.
        target: ``(N, H, W)`` int64 class indices, ``ignore_index`` where unlabelled.
        alpha: class balance, defaults to 0.25 (Lin et al.'s best setting with gamma 2);
            a scalar in [0, 1], a sequence of K weights, or None for no weighting.
        gamma: focusing exponent >= 0, defaults to 2.0; 0 gives (alpha-weighted) cross-entropy.
        ignore_index: target value of unlabelled pixels, defaults to -100.
        pixel_weight: ``(N, H, W)`` finite weights >= 0, one per pixel, or None for equal
            weights; the loss is then the weighted mean.

    Returns:
        A scalar; 0 (with a gradient) when no pixel is labelled.

    Raises:
        ValueError: for a negative ``gamma``, a malformed ``alpha`` or a ``pixel_weight`` not
            shaped like ``target``.
    """
    _check_inputs(logits, target)
    if gamma < 0:
        raise ValueError(f"focal gamma must be >= 0, got {gamma!r}")
    valid, safe = _labelled(target, ignore_index)
    log_pt = logits.float().log_softmax(dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
    pt = log_pt.exp()
    alpha_t = _alpha_per_class(alpha, logits.shape[1], logits.device)[safe]
    per_pixel = -alpha_t * (1.0 - pt).pow(gamma) * log_pt
    per_pixel = torch.where(valid, per_pixel, torch.zeros_like(per_pixel))
    weight = _pixel_weights(pixel_weight, valid)
    return (per_pixel * weight).sum() / weight.sum().clamp_min(torch.finfo(torch.float32).tiny)


def _pixel_weights(pixel_weight: Tensor | None, valid: Tensor) -> Tensor:
    """Per-pixel weights, zero where unlabelled: ``pixel_weight`` or ones.

    Per-pixel weights let the few pixels that matter most, such as real spectra pasted into
    synthetic water (:class:`oceanscan.data.materials.PasteRealMaterials`), count for more than
    their number among the hundreds of thousands of water pixels of a batch. Their values are
    the caller's to check (finite, >= 0): looking at them here would make the device wait for
    the host at every step.

    Raises:
        ValueError: when ``pixel_weight`` is not shaped like the target.
    """
    if pixel_weight is None:
        return valid.float()
    if pixel_weight.shape != valid.shape:
        raise ValueError(
            f"pixel_weight must be (N, H, W) = {tuple(valid.shape)} like the target, "
            f"got shape {tuple(pixel_weight.shape)}"
        )
    return pixel_weight.to(device=valid.device, dtype=torch.float32) * valid


def weighted_cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    pixel_weight: Tensor | None = None,
) -> Tensor:
    """Class-weighted cross-entropy, the weighted mean over labelled pixels.

    Equals ``F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index)`` (its
    mean divides by the summed weights of the labelled pixels) except that a batch without a
    labelled pixel gives 0 instead of NaN. A ``pixel_weight`` multiplies each pixel's class
    weight, in the loss and in the mean's divisor alike.

    Args:
        logits: ``(N, K, H, W)`` class scores.
        target: ``(N, H, W)`` int64 class indices, ``ignore_index`` where unlabelled.
        weight: one weight per class, or None for equal weights.
        ignore_index: target value of unlabelled pixels, defaults to -100.
        pixel_weight: ``(N, H, W)`` finite weights >= 0, one per pixel, or None for equal
            weights.

    Returns:
        A scalar; 0 (with a gradient) when no pixel is labelled.
    """
    _check_inputs(logits, target)
    logits = logits.float()
    if weight is not None:
        weight = weight.to(device=logits.device, dtype=torch.float32)
        if weight.shape != (logits.shape[1],):
            raise ValueError(
                f"class weight must have one value per class ({logits.shape[1]}), "
                f"got shape {tuple(weight.shape)}"
            )
    valid, safe = _labelled(target, ignore_index)
    per_pixel_weight = _pixel_weights(pixel_weight, valid)
    if weight is not None:
        per_pixel_weight = per_pixel_weight * weight[safe]
    per_pixel = F.cross_entropy(logits, safe, reduction="none")
    per_pixel = torch.where(valid, per_pixel, torch.zeros_like(per_pixel))
    total = (per_pixel * per_pixel_weight).sum()
    return total / per_pixel_weight.sum().clamp_min(torch.finfo(torch.float32).tiny)


class CombinedLoss(nn.Module):
    """``dice_weight * Dice + focal_weight * focal + ce_weight * weighted cross-entropy``.

    The default mix (0.4 / 0.4 / 0.2) leans on the two imbalance-aware terms and keeps a smaller
    cross-entropy term for calibrated probabilities, in the spirit of the composite loss of
    Bouchelaghem et al. 2026.

    Args:
        class_weights: cross-entropy weight per class (see :func:`class_weights_from_counts`),
            or None for equal weights. Stored as a buffer, so it follows ``.to(device)``.
        dice_weight: weight of :func:`dice_loss`, defaults to 0.4.
        focal_weight: weight of :func:`focal_loss`, defaults to 0.4.
        ce_weight: weight of :func:`weighted_cross_entropy`, defaults to 0.2.
        focal_alpha: ``alpha`` of :func:`focal_loss`, defaults to 0.25.
        focal_gamma: ``gamma`` of :func:`focal_loss`, defaults to 2.0.
        ignore_index: target value of unlabelled pixels, defaults to -100.

    Raises:
        ValueError: for a negative term weight or all-zero term weights.
    """

    class_weights: Tensor | None

    def __init__(
        self,
        class_weights: Tensor | None = None,
        *,
        dice_weight: float = 0.4,
        focal_weight: float = 0.4,
        ce_weight: float = 0.2,
        focal_alpha: float | Sequence[float] | None = 0.25,
        focal_gamma: float = 2.0,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        terms = {"dice_weight": dice_weight, "focal_weight": focal_weight, "ce_weight": ce_weight}
        for name, value in terms.items():
            if value < 0 or not math.isfinite(value):
                raise ValueError(f"CombinedLoss {name} must be a finite number >= 0, got {value!r}")
        if sum(terms.values()) == 0:
            raise ValueError(f"CombinedLoss needs at least one positive term weight, got {terms}")
        if focal_gamma < 0:
            raise ValueError(f"CombinedLoss focal_gamma must be >= 0, got {focal_gamma!r}")
        self.dice_weight = dice_weight
        self.focal_weight = focal_weight
        self.ce_weight = ce_weight
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.ignore_index = ignore_index
        weights = (
            None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        )
        if weights is not None and weights.ndim != 1:
            raise ValueError(
                f"class_weights must be 1-D (one per class), got shape {tuple(weights.shape)}"
            )
        self.register_buffer("class_weights", weights)

    def terms(
        self, logits: Tensor, target: Tensor, pixel_weight: Tensor | None = None
    ) -> dict[str, Tensor]:
        """The three unweighted terms, keyed ``dice``, ``focal`` and ``ce`` (for logging).

        ``pixel_weight`` weighs the pixels of the two per-pixel terms, focal and cross-entropy;
        Dice scores the overlap of the whole batch and is left as it is.
        """
        return {
            "dice": dice_loss(logits, target, ignore_index=self.ignore_index),
            "focal": focal_loss(
                logits,
                target,
                alpha=self.focal_alpha,
                gamma=self.focal_gamma,
                ignore_index=self.ignore_index,
                pixel_weight=pixel_weight,
            ),
            "ce": weighted_cross_entropy(
                logits,
                target,
                weight=self.class_weights,
                ignore_index=self.ignore_index,
                pixel_weight=pixel_weight,
            ),
        }

    def forward(self, logits: Tensor, target: Tensor, pixel_weight: Tensor | None = None) -> Tensor:
        """The weighted sum of the terms for ``logits`` (N, K, H, W) and ``target`` (N, H, W)."""
        t = self.terms(logits, target, pixel_weight)
        return (
            self.dice_weight * t["dice"] + self.focal_weight * t["focal"] + self.ce_weight * t["ce"]
        )


def class_weights_from_counts(
    counts: Sequence[int] | npt.NDArray[np.integer],
    *,
    offset: float = MARIDA_WEIGHT_OFFSET,
) -> Tensor:
    """Cross-entropy class weights from the training set's labelled pixel count per class.

    MARIDA's rule ``w_c = 1 / ln(offset + p_c)``, with ``p_c`` the fraction of labelled pixels in
    class ``c`` (``gen_weights`` in marine-debris/marine-debris.github.io,
    ``semantic_segmentation/unet/utils/assets.py``, called with 1.03 by its ``train.py``). The
    logarithm tempers inverse-frequency weighting: debris at 0.45 % of pixels gets ~10x the
    weight of open water at 36 %, rather than the ~80x of ``1 / p``, and a class with no pixel
    gets the bounded maximum ``1 / ln(offset)``. The weights are scaled to average 1 over the
    classes, which keeps the loss scale independent of K; ratios, which are all the weighted
    mean of cross-entropy depends on, are MARIDA's.

    Args:
        counts: labelled pixels per class, in target order 0..K-1.
        offset: ``c`` of the rule, > 1, defaults to 1.03.

    Returns:
        float32 tensor of K weights with mean 1.

    Raises:
        ValueError: for counts that are not 1-D, negative, not finite, or all zero, or for an
            ``offset`` <= 1.
    """
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"counts must be a 1-D sequence of per-class pixel counts, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"counts must be finite and >= 0, got {arr.tolist()}")
    if arr.sum() == 0:
        raise ValueError("counts are all zero: no labelled pixel to derive class weights from")
    if offset <= 1.0:
        raise ValueError(f"offset must be > 1 (ln(offset) > 0 bounds the weights), got {offset!r}")
    weights = 1.0 / np.log(offset + arr / arr.sum())
    return torch.as_tensor(weights / weights.mean(), dtype=torch.float32)
