"""The moving average of the weights: its arithmetic, and a run that validates and ships it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from oceanscan.model import load_bundle
from oceanscan.synth.patches import write_patches
from oceanscan.train import checkpoint as ckpt
from oceanscan.train.averaging import WeightAverage
from oceanscan.train.config import TrainConfig
from oceanscan.train.distributed import WorkerContext
from oceanscan.train.local_backend import run_in_process
from oceanscan.train.rng import rng_state
from oceanscan.train.state import TrainState, build_state


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))


def test_the_decay_ramps_up_then_stays_at_its_cap():
    average = WeightAverage(_net(), decay=0.99)
    assert average.current_decay() == pytest.approx(2 / 11)  # the first update mostly copies
    average.updates = 10_000
    assert average.current_decay() == 0.99


def test_an_update_moves_every_float_a_decay_share_and_copies_counters():
    net = _net()
    average = WeightAverage(net, decay=0.5)
    average.updates = 100  # past the ramp: decay 0.5
    before = {k: v.clone() for k, v in average.module.state_dict().items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    net[1].running_mean.fill_(4.0)
    net[1].num_batches_tracked.fill_(7)
    average.update(net)
    after = average.module.state_dict()
    for name, value in net.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(after[name], 0.5 * before[name] + 0.5 * value)
        else:
            assert torch.equal(after[name], value)
    assert average.updates == 101
    # the average is a copy: training the model does not move it, and it takes no gradients
    assert all(not p.requires_grad for p in average.module.parameters())


def test_the_average_of_constant_weights_is_those_weights():
    net = _net()
    average = WeightAverage(_net(), decay=0.9)
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.25)
    for _ in range(200):
        average.update(net)
    for p in average.module.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.25))


def test_a_decay_outside_the_open_unit_interval_is_refused():
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(_net(), decay=1.0)
    with pytest.raises(ValueError, match="weight_average_decay"):
        TrainConfig(data_root="d", out_dir="o", weight_average_decay=0.0)


def test_a_checkpoint_resumes_both_the_trained_and_the_averaged_weights(tmp_path):
    cfg = TrainConfig(
        data_root="d", out_dir="o", epochs=2, warmup_epochs=1, weight_average_decay=0.9
    )
    state = build_state(cfg, _net(), steps_per_epoch=3)
    for _ in range(3):
        with torch.no_grad():
            for p in state.module.parameters():
                p.add_(torch.randn_like(p))
        state.optimizer.step()  # no gradients: a no-op that keeps the schedule's order
        state.after_step()
    meta = ckpt.CheckpointMeta(
        epoch=1, metrics={}, arch={}, class_mapping="binary", data_summary={}, history=[]
    )
    state.save(tmp_path, meta=meta, rng_states=[rng_state()], seed=0)
    # the checkpoint's own weights are the average: what validation scored and export ships
    for name, value in ckpt.load_weights(tmp_path).items():
        assert torch.equal(value, state.evaluated.state_dict()[name])

    fresh = build_state(cfg, _net(), steps_per_epoch=3)
    fresh.restore(tmp_path, WorkerContext(rank=0, world_size=1, local_rank=0, under_ray=False))
    assert fresh.average is not None and fresh.average.updates == 3
    for mine, theirs in ((fresh.module, state.module), (fresh.evaluated, state.evaluated)):
        for name, value in theirs.state_dict().items():
            assert torch.equal(mine.state_dict()[name], value)


def test_a_run_with_an_average_exports_the_averaged_weights(tmp_path, monkeypatch):
    data = write_patches(tmp_path / "data", 12, size=32, seed=5)
    cfg = TrainConfig(
        data_root=str(data),
        out_dir=str(tmp_path / "bundle"),
        epochs=2,
        warmup_epochs=1,
        batch_size=4,
        patch_size_px=16,
        base_width=4,
        attention_heads=2,
        num_workers=0,
        weight_average_decay=0.99,
    )
    averaged: list[dict[str, torch.Tensor]] = []
    trained: list[dict[str, torch.Tensor]] = []

    original = TrainState.save

    def spy(self: TrainState, directory: Path, **kwargs: Any) -> None:
        averaged.append({k: v.clone() for k, v in self.evaluated.state_dict().items()})
        trained.append({k: v.clone() for k, v in self.module.state_dict().items()})
        original(self, directory, **kwargs)

    monkeypatch.setattr(TrainState, "save", spy)
    result = run_in_process(cfg)
    shipped = load_bundle(result.bundle_dir).model.state_dict()
    best = result.best_epoch - 1
    for name, value in averaged[best].items():
        torch.testing.assert_close(shipped[name].float(), value.float())
    # and the average really differs from the weights the optimizer left at that epoch
    assert any(
        not torch.equal(averaged[best][k], trained[best][k])
        for k in averaged[best]
        if averaged[best][k].is_floating_point()
    )
