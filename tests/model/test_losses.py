"""Loss terms against independent references: hand-computed values, torch's cross-entropy,
torchvision's sigmoid focal loss formula written out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from oceanscan.classes import IGNORE_INDEX
from oceanscan.model import (
    CombinedLoss,
    class_weights_from_counts,
    dice_loss,
    focal_loss,
    weighted_cross_entropy,
)
from tests.helpers.shared import shared_path

IGN = IGNORE_INDEX


def _batch(k: int = 2, seed: int = 0, ignore_fraction: float = 0.3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, k, 8, 8, generator=g) * 2
    target = torch.randint(0, k, (3, 8, 8), generator=g)
    target[torch.rand(3, 8, 8, generator=g) < ignore_fraction] = IGN
    return logits, target


def _sigmoid_focal_reference(inputs, targets, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss (reduction='none'), copied formula by formula."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss


# --- Dice -------------------------------------------------------------------------------------


def test_dice_hand_computed_example():
    # One image, two pixels labelled, one ignored. Logits chosen so softmax gives known values.
    p1 = torch.tensor([0.8, 0.3, 0.9])  # probability of class 1 at the three pixels
    logits = torch.stack([torch.zeros(3), torch.log(p1 / (1 - p1))]).reshape(1, 2, 1, 3)
    target = torch.tensor([[[1, 0, IGN]]])
    # class 1: intersection 0.8, sum p = 0.8 + 0.3, sum t = 1 -> dice = 1.6 / 2.1
    # class 0: intersection 0.7, sum p = 0.2 + 0.7, sum t = 1 -> dice = 1.4 / 1.9
    expected = 1 - (1.6 / 2.1 + 1.4 / 1.9) / 2
    assert dice_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_dice_leaves_out_classes_absent_from_labels():
    p1 = torch.tensor([0.2, 0.4])
    logits = torch.stack([torch.zeros(2), torch.log(p1 / (1 - p1))]).reshape(1, 2, 1, 2)
    target = torch.zeros(1, 1, 2, dtype=torch.int64)  # only class 0 present
    expected = 1 - 2 * (0.8 + 0.6) / ((0.8 + 0.6) + 2)
    assert dice_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_dice_is_zero_for_a_perfect_prediction_and_ignores_unlabelled():
    target = torch.tensor([[[0, 1], [1, IGN]]])
    logits = F.one_hot(target.clamp(min=0), 2).permute(0, 3, 1, 2).float() * 50
    logits[0, :, 1, 1] = torch.tensor([-50.0, 50.0])  # "wrong" at the ignored pixel
    assert dice_loss(logits, target).item() == pytest.approx(0.0, abs=1e-6)


def test_dice_matches_reference_loop():
    logits, target = _batch(k=4, seed=3)
    probs = logits.softmax(1)
    scores = []
    for c in range(4):
        inter = card = 0.0
        present = False
        for n, i, j in np.ndindex(3, 8, 8):
            t = int(target[n, i, j])
            if t == IGN:
                continue
            p = float(probs[n, c, i, j])
            inter += p * (t == c)
            card += p + (t == c)
            present |= t == c
        if present:
            scores.append(2 * inter / card)
    expected = 1 - sum(scores) / len(scores)
    assert dice_loss(logits, target).item() == pytest.approx(expected, rel=1e-5)


# --- Focal ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (0.75, 0.5), (0.5, 0.0)])
def test_binary_focal_equals_torchvision_sigmoid_focal_on_logit_difference(alpha, gamma):
    logits, target = _batch(k=2, seed=1)
    valid = target != IGN
    z = (logits[:, 1] - logits[:, 0])[valid]
    reference = _sigmoid_focal_reference(z, (target[valid] == 1).float(), alpha, gamma).mean()
    ours = focal_loss(logits, target, alpha=alpha, gamma=gamma)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-7)


def test_focal_with_gamma_zero_and_no_alpha_is_cross_entropy():
    logits, target = _batch(k=5, seed=2)
    expected = F.cross_entropy(logits, target, ignore_index=IGN)
    torch.testing.assert_close(focal_loss(logits, target, alpha=None, gamma=0.0), expected)


def test_focal_hand_computed_pixel():
    p = 0.9  # probability of the true class 1
    logits = torch.tensor([0.0, math.log(p / (1 - p))]).reshape(1, 2, 1, 1)
    target = torch.tensor([[[1]]])
    expected = -0.25 * (1 - p) ** 2 * math.log(p)
    assert focal_loss(logits, target).item() == pytest.approx(expected, rel=1e-5)


def test_focal_per_class_alpha():
    logits, target = _batch(k=3, seed=4)
    alpha = torch.tensor([0.2, 0.3, 0.5])
    valid = target != IGN
    logp = logits.log_softmax(1).permute(0, 2, 3, 1)[valid]
    t = target[valid]
    logpt = logp[torch.arange(t.numel()), t]
    expected = (-alpha[t] * (1 - logpt.exp()) ** 2 * logpt).mean()
    torch.testing.assert_close(focal_loss(logits, target, alpha=alpha, gamma=2.0), expected)


@pytest.mark.parametrize("alpha", [1.5, [0.5, 0.5, 0.5]])
def test_focal_rejects_bad_alpha(alpha):
    logits, target = _batch(k=2)
    with pytest.raises(ValueError, match="alpha"):
        focal_loss(logits, target, alpha=alpha)


# --- Cross-entropy ----------------------------------------------------------------------------


def test_weighted_cross_entropy_equals_torch():
    logits, target = _batch(k=3, seed=5)
    weight = torch.tensor([0.5, 2.0, 1.0])
    expected = F.cross_entropy(logits, target, weight=weight, ignore_index=IGN)
    torch.testing.assert_close(weighted_cross_entropy(logits, target, weight=weight), expected)
    torch.testing.assert_close(
        weighted_cross_entropy(logits, target), F.cross_entropy(logits, target, ignore_index=IGN)
    )


def test_pixel_weights_count_a_pixel_that_many_times():
    """Weight 3 on a pixel is the same loss as that pixel present three times."""
    logits, target = _batch(k=2, seed=8, ignore_fraction=0.0)
    weight = torch.ones(3, 8, 8)
    weight[0, 2, 5] = 3.0
    # the same batch with that pixel repeated: two extra images holding it alone
    extra_logits = logits[:1].repeat(2, 1, 1, 1)
    extra_target = torch.full((2, 8, 8), IGN)
    extra_target[:, 2, 5] = target[0, 2, 5]
    repeated = torch.cat([logits, extra_logits]), torch.cat([target, extra_target])
    class_weight = torch.tensor([0.6, 1.7])
    torch.testing.assert_close(
        focal_loss(logits, target, pixel_weight=weight), focal_loss(*repeated)
    )
    torch.testing.assert_close(
        weighted_cross_entropy(logits, target, weight=class_weight, pixel_weight=weight),
        weighted_cross_entropy(*repeated, weight=class_weight),
    )


def test_pixel_weights_of_one_change_nothing_and_leave_dice_alone():
    logits, target = _batch(k=2, seed=9)
    loss = CombinedLoss(torch.tensor([1.0, 4.0]))
    torch.testing.assert_close(loss(logits, target, torch.ones(3, 8, 8)), loss(logits, target))
    weight = torch.rand(3, 8, 8) * 5
    assert loss.terms(logits, target, weight)["dice"] == loss.terms(logits, target)["dice"]
    assert loss(logits, target, weight) != loss(logits, target)


def test_a_pixel_weight_map_of_another_shape_is_refused():
    logits, target = _batch()
    with pytest.raises(ValueError, match="like the target"):
        focal_loss(logits, target, pixel_weight=torch.ones(3, 4, 4))
    with pytest.raises(ValueError, match="like the target"):
        weighted_cross_entropy(logits, target, pixel_weight=torch.ones(3, 8))


# --- Combined ---------------------------------------------------------------------------------


def test_combined_is_the_weighted_sum_of_the_terms():
    logits, target = _batch(k=2, seed=6)
    weight = torch.tensor([0.7, 1.3])
    loss = CombinedLoss(weight, dice_weight=0.5, focal_weight=0.3, ce_weight=0.2, focal_alpha=0.4)
    expected = (
        0.5 * dice_loss(logits, target)
        + 0.3 * focal_loss(logits, target, alpha=0.4, gamma=2.0)
        + 0.2 * F.cross_entropy(logits, target, weight=weight, ignore_index=IGN)
    )
    torch.testing.assert_close(loss(logits, target), expected)


@pytest.mark.parametrize(
    "fn",
    [
        CombinedLoss(torch.tensor([1.0, 5.0])),
        lambda lg, t: dice_loss(lg, t),
        lambda lg, t: focal_loss(lg, t),
        lambda lg, t: weighted_cross_entropy(lg, t, weight=torch.tensor([1.0, 5.0])),
    ],
)
def test_all_unlabelled_batch_gives_zero_with_a_gradient(fn):
    logits = torch.randn(2, 2, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), IGN)
    loss = fn(logits, target)
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()


def test_unlabelled_pixels_do_not_move_any_term():
    logits, target = _batch(k=2, seed=7)
    loss = CombinedLoss(torch.tensor([1.0, 3.0]))
    changed = logits.clone().permute(0, 2, 3, 1)
    changed[target == IGN] = torch.tensor([40.0, -40.0])
    changed = changed.permute(0, 3, 1, 2)
    torch.testing.assert_close(loss(changed, target), loss(logits, target))
    # nor does their weight, nor a non-finite logit there in the weighted per-pixel terms
    weight = torch.rand(3, 8, 8) + 0.5
    heavier = torch.where(target == IGN, 50.0, weight)
    torch.testing.assert_close(loss(changed, target, heavier), loss(logits, target, weight))
    broken = changed.permute(0, 2, 3, 1).clone()
    broken[target == IGN] = torch.tensor([float("inf"), float("nan")])
    broken = broken.permute(0, 3, 1, 2)
    assert torch.isfinite(focal_loss(broken, target, pixel_weight=weight))
    assert torch.isfinite(weighted_cross_entropy(broken, target, pixel_weight=weight))
    logits.requires_grad_(True)
    loss(logits, target).backward()
    assert (logits.grad.permute(0, 2, 3, 1)[target == IGN] == 0).all()


def test_combined_under_bf16_logits_computes_in_float32():
    logits, target = _batch(k=2, seed=8)
    loss = CombinedLoss()
    out = loss(logits.bfloat16(), target)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(loss(logits.bfloat16().float(), target).item(), rel=1e-6)


def test_combined_validates_inputs():
    logits, target = _batch()
    with pytest.raises(ValueError, match="target must be"):
        CombinedLoss()(logits, target[:, :4])
    with pytest.raises(TypeError, match="int64"):
        CombinedLoss()(logits, target.int())
    with pytest.raises(ValueError, match="dice_weight"):
        CombinedLoss(dice_weight=-1)
    with pytest.raises(ValueError, match="at least one"):
        CombinedLoss(dice_weight=0, focal_weight=0, ce_weight=0)


def test_class_weights_move_with_the_module():
    loss = CombinedLoss(torch.tensor([1.0, 2.0]))
    assert "class_weights" in dict(loss.named_buffers())
    assert loss.to(torch.float64).class_weights is not None


# --- Class weights ----------------------------------------------------------------------------


def test_class_weights_follow_marida_rule():
    counts = [10, 30, 60]
    raw = np.array([1 / math.log(1.03 + p) for p in (0.1, 0.3, 0.6)])
    expected = raw / raw.mean()
    np.testing.assert_allclose(class_weights_from_counts(counts).numpy(), expected, rtol=1e-6)
    assert class_weights_from_counts(np.array(counts)).mean().item() == pytest.approx(1.0)


def test_class_weights_on_marida_class_distribution():
    """Rarest classes weigh most; ratios are the reference rule's, whatever the scaling."""
    constants = json.loads(shared_path("reference", "marida_constants.json").read_text())
    distribution = np.array(constants["class_distribution_15"])
    counts = np.round(distribution * 1e7).astype(np.int64)
    weights = class_weights_from_counts(counts).numpy()
    p = counts / counts.sum()
    reference = 1 / np.log(1.03 + p)
    np.testing.assert_allclose(weights / weights[0], reference / reference[0], rtol=1e-6)
    assert np.argmax(weights) == np.argmin(distribution)  # Mixed Water, the rarest
    assert np.argmin(weights) == np.argmax(distribution)  # Sediment-Laden Water


@pytest.mark.parametrize("counts", [[0, 0], [-1, 5], [[1, 2]], []])
def test_class_weights_reject_bad_counts(counts):
    with pytest.raises(ValueError, match="counts"):
        class_weights_from_counts(counts)
