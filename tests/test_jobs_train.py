"""``ray job submit --working-dir . -- python jobs/train.py`` against a real Ray head process.

The head (the ``ray_head`` fixture of tests/conftest.py) runs in its own processes with its own
temp directory, so it never shares state with the in-process ``ray_session`` fixture.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from oceanscan.model import load_bundle
from oceanscan.synth.patches import write_patches
from tests.helpers.ray_cluster import job_submit

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def test_ray_job_submit_trains_and_exports_a_bundle(ray_head, tmp_path):
    data = write_patches(tmp_path / "data", 24, size=32, seed=2)
    out, runs = tmp_path / "bundle", tmp_path / "runs"
    proc = job_submit(
        ray_head,  # tests/conftest.py: a one-node local cluster
        [
            sys.executable,
            "jobs/train.py",
            "--config",
            "configs/train.yaml",
            "--data",
            str(data),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--warmup-epochs",
            "1",
            "--width",
            "4",
            "--batch-size",
            "4",
            "--workers",
            "1",
            "--storage-path",
            str(runs),
            "--run-name",
            "job",
            "--set",
            "dropout=0.0",
            "--set",
            "attention_heads=2",
        ],
        working_dir=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "succeeded" in proc.stdout
    # the job printed its result as a JSON line
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"bundle"')]
    summary = json.loads(line)
    assert summary["epochs_run"] == 2 and summary["run_path"].endswith("runs/job")
    bundle = load_bundle(out)
    assert bundle.meta["architecture"]["hyperparameters"]["base_width"] == 4
    assert [h["epoch"] for h in bundle.meta["metrics"]["history"]] == [1, 2]
    assert any(p.name.startswith("checkpoint_") for p in (runs / "job").iterdir())
