"""Helpers of the real-sea tests: the real data directory and bundles with known outputs."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import shared_path

from oceanscan.model import AttentionUNet, save_bundle


def real_dir() -> Path:
    """``../shared/real``; skips the test when it is missing, fails under CI=true."""
    return shared_path("real")


def constant_bundle(directory: Path, probability: float, threshold: float) -> Path:
    """A width-4 bundle whose positive-class probability is ``probability`` on every pixel.

    The 1x1 head has zero weights and biases ``(0, logit(p))``, so the softmax is the same for
    every pixel whatever the input: flags are all-or-nothing, which makes every figure of the
    measurement computable by hand.
    """
    torch.manual_seed(0)
    model = AttentionUNet(in_channels=11, num_classes=2, base_width=4)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([0.0, float(torch.logit(torch.tensor(probability)))]))
    return save_bundle(directory, model, class_mapping="binary", threshold=threshold)
