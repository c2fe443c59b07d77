"""Model bundle: round trip, integrity checks, refusal of pickle payloads, prediction."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import fsspec
import numpy as np
import pytest
import torch
from torch import nn

from oceanscan import sentinel2
from oceanscan.classes import positive_class
from oceanscan.data.normalization import MARIDA_MEAN, MARIDA_STD, normalize
from oceanscan.errors import BundleError
from oceanscan.model import AttentionUNet, ModelBundle, load_bundle, save_bundle
from tests.helpers.shared import shared_path

ARCH = {"in_channels": 11, "num_classes": 2, "base_width": 4, "dropout": 0.2, "attention_heads": 4}


@pytest.fixture
def model() -> AttentionUNet:
    torch.manual_seed(0)
    net = AttentionUNet(**ARCH)
    # Non-trivial BatchNorm statistics, so a bundle that lost its buffers would score differently.
    net.train()
    with torch.no_grad():
        net(torch.randn(4, 11, 32, 32) * 3 + 1)
    return net.eval()


def _save(directory: Path, model: nn.Module, **kwargs) -> Path:
    args = {"arch": ARCH, "class_mapping": "binary", "threshold": 0.42, **kwargs}
    return save_bundle(directory, model, **args)


def _reflectance(n: int = 2, h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.15, size=(n, 11, h, w)).astype(np.float32)
    x[0, 3, :4, :4] = np.nan
    return x


def test_round_trip_preserves_weights_and_metadata(tmp_path, model):
    out = _save(
        tmp_path / "bundle",
        model,
        metrics={"f1": np.float64(0.8), "history": [{"epoch": 1, "loss": 0.5}]},
        data_summary={"train_patches": 10, "class_pixels": np.array([100, 3])},
        extra={"run": "r1"},
    )
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.pt"]
    bundle = load_bundle(out)
    assert isinstance(bundle, ModelBundle)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(bundle.model.state_dict()[key], value, rtol=0, atol=0)
    assert not bundle.model.training
    assert bundle.threshold == 0.42
    assert bundle.bands == sentinel2.BANDS
    assert bundle.sha256 == hashlib.sha256((out / "model.pt").read_bytes()).hexdigest()
    assert bundle.model_id == f"attentionunet-{bundle.sha256[:12]}"
    assert bundle.path == out
    meta = bundle.meta
    assert meta["format_version"] == 1
    assert meta["architecture"] == {
        "name": "AttentionUNet",
        "hyperparameters": ARCH,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    assert meta["class_mapping"] == "binary"
    assert meta["class_names"] == ["Other", "Marine Debris"]
    assert meta["positive_class"] == positive_class("binary") == bundle.positive_class
    assert meta["metrics"]["f1"] == 0.8
    assert meta["data_summary"]["class_pixels"] == [100, 3]
    assert meta["extra"] == {"run": "r1"}
    assert meta["sha256"] == bundle.sha256
    assert meta["oceanscan_version"]
    assert meta["created"].endswith("+00:00")


def test_load_from_an_fsspec_url(tmp_path, model):
    out = _save(tmp_path / "b", model)
    fs = fsspec.filesystem("memory")
    for name in ("model.json", "model.pt"):
        fs.pipe(f"/bundles/b/{name}", (out / name).read_bytes())
    try:
        bundle = load_bundle("memory://bundles/b")
        assert bundle.sha256 == load_bundle(out).sha256
        assert bundle.path == "memory://bundles/b"
        with pytest.raises(BundleError, match="missing"):
            load_bundle("memory://bundles/none")
    finally:
        fs.rm("/bundles", recursive=True)


def test_default_normalization_is_marida_published(tmp_path, model):
    constants = json.loads(shared_path("reference", "marida_constants.json").read_text())
    bundle = load_bundle(_save(tmp_path / "b", model))
    np.testing.assert_allclose(bundle.mean, constants["bands_mean"], rtol=1e-6)
    np.testing.assert_allclose(bundle.std, constants["bands_std"], rtol=1e-6)


def test_weights_file_is_a_plain_cpu_state_dict_without_ddp_prefix(tmp_path, model):
    class _Wrapper(nn.Module):  # what DistributedDataParallel looks like from outside
        def __init__(self, module: nn.Module) -> None:
            super().__init__()
            self.module = module

    _save(tmp_path / "b", _Wrapper(model))
    state = torch.load(tmp_path / "b" / "model.pt", weights_only=True)
    assert set(state) == set(model.state_dict())
    assert all(v.device.type == "cpu" for v in state.values())


def test_save_replaces_an_existing_bundle_and_refuses_other_directories(tmp_path, model):
    out = _save(tmp_path / "b", model, threshold=0.3)
    _save(out, model, threshold=0.6)
    assert load_bundle(out).threshold == 0.6
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no temporary leftovers
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="not a model bundle"):
        _save(precious, model)
    assert (precious / "keep.txt").read_text() == "mine"


def test_failed_save_leaves_no_half_bundle(tmp_path, model):
    with pytest.raises(TypeError, match="JSON"):
        _save(tmp_path / "b", model, metrics={"bad": object()})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"class_mapping": "marida11"}, "classes"),
        ({"class_mapping": "nope"}, "class mapping"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"bands": ("B02", "B03")}, "bands"),
        ({"arch": {**ARCH, "base_width": 8}}, "base_width"),
        ({"normalization": {"mean": [0.0] * 11, "std": [0.0] * 11}}, "std"),
    ],
)
def test_save_rejects_inconsistent_metadata(tmp_path, model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _save(tmp_path / "b", model, **kwargs)


def test_missing_directory_and_files(tmp_path, model):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "absent")
    out = _save(tmp_path / "b", model)
    (out / "model.pt").unlink()
    with pytest.raises(BundleError, match="missing"):
        load_bundle(out)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"format_version": 1}'])
def test_malformed_json(tmp_path, model, text):
    out = _save(tmp_path / "b", model)
    (out / "model.json").write_text(text)
    with pytest.raises(BundleError, match="malformed"):
        load_bundle(out)


@pytest.mark.parametrize("threshold", [7.0, -0.25, 1.0000001, float("nan"), float("inf")])
def test_a_threshold_that_is_not_a_probability_is_refused(tmp_path, model, threshold):
    """A model.json edited (or written elsewhere) with a threshold outside [0, 1] or non-finite
    would flag everything or nothing; loading it fails and names the threshold and the file."""
    out = _save(tmp_path / "b", model)
    meta = json.loads((out / "model.json").read_text())
    meta["threshold"] = threshold
    (out / "model.json").write_text(json.dumps(meta))  # NaN and Infinity as Python writes them
    with pytest.raises(BundleError, match="threshold") as caught:
        load_bundle(out)
    assert str(out / "model.json") in str(caught.value)


def test_sha_mismatch(tmp_path, model):
    out = _save(tmp_path / "b", model)
    data = bytearray((out / "model.pt").read_bytes())
    data[-20] ^= 0xFF
    (out / "model.pt").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(out)


class _Payload:
    """Unpickling this runs a shell command: what a tampered weights file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious_weights(path: Path, marker: Path) -> None:
    torch.save({"enc1.0.weight": torch.zeros(1), "payload": _Payload(marker)}, path)


