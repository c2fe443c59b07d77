"""The network as it runs for prediction: BatchNorm folded away, one tile at a time on a CPU.

Training needs BatchNorm as a layer; prediction does not. In eval mode a BatchNorm2d that
follows a bias-free convolution is an affine map per channel, so it can be folded into that
convolution's weights and bias (:func:`torch.nn.utils.fusion.fuse_conv_bn_eval`, the folding
``torch.ao.quantization`` and TorchScript's ``optimize_for_inference`` do), which saves one pass
over every feature map. The folded network computes the same function up to float32 rounding:
logits differ by at most ~2e-5 on 576 px scan tiles of the width-8 network.

On a CPU the network also runs one tile at a time: a forward pass over one tile keeps its
feature maps in cache where a batch of four does not. Measured on 2 cores (width 8, 576 px
tiles, channels_last, torch 2.13): a batch of 4 in 0.70 s unfolded, 0.56 s folded, and 0.47 s
folded one tile at a time; on one thread 0.87 s against 1.14 s for the folded batch.
"""

from __future__ import annotations

import copy
from itertools import pairwise

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_batchnorm", "forward_tiles"]


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every BatchNorm2d folded into the Conv2d before it.

    Only a BatchNorm2d that directly follows a Conv2d inside an :class:`torch.nn.Sequential` is
    folded (it is then replaced by :class:`torch.nn.Identity`); any other stays as it is. The
    copy keeps the original's device and memory format; ``model`` itself is not changed.
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for conv_name, norm_name in pairwise(names):
            conv, norm = module._modules[conv_name], module._modules[norm_name]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                module._modules[conv_name] = fuse_conv_bn_eval(conv, norm)
                module._modules[norm_name] = nn.Identity()
    return folded


def forward_tiles(network: nn.Module, x: Tensor) -> Tensor:
    """``network(x)``, tile by tile when ``x`` is on the CPU (faster there, see the module doc)."""
    if x.device.type != "cpu" or len(x) == 1:
        return network(x)  # type: ignore[no-any-return]
    return torch.cat([network(tile[None]) for tile in x])
