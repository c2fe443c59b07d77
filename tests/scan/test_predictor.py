"""The predictor actor class, called directly (no Ray): shapes, cropping, failed tiles, TTA.

The TTA tests at the end check the view averaging the predictor uses
(:func:`oceanscan.model.tta.average_views` with the 8 dihedral views): each view is mapped back,
and an equivariant predictor is left unchanged."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from oceanscan.model import load_bundle, openvino_runtime
from oceanscan.model.tta import DIHEDRAL, average_views
from oceanscan.scan.predictor import (
    Predictor,
    cpu_has_bf16,
    cpu_threads,
    resolve_device,
    resolve_runtime,
)


def _batch(n=3, size=48, seed=0):
    rng = np.random.default_rng(seed)
    tiles = (0.02 + 0.1 * rng.random((n, 11, size, size))).astype(np.float32)
    return {
        "reflectance": tiles,
        "error": np.array(["", "tile (0, 1): boom", ""]),
        "scene_key": np.array(["a", "a", "b"]),
    }


def test_predictions_are_cropped_cores_and_failed_tiles_are_nan(tiny_bundle):
    predictor = Predictor(str(tiny_bundle), margin=8, tile_size=32, device="cpu")
    batch = _batch()
    tiles = batch["reflectance"].copy()
    out = predictor(batch)
    assert "reflectance" not in out and list(out["scene_key"]) == ["a", "a", "b"]
    prob = out["probability"]
    assert prob.shape == (3, 32, 32) and prob.dtype == np.float32
    assert np.isnan(prob[1]).all() and not np.isnan(prob[[0, 2]]).any()
    direct = load_bundle(tiny_bundle).predict_proba(
        tiles[[0, 2]], runtime=predictor.runtime, autocast_bf16=predictor.autocast_bf16
    )
    direct = direct[:, 8:40, 8:40]
    np.testing.assert_allclose(prob[[0, 2]], direct, atol=1e-6)


def test_tta_averages_the_eight_views(tiny_bundle):
    plain = Predictor(str(tiny_bundle), margin=8, tile_size=32, device="cpu", cpu_bf16=False)
    tta = Predictor(
        str(tiny_bundle), margin=8, tile_size=32, device="cpu", tta="dihedral", cpu_bf16=False
    )
    tiles = _batch()["reflectance"][:1]
    bundle = load_bundle(tiny_bundle)
    views = [
        np.rot90(
            np.flip(
                bundle.predict_proba(
                    np.ascontiguousarray(
                        np.flip(np.rot90(tiles, k, (-2, -1)), -1)
                        if f
                        else np.rot90(tiles, k, (-2, -1))
                    )
                ),
                -1,
            )
            if f
            else bundle.predict_proba(np.ascontiguousarray(np.rot90(tiles, k, (-2, -1)))),
            -k,
            (-2, -1),
        )
        for f in (False, True)
        for k in range(4)
    ]
    expected = np.mean(views, axis=0)[:, 8:40, 8:40]
    got = tta({"reflectance": tiles.copy(), "error": np.array([""])})["probability"]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, plain({"reflectance": tiles.copy()})["probability"], atol=1e-4)


def test_device_choice():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu")  # type: ignore[arg-type]


def test_dihedral_average_inverts_each_transform():
    rng = np.random.default_rng(2)
    batch = rng.random((2, 3, 8, 8)).astype(np.float32)
    # A predictor that is not rotation-invariant: it multiplies band 0 by a fixed ramp.
    weights = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)

    def predict(x):
        return x[:, 0] * weights

    # View T(x) = flip(rot90(x, k)) predicts T(x) * w; mapped back that is x * T^-1(w).
    inverse_weights = [np.rot90(np.flip(weights, -1) if f else weights, -k) for k, f in DIHEDRAL]
    expected = batch[:, 0] * np.mean(inverse_weights, axis=0)
    assert len(DIHEDRAL) == 8 and len(set(DIHEDRAL)) == 8
    np.testing.assert_allclose(average_views(predict, batch, "dihedral"), expected, rtol=1e-5)


def test_dihedral_average_of_an_equivariant_predictor_is_the_predictor():
    rng = np.random.default_rng(3)
    batch = rng.random((2, 3, 8, 8)).astype(np.float32)

    def predict(x):  # pixel-wise: commutes with every rotation and mirror
        return x.mean(axis=1)

    np.testing.assert_allclose(average_views(predict, batch, "dihedral"), predict(batch), rtol=1e-6)
    with pytest.raises(ValueError, match="square"):
        average_views(predict, np.zeros((1, 3, 8, 6), dtype=np.float32), "dihedral")


def test_cpu_threads_come_from_the_node_unless_given():
    cpus = len(os.sched_getaffinity(0))
    assert cpu_threads(None, actors=1) == cpus
    assert cpu_threads(None, actors=cpus * 2) == 1  # never below one thread
    assert cpu_threads(3, actors=8) == 3
    with pytest.raises(ValueError, match="threads must be >= 1"):
        cpu_threads(0, actors=1)
    with pytest.raises(ValueError, match="actors must be >= 1"):
        cpu_threads(None, actors=0)


def test_a_cpu_predictor_takes_its_threads(tiny_bundle):
    before = torch.get_num_threads()
    try:
        Predictor(str(tiny_bundle), margin=8, tile_size=32, device="cpu", threads=1)
        assert torch.get_num_threads() == 1
        Predictor(str(tiny_bundle), margin=8, tile_size=32, device="cpu", actors=1)
        assert torch.get_num_threads() == len(os.sched_getaffinity(0))
    finally:
        torch.set_num_threads(before)


def test_actors_are_one_per_cpu_of_a_cluster_without_gpus_unless_given(ray_session, tiny_bundle):
    from oceanscan.scan import ScanConfig
    from oceanscan.scan.execute import predictor_actors

    sized = ScanConfig(model=str(tiny_bundle), root="unused", input=["unused.tif"])
    assert predictor_actors(sized, gpu=False) == 2  # the test cluster's num_cpus
    given = ScanConfig(model=str(tiny_bundle), root="unused", input=["unused.tif"], workers=3)
    assert predictor_actors(given, gpu=False) == 3


def _one_thread_predictor(bundle_dir, **options) -> Predictor:
    """A CPU predictor on one torch thread; the test process keeps its own thread count."""
    before = torch.get_num_threads()
    try:
        return Predictor(
            str(bundle_dir), margin=8, tile_size=32, device="cpu", threads=1, **options
        )
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("runtime", ["openvino", "torch"])
def test_cpu_bf16_follows_the_cpu_unless_turned_off_and_stays_close_to_float32(
    tiny_bundle, runtime
):
    bf16 = _one_thread_predictor(tiny_bundle, cpu_runtime=runtime)
    plain = _one_thread_predictor(tiny_bundle, cpu_runtime=runtime, cpu_bf16=False)
    assert bf16.autocast_bf16 == cpu_has_bf16()  # as CUDA runs bf16, where the CPU has it
    assert not plain.autocast_bf16
    tiles = np.random.default_rng(3).uniform(0.0, 0.1, (2, 11, 48, 48)).astype(np.float32)
    p32 = plain({"reflectance": tiles.copy()})["probability"]
    p16 = bf16({"reflectance": tiles.copy()})["probability"]
    assert p32.shape == p16.shape == (2, 32, 32)
    np.testing.assert_allclose(p16, p32, atol=0.1)


def test_a_cpu_predictor_runs_openvino_unless_told_torch(tiny_bundle):
    auto = _one_thread_predictor(tiny_bundle, cpu_bf16=False)
    eager = _one_thread_predictor(tiny_bundle, cpu_bf16=False, cpu_runtime="torch")
    assert (auto.runtime, eager.runtime) == ("openvino", "torch")
    batch = _batch()
    got = auto({k: v.copy() for k, v in batch.items()})["probability"]
    expected = eager({k: v.copy() for k, v in batch.items()})["probability"]
    np.testing.assert_allclose(got, expected, atol=1e-5)  # float32 both, rounding apart


def test_runtime_choice(monkeypatch):
    assert resolve_runtime("auto", "cpu") == "openvino"
    assert resolve_runtime("torch", "cpu") == "torch"
    assert resolve_runtime("auto", "cuda") == resolve_runtime("openvino", "cuda") == "torch"
    with pytest.raises(ValueError, match=r"cpu_runtime must be one of .* got 'onnx'"):
        resolve_runtime("onnx", "cpu")  # type: ignore[arg-type]
    monkeypatch.setattr(openvino_runtime, "openvino_available", lambda: False)
    assert resolve_runtime("auto", "cpu") == "torch"
    with pytest.raises(ImportError, match=r"pip install 'oceanscan\[openvino\]'"):
        resolve_runtime("openvino", "cpu")


def test_the_network_is_converted_ahead_once_for_the_cpu_actors_to_read(
    tiny_bundle, tmp_path, monkeypatch
):
    from oceanscan.scan.predictor import convert_ahead

    monkeypatch.setenv("OCEANSCAN_CACHE_DIR", str(tmp_path / "cache"))
    bundle = load_bundle(tiny_bundle)
    assert convert_ahead(bundle, device="cuda", cpu_runtime="auto") is None
    assert convert_ahead(bundle, device="cpu", cpu_runtime="torch") is None
    gate, convert = threading.Event(), openvino_runtime.convert_to_cache

    def gated(*args: object, **kwargs: object) -> None:
        gate.wait(60)
        convert(*args, **kwargs)

    monkeypatch.setattr(openvino_runtime, "convert_to_cache", gated)
    thread = convert_ahead(bundle, device="auto", cpu_runtime="auto")
    assert thread is not None and thread.is_alive()
    # a second scan start while it runs (the CLI, then scan_scenes) waits for the same thread
    assert convert_ahead(bundle, device="cpu", cpu_runtime="openvino") is thread
    gate.set()
    thread.join()
    cached = sorted(p.suffix for p in (tmp_path / "cache" / "openvino").iterdir())
    assert cached == [".bin", ".xml"]

    def no_tracing(*args: object) -> None:
        raise AssertionError("an actor traced the network although it was converted ahead")

    monkeypatch.setattr(openvino_runtime, "_trace", no_tracing)
    actor = _one_thread_predictor(tiny_bundle, cpu_bf16=False)
    assert actor(_batch())["probability"].shape[0] == 3


def test_a_failed_conversion_ahead_is_logged_and_left_to_the_actors(
    tiny_bundle, tmp_path, monkeypatch, caplog
):
    from oceanscan.scan.predictor import convert_ahead

    monkeypatch.setenv("OCEANSCAN_CACHE_DIR", str(tmp_path / "cache"))

    def broken(*args: object) -> None:
        raise RuntimeError("frontend exploded")

    monkeypatch.setattr(openvino_runtime, "_trace", broken)
    thread = convert_ahead(load_bundle(tiny_bundle), device="cpu", cpu_runtime="auto")
    assert thread is not None
    thread.join()
    assert "ahead of the scan failed" in caplog.text and "frontend exploded" in caplog.text
    assert not (tmp_path / "cache" / "openvino").exists() or not any(
        (tmp_path / "cache" / "openvino").glob("*.xml")
    )