def test_pickle_payload_is_refused_and_never_runs(tmp_path, model):
    # The payload is real: a full unpickle in another process does run it.
    control_marker = tmp_path / "control-ran"
    _malicious_weights(tmp_path / "control.pt", control_marker)
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import torch; torch.load({str(tmp_path / 'control.pt')!r}, weights_only=False)",
        ],
        check=True,
    )
    assert control_marker.exists()

    out = _save(tmp_path / "b", model)
    marker = tmp_path / "payload-ran"
    _malicious_weights(out / "model.pt", marker)
    meta = json.loads((out / "model.json").read_text())
    meta["sha256"] = hashlib.sha256((out / "model.pt").read_bytes()).hexdigest()
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="weights_only"):
        load_bundle(out)
    assert not marker.exists()


def test_plain_pickle_that_is_not_a_state_dict(tmp_path, model):
    out = _save(tmp_path / "b", model)
    torch.save([1, 2, 3], out / "model.pt")  # a valid torch file, but no state dict
    meta = json.loads((out / "model.json").read_text())
    meta["sha256"] = hashlib.sha256((out / "model.pt").read_bytes()).hexdigest()
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="state dict of named tensors"):
        load_bundle(out)


def test_state_dict_not_matching_architecture(tmp_path, model):
    out = _save(tmp_path / "b", model)
    meta = json.loads((out / "model.json").read_text())
    meta["architecture"]["hyperparameters"]["base_width"] = 8
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="does not fit AttentionUNet"):
        load_bundle(out)


