"""The training loop in this process (rank 0 of 1), driven through ``oceanscan train``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from oceanscan.cli import main
from oceanscan.data import MaridaDataset, load_patch, read_split_ids
from oceanscan.model import load_bundle
from oceanscan.synth.patches import write_patches
from oceanscan.train.datasets import RandomCrop

EPOCHS = 3


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_patches(tmp_path_factory.mktemp("marida") / "data", 24, size=32, seed=3)


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "model"
    argv = [
        "train",
        "--data",
        str(data_dir),
        "--out",
        str(out),
        "--epochs",
        str(EPOCHS),
        "--width",
        "4",
        "--batch-size",
        "4",
        "--patch-size",
        "16",
        "--workers",
        "0",
        "--warmup-epochs",
        "1",
        "--set",
        "dropout=0.0",
        "--set",
        "attention_heads=2",
    ]
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(argv)
    assert code == 0
    return out, json.loads(buf.getvalue())


def test_in_process_run_exports_a_loadable_bundle(trained, data_dir):
    out, summary = trained
    bundle = load_bundle(out)
    metrics = bundle.meta["metrics"]
    history = metrics["history"]
    assert [h["epoch"] for h in history] == list(range(1, EPOCHS + 1))
    # the exported weights are those of the best epoch, with that epoch's tuned threshold
    best = max(history, key=lambda h: h["val_f1"])
    assert summary["best_epoch"] == best["epoch"] == metrics["epoch"]
    assert bundle.threshold == pytest.approx(best["threshold"])
    hyper = bundle.meta["architecture"]["hyperparameters"]
    assert (hyper["base_width"], hyper["attention_heads"], hyper["dropout"]) == (4, 2, 0.0)
    assert bundle.meta["class_mapping"] == "binary"
    assert bundle.meta["data_summary"]["train_patches"] == len(read_split_ids(data_dir, "train"))
    for h in history:
        assert 0.0 <= h["val_f1"] <= 1.0 and h["train_time_s"] > 0 and h["val_time_s"] > 0
        assert np.isfinite(h["train_loss"])
    # warmup (1 epoch) then cosine: the lr peaks after the first epoch and then falls
    assert history[0]["lr"] == pytest.approx(1e-3) and history[-1]["lr"] < history[1]["lr"]
    reflectance, _, _ = load_patch(data_dir, read_split_ids(data_dir, "test")[0])
    prob = bundle.predict_proba(reflectance[None])
    assert prob.shape == (1, *reflectance.shape[-2:])
    assert np.nanmin(prob) >= 0.0 and np.nanmax(prob) <= 1.0


def test_random_crop_keeps_image_and_mask_aligned():
    torch.manual_seed(0)
    image = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 8, 8)
    mask = torch.arange(8 * 8).reshape(8, 8)
    out = RandomCrop(4)({"image": image, "mask": mask, "id": "x"})
    assert out["image"].shape == (2, 4, 4) and out["mask"].shape == (4, 4)
    # the crop of the mask is the crop of band 0 at the same place
    assert torch.equal(out["image"][0].long(), out["mask"])
    with pytest.raises(ValueError, match="crop size"):
        RandomCrop(0)


def test_cli_errors_name_the_field(data_dir, tmp_path, capsys):
    code = main(["train", "--data", str(data_dir), "--out", str(tmp_path), "--epochs", "0"])
    assert code == 2
    assert "'epochs'" in capsys.readouterr().err


def test_datasets_see_the_training_mapping(data_dir):
    ds = MaridaDataset(data_dir, "val", mapping="floating")
    assert set(np.unique(ds[0]["mask"].numpy())) <= {-100, 0, 1}
