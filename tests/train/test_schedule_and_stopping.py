"""LR schedule, early stopping and TrainConfig validation: pure logic, no data, no Ray."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from oceanscan.config import load_config, validate_config
from oceanscan.errors import ConfigError
from oceanscan.train.config import TrainConfig, resolve_storage_path
from oceanscan.train.early_stopping import EarlyStopping
from oceanscan.train.schedule import WARMUP_START_FACTOR, build_scheduler, lr_at_step

REPO = Path(__file__).resolve().parents[2]


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


def test_early_stopping_counts_epochs_without_improvement():
    stopper = EarlyStopping(patience=2)
    assert stopper.step(0.5, 1) is True
    assert stopper.step(0.4, 2) is False and not stopper.should_stop
    assert stopper.step(0.6, 3) is True and stopper.bad_epochs == 0  # a new best resets the count
    assert stopper.step(0.6, 4) is False  # equal is not better
    assert stopper.step(math.nan, 5) is False  # NaN never improves
    assert stopper.should_stop and stopper.best == 0.6 and stopper.best_epoch == 3


def test_early_stopping_state_round_trips():
    a = EarlyStopping(patience=3, mode="min")
    for epoch, loss in enumerate([1.0, 0.5, 0.7], start=1):
        a.step(loss, epoch)
    b = EarlyStopping(patience=3, mode="min")
    b.load_state_dict(a.state_dict())
    assert (b.best, b.best_epoch, b.bad_epochs) == (0.5, 2, 1)
    b.step(0.8, 4)
    b.step(0.9, 5)
    assert b.should_stop


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(0)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(3, mode="maximum")  # type: ignore[arg-type]


def _cfg(**kw):
    return {"data_root": "d", "out_dir": "o", **kw}


@pytest.mark.parametrize(
    "field,value",
    [
        ("epochs", 0),
        ("lr", -1.0),
        ("grad_clip_norm", 0.0),
        ("class_mapping", "multiclass"),
        ("dropout", 1.0),
        ("num_workers", -1),
        ("run_name", "has space"),
        ("batch_sz", 4),
    ],
)
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError, match=f"field '{field}'"):
        validate_config(_cfg(**{field: value}), TrainConfig, source="t.yaml")


def test_config_cross_field_rules():
    with pytest.raises(ConfigError, match="warmup_epochs"):
        validate_config(_cfg(epochs=5, warmup_epochs=5), TrainConfig)
    with pytest.raises(ConfigError, match="multiple of 16"):
        validate_config(_cfg(epochs=20, patch_size_px=40), TrainConfig)


def test_shipped_config_documents_every_field_and_loads():
    path = REPO / "configs" / "train.yaml"
    cfg = load_config(path, TrainConfig)
    text = path.read_text()
    missing = [f for f in TrainConfig.model_fields if f"\n{f}:" not in text]
    assert missing == []
    assert cfg == TrainConfig(data_root=cfg.data_root, out_dir=cfg.out_dir)  # documents defaults


def test_storage_path_resolution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_storage_path("runs") == str(tmp_path / "runs")
    assert resolve_storage_path("s3://bucket/runs") == "s3://bucket/runs"
