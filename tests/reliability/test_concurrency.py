"""Two ``oceanscan scan`` processes started at once on the same root (both joined to one Ray
cluster, as two ``ray job submit`` runs would be).

What must hold: every scene is scanned by exactly one of them (per-scene claims,
:mod:`oceanscan.scan.claim`), both exit 0, both run records survive (store-wide updates are made
under the ``_root`` claim), no lease is left behind, and the store is bit-identical to one clean run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import geopandas as gpd
import numpy as np
import pytest
import ray
from reliability_helpers import save_tiny_bundle, store_snapshot

from oceanscan.scan.claim import CLAIMS_DIR
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.pipeline import scan_scenes
from oceanscan.scan.sources import catalog_scenes
from oceanscan.scan.store import open_root
from oceanscan.synth.catalog import write_catalog

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SCENES, SIZE, TILE = 4, 128, 32


@pytest.fixture(scope="module")
def setup(ray_session, tmp_path_factory):
    base = tmp_path_factory.mktemp("concurrent")
    catalog = write_catalog(base / "catalog", scenes=SCENES, size=SIZE, seed=13).parent
    bundle = save_tiny_bundle(base / "bundle")
    config = ScanConfig(
        model=str(bundle),
        root=str(base / "clean"),
        tile_size_px=TILE,
        margin_px=8,
        batch_size=2,
        device="cpu",
        progress_bars=False,
    )
    clean = scan_scenes(catalog_scenes(catalog), config)
    assert len(clean.counts.complete) == SCENES
    return {
        "base": base,
        "catalog": catalog,
        "bundle": bundle,
        "clean": store_snapshot(base / "clean"),
    }


def test_two_scans_at_once_scan_each_scene_once_and_keep_the_store_consistent(setup):
    root = setup["base"] / "shared"
    cmd = [
        sys.executable,
        "-m",
        "oceanscan",
        "scan",
        "--catalog",
        str(setup["catalog"]),
        "--model",
        str(setup["bundle"]),
        "--root",
        str(root),
        "--tile-size",
        str(TILE),
        "--margin",
        "8",
        "--batch-size",
        "2",
        "--no-progress",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]

    runs = open_root(str(root)).attrs["runs"]
    assert sorted(r["id"] for r in runs) == sorted(s["run_id"] for s in summaries)
    started = [datetime.fromisoformat(r["started"]) for r in runs]
    finished = [datetime.fromisoformat(r["finished"]) for r in runs]
    assert max(started) < min(finished), "the two scans did not overlap"

    # Each scene scanned by exactly one of the two runs; the other left it alone.
    snapshot = store_snapshot(root)
    by_run = {s["run_id"]: s for s in summaries}
    scanned_by = {key: v["attrs"] for key, v in snapshot.items()}
    raw = open_root(str(root))["scenes"]
    owners = {key: raw[key].attrs["run_id"] for key in scanned_by}
    assert sum(s["complete"] for s in summaries) == SCENES
    assert sum(s["failed"] for s in summaries) == 0
    for run_id, summary in by_run.items():
        assert summary["complete"] == sum(1 for o in owners.values() if o == run_id)
        assert summary["complete"] + summary["skipped"] == SCENES

    # The store is exactly what one clean run writes.
    assert sorted(snapshot) == sorted(setup["clean"])
    for key, ref in setup["clean"].items():
        np.testing.assert_array_equal(snapshot[key]["probability"], ref["probability"])
        np.testing.assert_array_equal(snapshot[key]["mask"], ref["mask"])
        assert snapshot[key]["attrs"] == ref["attrs"], key
    index = gpd.read_parquet(root / "index.parquet")
    assert sorted(index["scene"]) == sorted(setup["clean"])
    assert set(index["status"]) == {"complete"}
    assert not list((root / CLAIMS_DIR).glob("*.lease"))  # every claim released
