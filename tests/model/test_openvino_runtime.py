"""OpenVINO as the CPU runtime: the same function as torch, converted once and cached on disk."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from oceanscan.model import AttentionUNet, load_bundle, openvino_runtime, save_bundle
from oceanscan.model.inference import fold_batchnorm
from oceanscan.model.openvino_runtime import OpenVINONetwork, openvino_available

ARCH = {"in_channels": 11, "num_classes": 2, "base_width": 4, "dropout": 0.2, "attention_heads": 4}


@pytest.fixture
def folded() -> torch.nn.Module:
    torch.manual_seed(0)
    net = AttentionUNet(**ARCH)
    net.train()  # BatchNorm statistics away from identity
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(4, 11, 32, 32) * 3 + 1)
    return fold_batchnorm(net.eval())


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OCEANSCAN_CACHE_DIR", str(tmp_path / "cache"))


def test_openvino_is_installed_with_the_project():
    assert openvino_available()


@pytest.mark.parametrize("shape", [(1, 11, 64, 64), (3, 11, 48, 80)])
def test_openvino_computes_the_torch_function_at_any_tile_shape(folded, shape):
    network = OpenVINONetwork(folded, 11, key=None, threads=1)
    x = torch.randn(*shape)
    with torch.no_grad():
        expected = folded(x)
    got = network(x)
    assert got.shape == expected.shape and got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_the_converted_network_is_cached_and_read_back(folded, tmp_path, monkeypatch):
    OpenVINONetwork(folded, 11, key="abc", threads=1)
    cached = sorted(p.name for p in (tmp_path / "cache" / "openvino").iterdir())
    assert [p.split("-ov")[0] for p in cached] == ["abc-11", "abc-11"]
    assert {p.rsplit(".", 1)[1] for p in cached} == {"bin", "xml"}

    def no_tracing(*args: object) -> None:
        raise AssertionError("converted again although the cache holds the network")

    monkeypatch.setattr(openvino_runtime, "_trace", no_tracing)
    network = OpenVINONetwork(folded, 11, key="abc", threads=1)
    x = torch.randn(1, 11, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(network(x), folded(x), rtol=1e-4, atol=1e-4)


def test_a_damaged_cache_entry_is_converted_again(folded, tmp_path, caplog):
    OpenVINONetwork(folded, 11, key="abc", threads=1)
    xml = next((tmp_path / "cache" / "openvino").glob("*.xml"))
    xml.write_text("<net truncated")
    with caplog.at_level(logging.WARNING, logger=openvino_runtime.__name__):
        network = OpenVINONetwork(folded, 11, key="abc", threads=1)
    assert "converting again" in caplog.text
    x = torch.randn(1, 11, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(network(x), folded(x), rtol=1e-4, atol=1e-4)
    assert xml.read_text().startswith("<?xml")  # and the entry is mended


def test_an_unwritable_cache_only_costs_the_caching(folded, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("OCEANSCAN_CACHE_DIR", str(blocker))
    with caplog.at_level(logging.WARNING, logger=openvino_runtime.__name__):
        network = OpenVINONetwork(folded, 11, key="abc", threads=1)
    assert "could not cache" in caplog.text
    assert network(torch.zeros(1, 11, 16, 16)).shape == (1, 2, 16, 16)


def test_bundle_predicts_the_same_probabilities_on_either_runtime(tmp_path, folded):
    torch.manual_seed(1)
    model = AttentionUNet(**ARCH).eval()
    directory = save_bundle(tmp_path / "b", model, arch=ARCH, class_mapping="binary", threshold=0.5)
    bundle = load_bundle(directory)
    x = np.random.default_rng(2).uniform(0, 0.15, size=(2, 11, 40, 56)).astype(np.float32)
    x[0, :, :5, :5] = np.nan  # missing pixels take the same path on both runtimes
    on_torch = bundle.predict_proba(x, tta="none")
    on_openvino = bundle.predict_proba(x, tta="none", runtime="openvino")
    assert on_openvino.shape == on_torch.shape == (2, 40, 56)
    np.testing.assert_allclose(on_openvino, on_torch, atol=1e-5)
    views = bundle.predict_proba(x, tta="rot180", runtime="openvino")
    np.testing.assert_allclose(views, bundle.predict_proba(x, tta="rot180"), atol=1e-5)


def test_bundle_refuses_an_unknown_runtime_or_openvino_off_the_cpu(tmp_path):
    model = AttentionUNet(**ARCH).eval()
    directory = save_bundle(tmp_path / "b", model, arch=ARCH, class_mapping="binary", threshold=0.5)
    bundle = load_bundle(directory)
    x = np.zeros((1, 11, 16, 16), dtype=np.float32)
    with pytest.raises(ValueError, match="Invalid runtime 'onnx'"):
        bundle.predict_proba(x, runtime="onnx")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="runs on the CPU, got device 'meta'"):
        bundle.predict_proba(x, runtime="openvino", device="meta")
