"""The configuration files oceanscan ships load through its own loaders, and every region a
command in the README, docs, configs or jobs names is one the shipped configuration defines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oceanscan.cli import build_parser
from oceanscan.cli.scan import config_from_args as scan_config_from_args
from oceanscan.cli.train import config_from_args as train_config_from_args
from oceanscan.model import default_bundle_dir, load_bundle
from oceanscan.scan.config import ScanConfig, load_regions
from oceanscan.train.config import TrainConfig

PROJECT = Path(__file__).resolve().parents[1]
SCAN_CONFIG = PROJECT / "configs" / "scan.yaml"
TRAIN_CONFIG = PROJECT / "configs" / "train.yaml"
DEFAULT_MODEL_CONFIG = PROJECT / "configs" / "default_model.yaml"
FINETUNE_CONFIG = PROJECT / "configs" / "default_model_finetune.yaml"
#: Where commands are written for users: the region names in them must exist.
DOCUMENTED = ("README.md", "docs/**/*.md", "configs/**/*", "jobs/**/*.py", "cluster.yaml")
_REGION_FLAG = re.compile(r"--region(?:\s+|=)([A-Za-z0-9_.-]+)")


def _scan_config(*options: str) -> tuple[ScanConfig, list | None]:
    """configs/scan.yaml as ``oceanscan scan --config configs/scan.yaml ...`` reads it."""
    args = build_parser().parse_args(["scan", "--config", str(SCAN_CONFIG), *options])
    return scan_config_from_args(args)


def _mentioned_regions() -> dict[str, list[str]]:
    """Region name -> the files whose commands name it with ``--region``."""
    found: dict[str, list[str]] = {}
    for pattern in DOCUMENTED:
        for path in sorted(PROJECT.glob(pattern)):
            if path.is_file():
                for name in _REGION_FLAG.findall(path.read_text()):
                    found.setdefault(name, []).append(str(path.relative_to(PROJECT)))
    return found


def test_the_scan_config_and_its_regions_file_load():
    config, regions = _scan_config()
    assert regions is None  # no --region: every configured region
    assert config.stac_url and not config.catalog
    assert config.regions_file
    from_file = load_regions(SCAN_CONFIG.parent / config.regions_file)
    assert from_file, "configs/regions.yaml defines no region"
    assert {r.name for r in from_file} <= {r.name for r in config.regions}
    for region in from_file:
        assert region.bbox is not None or region.geometry is not None


def test_the_train_config_loads():
    config = train_config_from_args(
        build_parser().parse_args(["train", "--config", str(TRAIN_CONFIG)])
    )
    assert isinstance(config, TrainConfig)
    assert config.data_root and config.out_dir


def test_the_default_model_recipe_loads_and_is_the_shipped_bundles():
    """configs/default_model.yaml is what scripts/train-default-model trains the shipped bundle with."""
    config = train_config_from_args(
        build_parser().parse_args(["train", "--config", str(DEFAULT_MODEL_CONFIG)])
    )
    assert config.out_dir.endswith("src/oceanscan/model/default")
    assert config.real_materials and config.real_materials.endswith("duarte2023_train_pixels.csv")
    bundle = load_bundle(default_bundle_dir())
    hparams = bundle.meta["architecture"]["hyperparameters"]
    assert hparams["base_width"] == config.base_width
    assert bundle.meta["normalization"]["method"] == config.input_method


def test_the_second_stage_recipe_loads_and_made_the_shipped_bundle():
    """configs/default_model_finetune.yaml fine-tunes the first stage into the shipped bundle."""
    config = train_config_from_args(
        build_parser().parse_args(["train", "--config", str(FINETUNE_CONFIG)])
    )
    first = train_config_from_args(
        build_parser().parse_args(["train", "--config", str(DEFAULT_MODEL_CONFIG)])
    )
    assert config.out_dir == first.out_dir and config.data_root == first.data_root
    assert config.init_from and config.init_from.endswith("build/default-model/base")
    assert config.real_materials_weight > 1 and config.real_materials_native_resolution
    assert (config.base_width, config.input_method) == (first.base_width, first.input_method)
    bundle = load_bundle(default_bundle_dir())
    assert bundle.meta["extra"]["init_from"]["bundle"] == "build/default-model/base"
    assert bundle.meta["extra"]["best_epoch"] <= config.epochs


def test_every_shipped_config_file_is_covered():
    """A new file in configs/ needs a loading test here."""
    shipped = {p.name for p in (PROJECT / "configs").iterdir() if p.suffix in (".yaml", ".yml")}
    assert shipped == {
        "scan.yaml",
        "regions.yaml",
        "train.yaml",
        "default_model.yaml",
        "default_model_finetune.yaml",
    }


def test_every_region_named_in_commands_exists():
    mentioned = _mentioned_regions()
    assert mentioned, f"no --region found in {DOCUMENTED}: the search pattern is broken"
    config, _ = _scan_config()
    defined = {r.name for r in config.regions}
    missing = {name: files for name, files in mentioned.items() if name not in defined}
    assert not missing, f"regions named but not defined in configs/: {missing}; defined: {defined}"


@pytest.mark.parametrize("name", sorted(_mentioned_regions()))
def test_each_named_region_is_found_by_the_scan_command(name):
    """The documented command line itself resolves the region (the README's first scan)."""
    _, regions = _scan_config("--region", name, "--since-last")
    assert regions is not None and [r.name for r in regions] == [name]
