"""The training loop in this process (rank 0 of 1), driven through ``oceanscan train``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oceanscan.cli import main
from oceanscan.data import load_patch, read_split_ids
from oceanscan.model import load_bundle
from oceanscan.synth.patches import write_patches

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
