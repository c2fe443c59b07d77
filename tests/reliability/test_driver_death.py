"""Driver death mid-scan, for real: ``oceanscan scan`` runs in its own process (joined to the
test's Ray cluster through RAY_ADDRESS, as under ``ray job submit``), is killed with SIGKILL once
some scenes are complete (so tiles were written) and others are not, and the scan is run again.

What must hold: no scene is ever marked complete with tiles missing (every scene the killed run
marked complete is already bit-identical to a clean run's), the rerun skips exactly those scenes
and redoes only the others, and the final store is bit-identical to a clean run.
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from oceanscan.scan.pipeline import scan_scenes
from oceanscan.scan.sources import catalog_scenes
from tests.helpers.ray_cluster import ray_cluster_env
from tests.helpers.scans import clean_catalog_scan, scan_command
from tests.helpers.stores import (
    assert_same_store,
    assert_scene_equal,
    chunk_files,
    scene_statuses,
    store_snapshot,
)

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SCENES, SIZE, TILE = 5, 128, 32


@pytest.fixture(scope="module")
def setup(ray_session, tmp_path_factory):
    base = tmp_path_factory.mktemp("driver")
    return clean_catalog_scan(base, scenes=SCENES, size=SIZE, tile=TILE, seed=9)


def test_sigkill_of_the_scan_driver_then_rerun_redoes_only_unfinished_scenes(setup):
    root = setup["base"] / "killed"
    cmd = scan_command(setup, root, tile=TILE)
    env = ray_cluster_env()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while True:
            status = scene_statuses(root)
            done = [k for k, s in status.items() if s == "complete"]
            if done and len(status) == SCENES and len(done) < SCENES:
                break
            assert proc.poll() is None, "the scan ended before it could be killed mid-way"
            assert time.monotonic() < deadline, f"no mid-scan state seen: {status}"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # The store as the dead driver left it: every "complete" scene already has all its tiles.
    killed = store_snapshot(root)
    complete = sorted(k for k, v in killed.items() if v["attrs"]["status"] == "complete")
    unfinished = sorted(k for k, v in killed.items() if v["attrs"]["status"] != "complete")
    assert complete and unfinished
    for key in complete:
        assert_scene_equal(killed[key], setup["clean"][key], key)
    for key in unfinished:
        assert killed[key]["attrs"]["status"] == "created"
    mtimes = {k: [p.stat().st_mtime_ns for p in chunk_files(root, k)] for k in complete}
    killed_run = {k: killed[k]["attrs"] for k in complete}

    # The rerun: only the unfinished scenes are scanned again.
    config = setup["config"].model_copy(update={"root": str(root)})
    rerun = scan_scenes(catalog_scenes(setup["catalog"]), config)
    assert sorted(rerun.counts.skipped) == complete
    assert sorted(rerun.counts.complete) == sorted(set(setup["clean"]) - set(complete))
    assert not rerun.counts.failed
    assert rerun.tiles == len(rerun.counts.complete) * (SIZE // TILE) ** 2
    final = store_snapshot(root)
    assert_same_store(final, setup["clean"])
    for key in complete:  # untouched: same chunk files, same run id as the killed run
        assert [p.stat().st_mtime_ns for p in chunk_files(root, key)] == mtimes[key]
        assert final[key]["attrs"] == killed_run[key]
