"""The LR schedule: linear warmup then cosine decay, stepped per optimizer step."""

from __future__ import annotations

import itertools

import pytest
import torch

from oceanscan.train.schedule import WARMUP_START_FACTOR, build_scheduler, lr_at_step


def _lrs(warmup: int, total: int, peak: float = 1e-3, min_lr: float = 1e-5) -> list[float]:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], lr=peak)
    sched = build_scheduler(opt, warmup_steps=warmup, total_steps=total, min_lr=min_lr)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_warmup_rises_linearly_then_cosine_falls_to_min_lr():
    lrs = _lrs(warmup=10, total=50)
    assert lrs[0] == pytest.approx(1e-3 * WARMUP_START_FACTOR)
    warm = lrs[:11]
    assert all(b > a for a, b in itertools.pairwise(warm))
    assert lrs[10] == pytest.approx(1e-3)  # peak exactly when the warmup ends
    cos = lrs[10:]
    assert all(b < a for a, b in itertools.pairwise(cos))
    # half way through the cosine the lr is the mean of peak and minimum
    assert lrs[30] == pytest.approx((1e-3 + 1e-5) / 2, rel=1e-6)
    assert lrs[-1] > 1e-5


@pytest.mark.parametrize("warmup,total", [(10, 50), (0, 7), (3, 4)])
def test_scheduler_matches_closed_form(warmup, total):
    got = _lrs(warmup, total)
    want = [
        lr_at_step(s, peak_lr=1e-3, min_lr=1e-5, warmup_steps=warmup, total_steps=total)
        for s in range(total)
    ]
    assert got == pytest.approx(want, rel=1e-9, abs=1e-15)


def test_schedule_rejects_warmup_not_shorter_than_run():
    with pytest.raises(ValueError, match="warmup_steps"):
        lr_at_step(0, peak_lr=1.0, min_lr=0.0, warmup_steps=5, total_steps=5)
