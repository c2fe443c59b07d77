"""benchmarks/vs_marinedebrisdetector.py: the shipped network behind marinedebrisdetector's
interface is oceanscan's own, and the whole comparison runs on a small scene.

marinedebrisdetector comes from scripts/setup (``pip install --no-deps``); without it these tests
skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks._mdd import MDD_BANDS, bundle_as_mdd, load_scene_predictor
from oceanscan.scan.predictor import cpu_has_bf16

PROJECT = Path(__file__).resolve().parents[2]
BENCHMARKS = PROJECT / "benchmarks"


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _need_marinedebrisdetector() -> None:
    if importlib.util.find_spec("marinedebrisdetector") is None:
        _missing("marinedebrisdetector is not installed: run scripts/setup")


@pytest.fixture(scope="module")
def bundle():
    from oceanscan.errors import BundleError
    from oceanscan.model import default_bundle_dir, load_bundle

    try:
        return load_bundle(default_bundle_dir())
    except BundleError as err:  # a source tree without the package data
        _missing(str(err))


def test_the_wrapped_network_gives_the_bundles_probabilities(bundle):
    import torch

    rng = np.random.default_rng(0)
    x = rng.uniform(0.005, 0.08, size=(2, len(MDD_BANDS), 64, 64)).astype(np.float32)
    x[0, :, 5, 7] = 0  # marinedebrisdetector's zero padding: nodata to oceanscan
    keep = [MDD_BANDS.index(b) for b in bundle.bands]
    with torch.no_grad():
        wrapped = torch.sigmoid(bundle_as_mdd(bundle)(torch.from_numpy(x)))[:, 0].numpy()
    as_nodata = np.where(x == 0, np.nan, x)[:, keep]
    network_alone = dataclasses.replace(bundle, spectral_check=None)  # the check is not the network
    direct = network_alone.predict_proba(as_nodata, tta="none")
    np.testing.assert_allclose(wrapped, direct, atol=1e-5)


def test_the_scene_predictor_loads_without_the_package_import():
    _need_marinedebrisdetector()
    before = set(sys.modules)
    predictor = load_scene_predictor()(image_size=(480, 480), offset=64, device="cpu")
    assert callable(predictor.predict)
    leaked = {
        m for m in set(sys.modules) - before if m.startswith(("marinedebrisdetector", "tqdm"))
    }
    assert not leaked, f"stand-ins left in sys.modules: {leaked}"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    _need_marinedebrisdetector()
    out = tmp_path_factory.mktemp("vs-mdd") / "report.json"
    cmd = [sys.executable, str(BENCHMARKS / "vs_marinedebrisdetector.py")]
    proc = subprocess.run(
        [*cmd, "--size", "256", "--model-tiles", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == json.loads(out.read_text())
    return json.loads(out.read_text())


@pytest.mark.slow
def test_both_sides_scan_the_scene_at_a_positive_speed(report):
    assert report["scene"]["pixels"] == 256 * 256
    assert report["marinedebrisdetector"]["pixels_per_s"] > 0
    assert report["marinedebrisdetector"]["torch_threads"] == os.cpu_count()
    ocean = report["oceanscan"]
    assert ocean["complete"] == 1
    rates = [ocean[f"pixels_per_s_{part}"] for part in ("with_ray_start", "after_ray_start")]
    rates.append(ocean["pixels_per_s_after_startup"])
    assert 0 < rates[0] < rates[1] < rates[2]
    assert 0 < ocean["startup_s"] < ocean["seconds_with_ray_start"]
    assert ocean["predictor_busy_s"] > 0  # the sampler saw the actor score its batch
    assert set(report["oceanscan_over_mdd"]) == {
        "with_ray_start",
        "after_ray_start",
        "after_startup",
    }
    assert all(ratio > 0 for ratio in report["oceanscan_over_mdd"].values())
    sides = ("marinedebrisdetector", "marinedebrisdetector_one_thread")
    for side in (*sides, "oceanscan_all_cores", "oceanscan_one_thread"):
        assert report["model_only"][side]["core_pixels_per_s"] > 0
    # one actor per core of the node, one thread each (oceanscan.scan.execute.predictor_actors)
    assert ocean["predictor_actors"] == os.cpu_count()
    assert report["model_only"]["oceanscan_one_thread"]["torch_threads"] == 1
    assert report["model_only"]["oceanscan_runtime"] == "openvino"  # as the scan runs on CPUs
    assert ocean["cpu_runtime"] == "openvino"
    assert ocean["cpu_bf16"] == report["model_only"]["oceanscan_bf16"] == cpu_has_bf16()
    float32 = report["oceanscan_float32"]
    if cpu_has_bf16():  # the shipped scan ran bf16: float32 beside it, and what bf16 moved
        assert float32["scan"]["cpu_bf16"] is False
        assert 0 <= float32["steps_changed"] < 0.5
        assert float32["decisions_changed"] <= 0.05 * max(float32["debris_pixels_float32"], 100)
    else:
        assert float32 is None
    assert set(report["machine"]) >= {"cpus", "torch", "oceanscan", "marinedebrisdetector"}


@pytest.mark.slow
def test_both_sides_run_the_same_network(report):
    # On one tile, exactly the same function; over the scene, the same network under two tilings
    # (zero padding and context on two sides vs reflection and context on four; the network's
    # global self-attention sees each side's whole window), so close but not equal.
    assert report["model_only"]["wrapper_vs_bundle_max_abs_diff"] < 1e-5
    agreement = report["agreement"]
    assert agreement["scored_fraction"] == 1.0
    assert agreement["correlation"] > 0.9
    assert agreement["within_0_02"] > 0.9
    assert agreement["same_decision"] > 0.99
