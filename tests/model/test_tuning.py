"""Re-tuning a bundle's threshold: the same weights, a threshold chosen for its views and sea."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import rasterio
import torch

from oceanscan.cli import main
from oceanscan.data import labelled_patches, patch_paths, read_split_ids
from oceanscan.metrics import ThresholdSweep
from oceanscan.model import AttentionUNet, load_bundle, save_bundle
from oceanscan.model.tuning import retune_bundle, tune_threshold
from oceanscan.synth.patches import write_patches

#: MARIDA id of Marine Debris (oceanscan.classes.MARIDA_CLASSES).
MARINE_DEBRIS_ID = 1

ARCH = {"in_channels": 11, "num_classes": 2, "base_width": 4, "dropout": 0.2, "attention_heads": 4}


@pytest.fixture(scope="module")
def patches(tmp_path_factory):
    return write_patches(tmp_path_factory.mktemp("tuning") / "data", 24, size=32, seed=4)


@pytest.fixture
def bundle_dir(tmp_path):
    torch.manual_seed(2)
    net = AttentionUNet(**ARCH)
    net.train()
    with torch.no_grad():  # BatchNorm statistics of something like reflectance input
        net(torch.randn(4, 11, 32, 32))
    return save_bundle(tmp_path / "bundle", net.eval(), class_mapping="binary", threshold=0.5)


def _best_by_hand(bundle, root, views, fraction):
    sweep = ThresholdSweep()
    for reflectance, target in labelled_patches(root, "val"):
        prob = bundle.predict_proba(reflectance[None], tta=views)
        sweep.update(torch.from_numpy(prob), torch.from_numpy(target[None]))
    return sweep.best_threshold(prevalence=fraction)


def test_retuned_bundle_keeps_the_weights_and_records_its_choice(tmp_path, bundle_dir, patches):
    out, choice = retune_bundle(bundle_dir, tmp_path / "tuned", patches, tta="rot180")
    before, after = load_bundle(bundle_dir), load_bundle(out)
    assert after.sha256 == before.sha256 and after.model_id == before.model_id
    assert (out / "model.pt").read_bytes() == (bundle_dir / "model.pt").read_bytes()
    assert after.tta == "rot180"
    threshold, f1 = _best_by_hand(before, patches, "rot180", 1e-3)
    assert after.threshold == choice.threshold == pytest.approx(threshold)
    assert choice.f1 == pytest.approx(f1)
    recorded = after.meta["extra"]["threshold_tuning"]
    assert recorded["tta"] == "rot180" and recorded["debris_fraction"] == 1e-3
    assert recorded["split"] == "val" and recorded["patches"] == choice.patches > 0
    assert after.meta["metrics"] == before.meta["metrics"]  # training's record is kept


def test_a_cleaner_sea_never_lowers_the_threshold(bundle_dir, patches):
    bundle = load_bundle(bundle_dir)
    as_labelled = tune_threshold(bundle, patches, debris_fraction=None)
    clean = tune_threshold(bundle, patches, debris_fraction=1e-4)
    assert clean.threshold >= as_labelled.threshold
    assert clean.tta == "none"  # the bundle's own views by default


def test_a_split_without_debris_cannot_choose_a_threshold(tmp_path, bundle_dir, patches):
    clean = tmp_path / "clean"
    shutil.copytree(patches, clean)
    for patch_id in read_split_ids(clean, "val"):
        _, classes_path, _ = patch_paths(clean, patch_id)
        with rasterio.open(classes_path, "r+") as dst:
            classes = dst.read(1)
            classes[classes == MARINE_DEBRIS_ID] = 0  # unlabelled: no debris left to find
            dst.write(classes, 1)
    with pytest.raises(ValueError, match="no labelled debris"):
        retune_bundle(bundle_dir, tmp_path / "out", clean)
    assert not (tmp_path / "out").exists()


def test_cli_replaces_the_bundle_in_place(bundle_dir, patches, capsys):
    sha = load_bundle(bundle_dir).sha256
    code = main(
        [
            "tune-threshold",
            "--model",
            str(bundle_dir),
            "--data",
            str(patches),
            "--tta",
            "dihedral",
            "--json",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    bundle = load_bundle(bundle_dir)
    assert bundle.tta == "dihedral" and bundle.sha256 == sha
    assert bundle.threshold == printed["threshold"] and np.isfinite(printed["f1"])


def test_cli_names_a_bad_fraction(bundle_dir, patches, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "tune-threshold",
                "--model",
                str(bundle_dir),
                "--data",
                str(patches),
                "--debris-fraction",
                "2",
            ]
        )
    assert "fraction in (0, 1)" in capsys.readouterr().err


def test_tune_threshold_with_a_config_scores_the_runs_augmented_validation(
    tmp_path, bundle_dir, patches, capsys
):
    config = tmp_path / "train.yaml"
    config.write_text(
        f"data_root: {patches}\nout_dir: unused\nvalidate_augmented: true\n"
        "atmosphere_augment: true\ndebris_spectrum_augment: true\n"
    )
    out = tmp_path / "tuned"
    args = ["tune-threshold", "--model", str(bundle_dir), "--data", str(patches)]
    assert main([*args, "--config", str(config), "--out", str(out), "--json"]) == 0
    augmented = json.loads(capsys.readouterr().out)
    assert augmented["augmented"] is True
    assert load_bundle(out).meta["extra"]["threshold_tuning"]["augmented"] is True
    assert main([*args, "--out", str(tmp_path / "plain"), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["augmented"] is False
    # the same bundle scored on other patches: another sweep
    assert (augmented["threshold"], augmented["f1"]) != (plain["threshold"], plain["f1"])