def test_check_bands_names_the_mismatch(tmp_path, model):
    bundle = load_bundle(_save(tmp_path / "b", model))
    bundle.check_bands(sentinel2.BANDS)
    with pytest.raises(BundleError, match=r"missing \['B12'\]"):
        bundle.check_bands(sentinel2.BANDS[:-1])
    with pytest.raises(BundleError, match=r"unexpected \['B09'\]"):
        bundle.check_bands((*sentinel2.BANDS[:-1], "B09"))
    with pytest.raises(BundleError, match="another order"):
        bundle.check_bands(tuple(reversed(sentinel2.BANDS)))


def test_predict_proba_matches_manual_pipeline(tmp_path, model):
    bundle = load_bundle(_save(tmp_path / "b", model))
    x = _reflectance()
    prob = bundle.predict_proba(x)
    assert prob.shape == (2, 32, 32) and prob.dtype == np.float32
    with torch.no_grad():
        logits = model(normalize(torch.from_numpy(x), MARIDA_MEAN, MARIDA_STD))
    expected = logits.softmax(1)[:, 1].numpy()
    np.testing.assert_allclose(prob, expected, rtol=1e-5, atol=1e-6)
    assert np.isfinite(prob).all() and (prob >= 0).all() and (prob <= 1).all()
    # Tensors are accepted too.
    np.testing.assert_allclose(bundle.predict_proba(torch.from_numpy(x)), prob, rtol=1e-6)


def test_predict_proba_pads_and_crops_any_size(tmp_path, model):
    bundle = load_bundle(_save(tmp_path / "b", model))
    x = _reflectance(n=1, h=37, w=50)
    prob = bundle.predict_proba(x)
    assert prob.shape == (1, 37, 50)
    # Same as padding by hand (reflection, centred) and cropping the model output.
    xt = normalize(torch.from_numpy(x), MARIDA_MEAN, MARIDA_STD)
    padded = torch.nn.functional.pad(xt, (7, 7, 5, 6), mode="reflect")
    with torch.no_grad():
        full = model(padded).softmax(1)[:, 1]
    np.testing.assert_allclose(prob, full[:, 5 : 5 + 37, 7 : 7 + 50].numpy(), rtol=1e-5, atol=1e-6)
    tiny = bundle.predict_proba(_reflectance(n=1, h=5, w=3))
    assert tiny.shape == (1, 5, 3)


def test_predict_proba_bf16_autocast_close_to_float32(tmp_path, model):
    bundle = load_bundle(_save(tmp_path / "b", model))
    x = _reflectance()
    np.testing.assert_allclose(
        bundle.predict_proba(x, autocast_bf16=True), bundle.predict_proba(x), atol=0.1
    )


def test_predict_proba_rejects_wrong_band_count(tmp_path, model):
    bundle = load_bundle(_save(tmp_path / "b", model))
    with pytest.raises(ValueError, match=r"\(N, 11, H, W\)"):
        bundle.predict_proba(np.zeros((1, 10, 16, 16), dtype=np.float32))
