"""Fine-tuning: a run that starts from a bundle's weights, and refuses a bundle that does not fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from oceanscan.cli import build_parser
from oceanscan.cli.train import config_from_args
from oceanscan.errors import BundleError
from oceanscan.model import load_bundle
from oceanscan.synth.patches import write_patches
from oceanscan.train.config import TrainConfig
from oceanscan.train.local_backend import run_in_process
from oceanscan.train.run import run_training
from oceanscan.train.state import build_model, initial_weights, model_arch


def _cfg(tmp_path, data, out, **kw):
    fields = {
        "data_root": str(data),
        "out_dir": str(tmp_path / out),
        "epochs": 1,
        "warmup_epochs": 0,
        "batch_size": 4,
        "patch_size_px": 16,
        "base_width": 4,
        "attention_heads": 2,
        "num_workers": 0,
        "seed": 3,
    }
    return TrainConfig(**{**fields, **kw})


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fine-tune")
    data = write_patches(tmp / "data", 12, size=32, seed=5)
    result = run_in_process(_cfg(tmp, data, "start"))
    return tmp, data, result.bundle_dir


def test_a_run_from_a_bundle_starts_from_its_weights_and_records_it(start):
    tmp, data, bundle_dir = start
    source = load_bundle(bundle_dir)
    # a learning rate too small to move anything: the weights shipped are the ones started from
    cfg = _cfg(tmp, data, "tuned", init_from=str(bundle_dir), lr=1e-12, min_lr=0.0, seed=4)
    bundle = load_bundle(run_in_process(cfg).bundle_dir)
    tuned = dict(bundle.model.named_parameters())
    for name, value in source.model.named_parameters():
        torch.testing.assert_close(tuned[name], value)
    seeded = dict(build_model(model_arch(cfg), cfg.seed).named_parameters())
    assert not torch.allclose(seeded["head.weight"], tuned["head.weight"])  # not the seed's start
    assert bundle.meta["extra"]["init_from"] == {"bundle": str(bundle_dir), "sha256": source.sha256}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"base_width": 8}, "architecture"),
        ({"input_method": "standardize"}, "input_method"),
        ({"class_mapping": "marida11"}, "class_mapping"),
    ],
)
def test_a_bundle_that_does_not_fit_the_run_is_refused_by_name(start, change, named):
    tmp, data, bundle_dir = start
    cfg = _cfg(tmp, data, "x", init_from=str(bundle_dir), **change)
    with pytest.raises(ValueError, match=rf"init_from {bundle_dir}.*{named}"):
        initial_weights(cfg, model_arch(cfg))


def test_a_missing_bundle_or_one_the_run_would_overwrite_is_refused_before_training(start):
    tmp, data, bundle_dir = start
    with pytest.raises(BundleError, match="nowhere"):
        run_training(_cfg(tmp, data, "y", init_from=str(tmp / "nowhere")))
    assert not (tmp / "y").exists()
    with pytest.raises(ValueError, match=r"init_from .* is out_dir"):
        _cfg(tmp, data, "start", init_from=str(bundle_dir))


def test_dropout_may_change_when_fine_tuning(start):
    tmp, data, bundle_dir = start
    cfg = _cfg(tmp, data, "x", init_from=str(bundle_dir), dropout=0.0)
    assert initial_weights(cfg, model_arch(cfg)) is not None


def test_a_run_from_scratch_has_no_initial_weights(tmp_path):
    cfg = _cfg(tmp_path, tmp_path, "x")
    assert initial_weights(cfg, model_arch(cfg)) is None


def test_the_command_line_makes_a_relative_bundle_path_absolute(tmp_path, monkeypatch):
    # Ray Train's workers run elsewhere: a relative init_from would be looked up there
    monkeypatch.chdir(tmp_path)
    train_yaml = str(Path(__file__).resolve().parents[2] / "configs" / "train.yaml")
    args = build_parser().parse_args(
        ["train", "--config", train_yaml, "--set", 'init_from="models/start"']
    )
    assert config_from_args(args).init_from == str(tmp_path.resolve() / "models" / "start")
