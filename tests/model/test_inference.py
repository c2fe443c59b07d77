"""The inference network: BatchNorm folded into its convolutions, tiles one at a time on a CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from oceanscan.model import AttentionUNet, load_bundle, save_bundle
from oceanscan.model.inference import fold_batchnorm, forward_tiles

ARCH = {"in_channels": 11, "num_classes": 2, "base_width": 4, "dropout": 0.2, "attention_heads": 4}


@pytest.fixture
def model() -> AttentionUNet:
    torch.manual_seed(0)
    net = AttentionUNet(**ARCH)
    net.train()  # BatchNorm statistics far from identity, so folding has work to do
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(4, 11, 32, 32) * 3 + 1)
    return net.eval()


def _batchnorms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_folding_removes_every_batchnorm_and_keeps_the_function(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batchnorm(model)
    assert _batchnorms(model) == 31 and _batchnorms(folded) == 0
    assert not folded.training
    x = torch.randn(3, 11, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-4)
    for key, value in model.state_dict().items():  # the trained network is left as it was
        assert torch.equal(value, before[key]), key


def test_folding_keeps_a_batchnorm_that_follows_no_convolution():
    net = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1), nn.ReLU(), nn.BatchNorm2d(3))
    folded = fold_batchnorm(net)
    assert _batchnorms(folded) == 2


def test_forward_tiles_matches_one_batched_forward(model):
    folded = fold_batchnorm(model)
    x = torch.randn(4, 11, 32, 32)
    with torch.no_grad():
        tiled, batched = forward_tiles(folded, x), folded(x)
    assert tiled.shape == batched.shape == (4, 2, 32, 32)
    torch.testing.assert_close(tiled, batched, rtol=1e-5, atol=1e-5)


def test_bundle_predicts_with_the_folded_network_and_keeps_its_weights(tmp_path, model):
    directory = save_bundle(tmp_path / "b", model, arch=ARCH, class_mapping="binary", threshold=0.5)
    bundle = load_bundle(directory)
    x = np.random.default_rng(1).uniform(0, 0.15, size=(2, 11, 32, 32)).astype(np.float32)
    prob = bundle.predict_proba(x)
    with torch.no_grad():
        reference = bundle.model(
            torch.from_numpy((x - bundle.mean[:, None, None]) / bundle.std[:, None, None])
        ).softmax(1)[:, 1]
    np.testing.assert_allclose(prob, reference.numpy(), rtol=1e-4, atol=1e-5)
    assert _batchnorms(bundle.model) == 31  # the bundle's model is still the trained network
