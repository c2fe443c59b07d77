"""Training driver death, for real: ``oceanscan train`` runs in its own process (joined to the
test's Ray cluster through RAY_ADDRESS, as under ``ray job submit``) and is killed with SIGKILL once
Ray Train has committed the first checkpoint; the same command with the same storage path and run name then
resumes from the latest checkpoint and finishes.

``tests/train/test_ray_train.py`` covers a *worker* crash inside a run (Ray Train's
``FailureConfig``); this covers the loss of the driver, which takes the Ray Train controller and
the whole worker group with it, so only the run directory survives.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from oceanscan.model import load_bundle
from oceanscan.synth.patches import write_patches
from oceanscan.train import checkpoint as ckpt

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _snapshot(run_dir: Path) -> str:
    """Ray Train V2's record of the run's committed checkpoints ("" before the first one)."""
    path = run_dir / "checkpoint_manager_snapshot.json"
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


EPOCHS = 4


def _train_command(data: Path, out: Path, storage: Path, run: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "oceanscan",
        "-v",
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--epochs",
        str(EPOCHS),
        "--warmup-epochs",
        "1",
        "--width",
        "4",
        "--batch-size",
        "4",
        "--workers",
        "1",
        "--storage-path",
        str(storage),
        "--run-name",
        run,
        "--keep-checkpoints",
        "5",
        "--set",
        "attention_heads=2",
        "--set",
        "dropout=0.0",
    ]


def _kill_after_first_commit(cmd: list[str], env: dict[str, str], run_dir: Path) -> int:
    """Start ``cmd``, SIGKILL it once Ray Train has committed a checkpoint; its return code."""
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 150
    try:
        while "checkpoint_" not in _snapshot(run_dir):
            assert first.poll() is None, first.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint was written in time"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    return first.returncode


def test_killed_training_driver_resumes_from_its_checkpoint(ray_session, tmp_path):
    data = write_patches(tmp_path / "marida", 16, size=32, seed=2)
    storage, run = tmp_path / "runs", "driver-death"
    cmd = _train_command(data, tmp_path / "bundle", storage, run)
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    returncode = _kill_after_first_commit(cmd, env, storage / run)
    assert returncode == -signal.SIGKILL
    saved = sorted(
        ckpt.load_meta(p).epoch for p in (storage / run).glob("checkpoint_*") if p.is_dir()
    )
    names = set(re.findall(r"checkpoint_[0-9][^\"/]*", _snapshot(storage / run)))
    committed = sorted(ckpt.load_meta(storage / run / n).epoch for n in names)
    assert committed and max(committed) < EPOCHS  # killed mid-run, after a committed checkpoint
    assert not (tmp_path / "bundle").exists()

    second = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout[second.stdout.index("{") :])
    assert summary["epochs_run"] == EPOCHS
    history = load_bundle(tmp_path / "bundle").meta["metrics"]["history"]
    assert [h["epoch"] for h in history] == list(range(1, EPOCHS + 1))  # each epoch once
    resumed = [h["resumed_from_epoch"] for h in history]
    print("checkpoints on disk at kill", saved, "committed", committed, "resumed_from", resumed)
    # The second run resumed from the latest checkpoint Ray Train had committed to the run
    # state (checkpoint_manager_snapshot.json); epochs up to it are the killed run's.
    start = max(committed)
    assert resumed[:start] == [None] * start
    assert resumed[start:] == [start] * (EPOCHS - start)
    assert f"resumes after epoch {start}" in second.stdout + second.stderr


# Measured here (2 CPUs): a driver killed while checkpoint directories exist on disk that Ray Train
# has not yet committed to checkpoint_manager_snapshot.json resumes from the last *committed*
# one, and a driver killed before the first commit starts over from epoch 1: what survives a
# driver's death is the snapshot, not the directories.
