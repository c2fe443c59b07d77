"""Checkpoint files and the training state they carry: a resumed run continues where it stopped."""

from __future__ import annotations

import pytest
import torch

from oceanscan.train import checkpoint as ckpt
from oceanscan.train.config import TrainConfig
from oceanscan.train.distributed import WorkerContext
from oceanscan.train.rng import rng_state, seed_everything
from oceanscan.train.state import TrainState, build_model, build_state, model_arch

CFG = TrainConfig(
    data_root="d",
    out_dir="o",
    epochs=5,
    warmup_epochs=1,
    base_width=4,
    attention_heads=2,
    dropout=0.0,
    seed=7,
)


def _state(seed: int) -> TrainState:
    return build_state(CFG, build_model(model_arch(CFG), seed), steps_per_epoch=3)


def _meta(epoch: int = 2) -> ckpt.CheckpointMeta:
    return ckpt.CheckpointMeta(
        epoch=epoch,
        metrics={"val_f1": 0.5, "threshold": 0.4},
        arch=model_arch(CFG),
        class_mapping="binary",
        data_summary={"train_patches": 3},
        history=[{"epoch": e} for e in range(1, epoch + 1)],
        pr_curve={"thresholds": [0.0, 1.0], "precision": [0.1, 1.0]},
    )


def _trained(seed: int = 0) -> TrainState:
    """A state two optimizer steps and two early-stopping epochs away from a fresh one."""
    state = _state(seed)
    x = torch.randn(2, model_arch(CFG)["in_channels"], 32, 32)
    for _ in range(2):
        state.optimizer.zero_grad()
        state.model(x).sum().backward()
        state.optimizer.step()
        state.scheduler.step()
    state.stopper.step(0.3, 1)
    state.stopper.step(0.2, 2)
    return state


def test_checkpoint_files_round_trip(tmp_path):
    weights = {"w": torch.arange(4.0)}
    ckpt.save_checkpoint(tmp_path, weights=weights, train_state={"seed": 3}, meta=_meta())
    assert ckpt.load_meta(tmp_path) == _meta()
    assert torch.equal(ckpt.load_weights(tmp_path)["w"], weights["w"])
    assert ckpt.load_train_state(tmp_path) == {"seed": 3}


def test_a_restored_state_continues_where_it_was_saved(tmp_path):
    saved = _trained()
    seed_everything(123)
    rng = rng_state()
    expected_draw = torch.rand(3)
    saved.save(tmp_path, meta=_meta(), rng_states=[rng], seed=CFG.seed)

    restored = _state(seed=1)  # other initial weights, fresh optimizer and schedule
    meta = restored.restore(tmp_path, WorkerContext(0, 1, 0, under_ray=False))
    assert meta == _meta()
    for name, tensor in saved.module.state_dict().items():
        assert torch.equal(restored.module.state_dict()[name], tensor), name
    assert restored.scheduler.state_dict() == saved.scheduler.state_dict()
    assert restored.stopper.state_dict() == saved.stopper.state_dict()
    assert (
        restored.optimizer.state_dict()["state"].keys()
        == saved.optimizer.state_dict()["state"].keys()
    )
    assert torch.equal(torch.rand(3), expected_draw)  # this rank's random stream goes on


@pytest.mark.parametrize("rank", [0, 1])
def test_another_worker_count_reseeds_from_the_seed_and_the_epoch(tmp_path, rank):
    _trained().save(tmp_path, meta=_meta(epoch=2), rng_states=[rng_state()], seed=CFG.seed)
    _state(seed=0).restore(tmp_path, WorkerContext(rank, 2, rank, under_ray=True))
    draw = torch.rand(3)
    seed_everything(CFG.seed + 1000 * 2 + rank)
    assert torch.equal(draw, torch.rand(3))
