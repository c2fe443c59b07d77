"""Two ``oceanscan scan`` processes started at once on the same root (both joined to one Ray
cluster, as two ``ray job submit`` runs would be).

What must hold: every scene is scanned by exactly one of them (per-scene claims,
:mod:`oceanscan.scan.claim`), both exit 0, both run records survive (store-wide updates are made
under the ``_root`` claim), no lease is left behind, and the store is bit-identical to one clean run.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime

import geopandas as gpd
import pytest

from oceanscan.scan.claim import CLAIMS_DIR
from oceanscan.scan.store import open_root
from tests.helpers.ray_cluster import ray_cluster_env
from tests.helpers.scans import clean_catalog_scan, scan_command
from tests.helpers.stores import assert_same_store, store_snapshot

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SCENES, SIZE, TILE = 4, 128, 32


@pytest.fixture(scope="module")
def setup(ray_session, tmp_path_factory):
    base = tmp_path_factory.mktemp("concurrent")
    return clean_catalog_scan(base, scenes=SCENES, size=SIZE, tile=TILE, seed=13)


def test_two_scans_at_once_scan_each_scene_once_and_keep_the_store_consistent(setup):
    root = setup["base"] / "shared"
    cmd = scan_command(setup, root, tile=TILE)
    env = ray_cluster_env()
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
    assert_same_store(snapshot, setup["clean"])
    index = gpd.read_parquet(root / "index.parquet")
    assert sorted(index["scene"]) == sorted(setup["clean"])
    assert set(index["status"]) == {"complete"}
    assert not list((root / CLAIMS_DIR).glob("*.lease"))  # every claim released
