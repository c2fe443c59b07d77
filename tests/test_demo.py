"""The newcomer's path end to end: ``oceanscan demo --size small`` on the shared Ray instance."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from matplotlib import image as mpimg

from oceanscan.cli import main
from oceanscan.model import load_bundle

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _png_ok(path: Path) -> None:
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert float(pixels[..., :3].std()) > 0.01, f"{path} is blank"


def test_demo_small_writes_every_promised_output_and_reuses_on_rerun(ray_session, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size", "small"]) == 0
    printed = capsys.readouterr().out
    assert "oceanscan demo finished" in printed
    assert "xarray.open_zarr(" in printed

    summary = json.loads((out / "summary.json").read_text())
    # The model bundle, trained through Ray Train, with a tuned threshold and its curves.
    bundle = load_bundle(out / "model")
    assert 0.0 < bundle.threshold < 1.0
    assert bundle.meta["metrics"]["history"], "training history missing from the bundle"
    assert set(bundle.meta["metrics"]["pr_curve"]) >= {"thresholds", "precision", "recall"}
    # The scan: every catalog scene complete, readable by xarray + rioxarray, georeferenced.
    scan = summary["scan"]
    assert len(scan["complete"]) == 2 and not scan["failed"]
    for key in scan["complete"]:
        ds = xr.open_zarr(
            str(out / "scan" / "scenes.zarr"), group=f"scenes/{key}", decode_coords="all"
        )
        prob = ds["probability"].values
        scored = ds["mask"].values == 0
        assert np.isfinite(prob[scored]).all() and np.isnan(prob[~scored]).all()
        assert np.nanmin(prob) >= 0.0 and np.nanmax(prob) <= 1.0
        assert ds.rio.crs is not None and ds.rio.crs.to_epsg() is not None
        assert ds.attrs["status"] == "complete"
        assert ds.attrs["model_sha256"] == bundle.sha256
    # Analyst tables.
    index = gpd.read_parquet(out / "scan" / "index.parquet")
    assert len(index) == 2 and set(index["status"]) == {"complete"}
    detections = gpd.read_parquet(out / "scan" / "detections.parquet")
    assert len(detections) == summary["detections"]
    assert detections.crs.to_epsg() == 4326
    # Scored against the synthetic truth: the first scene is a debris event, so there is debris
    # to find, and false detections are counted per km2 of the debris-free water.
    evaluation = summary["evaluation"]
    assert set(evaluation) >= {"precision", "recall", "f1", "iou", "false_detections_per_km2"}
    assert evaluation["tp"] + evaluation["fn"] > 0
    assert evaluation["debris_free_km2"] > 0
    # Pictures: a quicklook per scene, the training curves, the PR curve.
    names = {Path(p).name for p in summary["pictures"]}
    assert {"training_curves.png", "pr_curve.png"} <= names
    assert {f"{key}.png" for key in scan["complete"]} <= names
    for picture in summary["pictures"]:
        _png_ok(Path(picture))

    # A rerun reuses everything: no retraining, every scene skipped as complete.
    weights_mtime = (out / "model" / "model.pt").stat().st_mtime_ns
    assert main(["demo", "--out", str(out), "--size", "small"]) == 0
    again = json.loads((out / "summary.json").read_text())
    assert (out / "model" / "model.pt").stat().st_mtime_ns == weights_mtime
    assert again["scan"]["complete"] == [] and sorted(again["scan"]["skipped"]) == sorted(
        scan["complete"]
    )
