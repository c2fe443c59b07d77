"""``ray job submit --working-dir . -- python jobs/train.py`` against a real Ray head process.

The head runs in its own processes (``ray start --head --block``) with its own temp directory, so
it never shares state with the in-process ``ray_session`` fixture; it is stopped by signalling the
process this test started (``ray stop`` would stop every Ray instance of the machine's user).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from oceanscan.model import load_bundle
from oceanscan.synth.patches import write_patches

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env["RAY_AUTH_MODE"] = "disabled"  # loopback-only test cluster
    return env


@pytest.fixture
def ray_head():
    port, dash = _free_port(), _free_port()
    # every port of its own: other Ray instances on this machine hold the defaults
    ports = {
        "--dashboard-agent-listen-port": _free_port(),
        "--dashboard-agent-grpc-port": _free_port(),
        "--metrics-export-port": _free_port(),
        "--runtime-env-agent-port": _free_port(),
        "--ray-client-server-port": _free_port(),
        "--node-manager-port": _free_port(),
        "--object-manager-port": _free_port(),
    }
    temp_dir = tempfile.mkdtemp(prefix="rayh", dir="/tmp")  # short: Ray's socket paths are limited
    head = subprocess.Popen(
        [
            RAY,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dash}",
            f"--temp-dir={temp_dir}",
            "--disable-usage-stats",
            *(f"{flag}={value}" for flag, value in ports.items()),
        ],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{dash}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{address}/api/version", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if head.poll() is not None or time.monotonic() > deadline:
            head.kill()
            pytest.fail(f"Ray head did not start its job server at {address}")
        time.sleep(1)
    try:
        yield address
    finally:
        # only the head's own process group: never `ray stop`, which ends every Ray of the user
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # GCS and monitor ignore a group SIGTERM
        except ProcessLookupError:
            pass
        head.wait(timeout=30)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_ray_job_submit_trains_and_exports_a_bundle(ray_head, tmp_path):
    data = write_patches(tmp_path / "data", 24, size=32, seed=2)
    out, runs = tmp_path / "bundle", tmp_path / "runs"
    cmd = [
        RAY,
        "job",
        "submit",
        "--address",
        ray_head,
        "--working-dir",
        str(REPO),
        "--",
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
    ]
    deadline = time.monotonic() + 90
    while True:  # the job agent registers a few seconds after the dashboard answers
        proc = subprocess.run(
            cmd, env=_env(), capture_output=True, text=True, timeout=400, check=False
        )
        if "No available agent" not in proc.stderr or time.monotonic() > deadline:
            break
        time.sleep(3)
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
