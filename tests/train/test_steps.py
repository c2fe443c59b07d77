"""One optimizer step: the batch's per-pixel weights reach the loss."""

from __future__ import annotations

import torch
from torch import nn

from oceanscan.model import CombinedLoss
from oceanscan.train import train_step


def _step(batch: dict[str, torch.Tensor]) -> float:
    torch.manual_seed(0)
    model = nn.Conv2d(3, 2, kernel_size=1)
    loss, _ = train_step(
        model,
        batch,
        CombinedLoss(torch.tensor([1.0, 2.0])),
        torch.optim.SGD(model.parameters(), lr=0.1),
        device=torch.device("cpu"),
        grad_clip_norm=1.0,
    )
    return float(loss)


def test_a_batch_weight_map_is_the_loss_weight_of_its_pixels():
    g = torch.Generator().manual_seed(3)
    batch = {
        "image": torch.randn(2, 3, 6, 6, generator=g),
        "mask": torch.randint(0, 2, (2, 6, 6), generator=g),
    }
    weight = torch.ones(2, 6, 6)
    weight[1, :2] = 20.0
    torch.manual_seed(0)
    logits = nn.Conv2d(3, 2, kernel_size=1)(batch["image"])
    expected = CombinedLoss(torch.tensor([1.0, 2.0]))(logits, batch["mask"], weight)
    assert abs(_step({**batch, "weight": weight}) - float(expected)) < 1e-5
    assert abs(_step({**batch, "weight": torch.ones(2, 6, 6)}) - _step(batch)) < 1e-6
    assert abs(_step({**batch, "weight": weight}) - _step(batch)) > 1e-3
