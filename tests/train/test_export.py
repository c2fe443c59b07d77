"""Every run ends in export_run: the best checkpoint becomes a bundle, and the run's result."""

from __future__ import annotations

from pathlib import Path

import torch

from oceanscan.model import load_bundle
from oceanscan.train import checkpoint as ckpt
from oceanscan.train.config import TrainConfig
from oceanscan.train.datasets import input_normalization
from oceanscan.train.export import export_run
from oceanscan.train.state import build_model, model_arch

BEST_METRICS = {"epoch": 2, "val_f1": 0.5, "threshold": 0.4}


def _cfg(out: str, run_name: str = "oceanscan-train") -> TrainConfig:
    return TrainConfig(
        data_root="d", out_dir=out, base_width=4, attention_heads=2, dropout=0.0, run_name=run_name
    )


def _save_best(directory: Path, cfg: TrainConfig, data_summary: dict) -> torch.nn.Module:
    """A best checkpoint of epoch 2 (threshold 0.4) as a run writes it; returns its model."""
    model = build_model(model_arch(cfg), seed=0)
    ckpt.save_checkpoint(
        directory,
        weights=model.state_dict(),
        train_state={},
        meta=ckpt.CheckpointMeta(
            epoch=2,
            metrics=BEST_METRICS,
            arch=model_arch(cfg),
            class_mapping="binary",
            data_summary=data_summary,
            history=[{"epoch": 1}, {"epoch": 2}],
            normalization=input_normalization(cfg),
        ),
    )
    return model


def test_the_best_checkpoint_becomes_the_bundle_and_ray_runs_name_their_run(tmp_path):
    cfg = _cfg(str(tmp_path / "local"))
    model = _save_best(tmp_path / "best", cfg, {"train_patches": 3})
    metrics = BEST_METRICS
    history = [{"epoch": e} for e in (1, 2, 3)]  # the run went on after its best epoch

    local = export_run(tmp_path / "best", cfg, history=history, run_path=None)
    on_ray = export_run(
        tmp_path / "best", _cfg(str(tmp_path / "ray"), "r"), history=history, run_path="/runs/r"
    )

    assert (local.best_epoch, local.metrics, local.history, local.run_path) == (
        2,
        metrics,
        history,
        None,
    )
    assert on_ray.run_path == "/runs/r"
    for result in (local, on_ray):
        bundle = load_bundle(result.bundle_dir)
        assert bundle.threshold == 0.4
        assert bundle.meta["metrics"]["history"] == history
        for name, tensor in model.state_dict().items():
            assert torch.equal(bundle.model.state_dict()[name].cpu(), tensor), name
    assert load_bundle(local.bundle_dir).meta["extra"] == {"best_epoch": 2}
    assert load_bundle(on_ray.bundle_dir).meta["extra"] == {
        "best_epoch": 2,
        "run_name": "r",
        "run_path": "/runs/r",
    }


def test_data_root_is_recorded_as_the_launching_process_names_it(tmp_path, monkeypatch):
    """A Ray worker writes its checkpoint's data_root as the absolute path it was given (its
    working directory is Ray's); the bundle, exported in the launching process, names the data
    relative to that process's working directory when it lies inside it."""
    cfg = _cfg(str(tmp_path / "bundle"))
    absolute = str(tmp_path / "build" / "synth")
    _save_best(tmp_path / "best", cfg, {"data_root": absolute, "train_patches": 3})
    monkeypatch.chdir(tmp_path)
    result = export_run(tmp_path / "best", cfg, history=[{"epoch": 1}], run_path="/runs/r")
    summary = load_bundle(result.bundle_dir).meta["data_summary"]
    assert summary == {"data_root": "build/synth", "train_patches": 3}
