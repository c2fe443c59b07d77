"""Data-parallel training on Ray Train: fault tolerance for real, and DDP gradient correctness."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from ray import cloudpickle
from torch import nn

from oceanscan.model import AttentionUNet, load_bundle
from oceanscan.synth.patches import write_patches
from oceanscan.train import TrainConfig, run_training, train_step
from oceanscan.train import checkpoint as ckpt
from oceanscan.train.distributed import WorkerContext
from oceanscan.train.ray_backend import worker_context

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# Ray workers cannot import test modules: ship this module's functions and classes by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

#: File in the run directory that records that the injected failure has happened.
FAILURE_MARKER = ".oceanscan_injected_failure"


@dataclass(frozen=True)
class CrashOnce:
    """Epoch hook: end the last rank with ``os._exit(1)`` once, after it reports ``epoch``.

    A marker file in the run directory makes it fire on the first attempt only, so the restarted
    worker group runs through and the resume path is exercised for real. The worker first waits
    until Ray Train has committed the epoch's checkpoint (the controller collects reports every
    couple of seconds), so the failure models a crash during the next epoch.
    """

    epoch: int
    run_dir: str

    def __call__(self, epoch: int, ctx: WorkerContext) -> None:
        if epoch != self.epoch or ctx.rank != ctx.world_size - 1:
            return
        marker = Path(self.run_dir) / FAILURE_MARKER
        if marker.exists():
            return
        import ray.train

        ray.train.get_all_reported_checkpoints(
            consistency_mode=ray.train.CheckpointConsistencyMode.COMMITTED
        )
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"rank {ctx.rank} exited after epoch {epoch}\n")
        logging.getLogger(__name__).warning("injected failure: rank %d exits", ctx.rank)
        os._exit(1)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_patches(tmp_path_factory.mktemp("marida") / "data", 24, size=32, seed=1)


def test_worker_crash_resumes_from_latest_checkpoint_without_losing_an_epoch(
    ray_session, data_dir, tmp_path
):
    cfg = TrainConfig(
        data_root=str(data_dir),
        out_dir=str(tmp_path / "bundle"),
        epochs=3,
        warmup_epochs=1,
        base_width=4,
        attention_heads=2,
        dropout=0.0,
        batch_size=4,
        num_workers=2,
        storage_path=str(tmp_path / "runs"),
        run_name="crash",
        max_failures=1,
        checkpoints_to_keep=3,
    )
    run_dir = tmp_path / "runs" / "crash"
    result = run_training(cfg, on_epoch_end=CrashOnce(epoch=2, run_dir=str(run_dir)))

    assert (run_dir / FAILURE_MARKER).read_text().startswith("rank 1 exited after epoch 2")
    # every epoch once, in order; the third ran in the restarted worker group after epoch 2
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert [h["resumed_from_epoch"] for h in result.history] == [None, None, 2]
    # the resumed epoch continued the schedule: the lr kept falling along the cosine
    lrs = [h["lr"] for h in result.history]
    assert lrs[2] < lrs[1]
    # Ray kept one checkpoint per reported epoch (all three fit in checkpoints_to_keep)
    checkpoints = [p for p in run_dir.glob("checkpoint_*") if p.is_dir()]
    assert sorted(ckpt.load_meta(p).epoch for p in checkpoints) == [1, 2, 3]
    # the exported bundle holds the best epoch's weights and threshold
    best = max(result.history, key=lambda h: h["val_f1"])
    assert result.best_epoch == best["epoch"]
    bundle = load_bundle(result.bundle_dir)
    assert bundle.threshold == pytest.approx(best["threshold"])
    (best_dir,) = [p for p in checkpoints if ckpt.load_meta(p).epoch == best["epoch"]]
    weights = ckpt.load_weights(best_dir)
    for name, tensor in bundle.model.state_dict().items():
        assert torch.equal(tensor.cpu(), weights[name]), name


# --- DDP correctness ---------------------------------------------------------------------------
# Two workers x 8 samples must change the weights exactly like one process x the same 16 samples.
# Exact equivalence needs a loss that is a plain mean over samples (DDP averages the per-worker
# means; with every pixel labelled and equal shards that is the mean over all 16), so the test
# uses cross-entropy rather than the Dice term of CombinedLoss, which couples the pixels of a batch;
# dropout is 0 and BatchNorm runs in eval mode (per-worker batch statistics would differ from
# full-batch ones). SGD is used because its step is proportional to the gradient (Adam's first step
# is ~lr * sign(g) and would hide a wrong gradient scale); clipping at norm 1.0 checks that the
# clipped norm is the global one.

GLOBAL_BATCH = 16


def _batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    return {
        "image": torch.randn(GLOBAL_BATCH, 11, 16, 16, generator=g),
        "mask": torch.randint(0, 2, (GLOBAL_BATCH, 16, 16), generator=g),
    }


def _one_step(config: dict) -> dict[str, np.ndarray]:
    ctx = worker_context()
    torch.manual_seed(0)
    model: nn.Module = AttentionUNet(base_width=4, dropout=0.0, attention_heads=2)
    if ctx.under_ray:
        import ray.train.torch

        model = ray.train.torch.prepare_model(model)
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    batch = _batch()
    n = config["samples"] // ctx.world_size
    shard = {k: v[ctx.rank * n : (ctx.rank + 1) * n] for k, v in batch.items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    train_step(
        model,
        shard,
        nn.CrossEntropyLoss(),
        optimizer,
        device=torch.device("cpu"),
        grad_clip_norm=1.0,
    )
    inner = model.module if hasattr(model, "module") else model
    return {k: v.detach().numpy().copy() for k, v in inner.state_dict().items()}


def test_two_workers_step_like_one_process_on_the_same_samples(ray_session, tmp_path):
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    trainer = TorchTrainer(
        _one_step,
        train_loop_config={"samples": GLOBAL_BATCH},
        scaling_config=ScalingConfig(num_workers=2, use_gpu=False),
        run_config=RunConfig(name="ddp-step", storage_path=str(tmp_path)),
    )
    ddp = trainer.fit().return_value
    single = _one_step({"samples": GLOBAL_BATCH})  # not under Ray: rank 0 of 1, no DDP
    torch.manual_seed(0)
    initial = {
        k: v.numpy()
        for k, v in AttentionUNet(base_width=4, dropout=0.0, attention_heads=2).state_dict().items()
    }
    half = _one_step({"samples": GLOBAL_BATCH // 2})  # one process on the first 8 samples only

    moved = 0
    for name, before in initial.items():
        if not np.issubdtype(before.dtype, np.floating):
            continue
        np.testing.assert_allclose(ddp[name], single[name], rtol=1e-5, atol=1e-6, err_msg=name)
        moved += int(not np.array_equal(single[name], before))
    assert moved > 10  # the step changed the weights
    diffs = [
        float(np.abs(half[n] - single[n]).max())
        for n in initial
        if np.issubdtype(initial[n].dtype, np.floating)
    ]
    assert max(diffs) > 1e-4  # and a step on half the samples is measurably different
    assert np.isfinite(diffs).all()
