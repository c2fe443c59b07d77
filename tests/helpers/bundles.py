"""Model bundles for tests: a tiny random network with spatially varying output, and one whose
output is a known constant."""

from __future__ import annotations

from pathlib import Path

import torch

from oceanscan.model import AttentionUNet, save_bundle

__all__ = ["constant_bundle", "save_tiny_bundle"]


def save_tiny_bundle(directory: Path, *, threshold: float = 0.2, seed: int = 0) -> Path:
    """A randomly initialised AttentionUNet of base width 4 saved as a bundle.

    Fresh BatchNorm statistics (mean 0, variance 1) let activations collapse in a random
    network, which then predicts one constant everywhere; a few forward passes in train mode
    on standard-normal inputs (what normalized reflectance looks like) set realistic running
    statistics, and a steeper head spreads the probabilities, so tests see spatially varying
    output (roughly 0.0 to 0.4 on the test scenes; hence the default threshold of 0.2).
    """
    torch.manual_seed(seed)
    model = AttentionUNet(in_channels=11, num_classes=2, base_width=4, dropout=0.0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration passes
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 11, 64, 64))
        model.head.weight.mul_(4.0)
    model.eval()
    return save_bundle(directory, model, class_mapping="binary", threshold=threshold)


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
