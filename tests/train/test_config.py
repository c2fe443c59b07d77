"""TrainConfig validation, the shipped configs/train.yaml, and storage paths: no data, no Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

from oceanscan.cli import main
from oceanscan.config import load_config, validate_config
from oceanscan.errors import ConfigError
from oceanscan.model import DOWNSAMPLING
from oceanscan.train.config import TrainConfig, recorded_path, resolve_storage_path

REPO = Path(__file__).resolve().parents[2]


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
        ("real_materials_weight", 0.0),
        ("real_materials_lookalike_weight", float("nan")),
        ("real_materials_min_strength", 0.0),
        ("real_materials_min_strength", 1.5),
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
    with pytest.raises(ConfigError, match="real_materials is not set"):
        validate_config(_cfg(real_materials_weight=30.0), TrainConfig)
    with pytest.raises(ConfigError, match="real_materials is not set"):
        validate_config(_cfg(real_materials_lookalike_weight=30.0), TrainConfig)
    with pytest.raises(ConfigError, match="real_materials is not set"):
        validate_config(_cfg(real_materials_min_strength=0.2), TrainConfig)
    with pytest.raises(ConfigError, match="real_materials is not set"):
        validate_config(_cfg(real_materials_native_resolution=True), TrainConfig)


def test_patch_size_is_a_multiple_of_the_unets_downsampling():
    ok = validate_config(_cfg(epochs=20, patch_size_px=2 * DOWNSAMPLING), TrainConfig)
    assert ok.patch_size_px == 2 * DOWNSAMPLING
    with pytest.raises(ConfigError, match=f"multiple of {DOWNSAMPLING}"):
        validate_config(_cfg(epochs=20, patch_size_px=DOWNSAMPLING + 8), TrainConfig)


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


def test_cli_errors_name_the_field(tmp_path, capsys):
    code = main(["train", "--data", str(tmp_path), "--out", str(tmp_path), "--epochs", "0"])
    assert code == 2
    assert "'epochs'" in capsys.readouterr().err


def test_bundles_record_paths_under_the_working_directory_relative(tmp_path, monkeypatch):
    """A committed bundle names its data as the command did, not the machine it ran on."""
    (tmp_path / "work" / "build" / "synth").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    absolute = str(tmp_path / "work" / "build" / "synth")
    assert recorded_path(absolute) == "build/synth"
    assert recorded_path("build/synth") == "build/synth"
    outside = str(tmp_path / "elsewhere")
    assert recorded_path(outside) == outside
    assert recorded_path("s3://bucket/synth") == "s3://bucket/synth"
