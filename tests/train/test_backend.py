"""The backend seam: how ranks shard the data, and the in-process backend's best checkpoint."""

from __future__ import annotations

import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

from oceanscan.train.backend import TrainBackend
from oceanscan.train.config import TrainConfig
from oceanscan.train.distributed import WorkerContext
from oceanscan.train.local_backend import LocalBackend

CFG = TrainConfig(data_root="d", out_dir="o", epochs=2, warmup_epochs=0, batch_size=2)


class _Rank(TrainBackend):
    """A backend that only knows its rank: enough for the shared loader preparation."""

    def device(self, use_gpu: bool) -> torch.device:
        return torch.device("cpu")

    def prepare_model(self, model: nn.Module, device: torch.device) -> nn.Module:
        return model

    def restore(self) -> nullcontext[Path | None]:
        return nullcontext(None)

    def report(self, metrics: dict[str, Any], checkpoint: Path | None, *, improved: bool) -> None:
        pass


def test_ranks_see_every_validation_sample_once_and_shuffle_train_by_epoch():
    train, val = TensorDataset(torch.arange(6)), TensorDataset(torch.arange(5))
    seen = []
    for rank in range(2):
        ctx = WorkerContext(rank, 2, rank, under_ray=True)
        loaders = _Rank(ctx).prepare_loaders(CFG, train, val, pin=False)
        assert loaders.sampler is not None and loaders.sampler.num_replicas == 2
        seen += [int(v) for (batch,) in loaders.val for v in batch]
    assert sorted(seen) == [0, 1, 2, 3, 4]  # no padding: summed counts count each pixel once


def test_one_rank_needs_no_sampler():
    train, val = TensorDataset(torch.arange(6)), TensorDataset(torch.arange(5))
    with LocalBackend() as backend:
        loaders = backend.prepare_loaders(CFG, train, val, pin=False)
    assert loaders.sampler is None
    assert sorted(int(v) for (batch,) in loaders.val for v in batch) == [0, 1, 2, 3, 4]


def test_the_local_backend_keeps_the_best_reported_checkpoint(tmp_path):
    with LocalBackend() as backend:
        with backend.restore() as directory:
            assert directory is None  # a run in this process always starts at epoch 1
        assert backend.best_checkpoint is None
        for epoch, improved in [(1, True), (2, False), (3, True), (4, False)]:
            checkpoint = tmp_path / f"epoch{epoch}"
            checkpoint.mkdir()
            (checkpoint / "epoch").write_text(str(epoch))
            backend.report({"epoch": epoch}, checkpoint, improved=improved)
        backend.report({"epoch": 5}, None, improved=True)  # what another rank would report
        best = backend.best_checkpoint
        assert best is not None and (best / "epoch").read_text() == "3"
    assert not best.exists()  # the copy goes with the backend


def test_training_in_this_process_imports_no_ray():
    code = (
        "import sys, oceanscan.train.run, oceanscan.train.local_backend, oceanscan.train.loop\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'ray'], 'ray imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
