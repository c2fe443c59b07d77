"""``ray job submit --working-dir . -- python jobs/scan.py`` on a real local Ray cluster of two nodes.

The cluster is shaped like cluster.yaml's: a head that takes no work (``--num-cpus=0``) and a
worker node that runs every task, each node its own processes (tests/helpers/ray_cluster.py). A scan to
a local path is refused there before anything is written, with an error that says to use a
shared URL; the same job with an ``s3://`` root (the SeaweedFS server of the tests) scans every
scene into a store that xarray opens through s3fs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from oceanscan.synth.catalog import write_catalog
from tests.helpers.bundles import save_tiny_bundle
from tests.helpers.ray_cluster import job_submit, start_ray_cluster

pytestmark = [pytest.mark.slow, pytest.mark.server]

REPO = Path(__file__).resolve().parents[1]

FAST = ["--tile-size", "32", "--margin", "8", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def two_nodes():
    with start_ray_cluster(head_cpus=0, workers=1, worker_cpus=2) as cluster:
        assert cluster.nodes == 2
        yield cluster


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("jobs-scan")
    catalog = write_catalog(base / "catalog", scenes=2, size=32, seed=3)
    return {"base": base, "catalog": catalog.parent, "bundle": save_tiny_bundle(base / "bundle")}


def _log(out: str) -> str:
    """The end of a job's output, without Ray's packaging chatter."""
    return "\n".join(ln for ln in out.splitlines() if "packaging.py" not in ln)[-4000:]


def _scan_job(cluster, *args):
    return job_submit(
        cluster.address,
        [sys.executable, "jobs/scan.py", *args, *FAST],
        working_dir=REPO,
    )


def test_a_local_root_is_refused_on_a_cluster_of_several_nodes(two_nodes, inputs):
    root = inputs["base"] / "local-root"
    proc = _scan_job(
        two_nodes,
        "--catalog",
        str(inputs["catalog"]),
        "--model",
        str(inputs["bundle"]),
        "--root",
        str(root),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, _log(out)
    assert "failed" in out.lower()
    assert f"jobs/scan.py: error: root {str(root)!r} is a local path" in out
    assert "the Ray cluster has 2 nodes" in out and "s3://" in out
    assert not root.exists()  # refused before the store, the claims or anything else


def test_the_scan_job_writes_to_s3_from_the_worker_node(two_nodes, inputs, s3_server):
    import s3fs
    import xarray as xr

    root = f"s3://{s3_server.bucket}/jobs-scan"
    config = inputs["base"] / "scan-s3.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": str(inputs["bundle"]),
                "root": root,
                "storage_options": s3_server.storage_options,
                "catalog": str(inputs["catalog"]),
            }
        )
    )
    proc = _scan_job(two_nodes, "--config", str(config))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, _log(out)
    assert "succeeded" in proc.stdout
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"run_id"')]
    summary = json.loads(line)
    assert (summary["complete"], summary["failed"], summary["root"]) == (2, 0, root)

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options)
    assert fs.exists(f"{root}/index.parquet") and fs.exists(f"{root}/detections.parquet")
    names = [p.rsplit("/", 1)[-1] for p in fs.ls(f"{root}/scenes.zarr/scenes")]
    keys = [n for n in names if not n.startswith(".")]  # .zgroup, .zattrs
    assert len(keys) == 2
    ds = xr.open_zarr(
        f"{root}/scenes.zarr",
        group=f"scenes/{keys[0]}",
        decode_coords="all",
        storage_options=s3_server.storage_options,
    )
    assert ds.attrs["status"] == "complete"
    probability = ds.probability.values
    assert probability.shape == (32, 32)
    scored = probability[~np.isnan(probability)]
    assert scored.size and ((scored >= 0) & (scored <= 1)).all()
