"""The attention U-Net that segments floating material in 11-band Sentinel-2 patches.

The network is a 4-level U-Net (Ronneberger et al. 2015, "U-Net: Convolutional Networks for
Biomedical Image Segmentation", MICCAI) with two kinds of attention:

* attention gates on every skip connection (Oktay et al. 2018, "Attention U-Net: Learning Where
  to Look for the Pancreas", MIDL), so that the decoder takes from the encoder only the pixels the
  coarser, more semantic features point at. Debris covers a few pixels of a patch; the gates
  suppress the open water around it;
* multi-head self-attention over all positions at the bottleneck and at the first (coarsest)
  decoder stage (the TransUNet idea, Chen et al. 2021, arXiv:2102.04306), so that a pixel can be
  compared with the whole patch: a streak of debris and a wake or a wave crest differ by context
  more than by spectrum.

Positional encodings are fixed 2-D sinusoids (Vaswani et al. 2017, split over rows and columns as
in DETR, Carion et al. 2020), computed for the size at hand, so the same weights run on 256 px
training patches and on 576 px scan tiles. Every parameter takes part in every forward pass, which
DistributedDataParallel requires without ``find_unused_parameters``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

__all__ = ["DOWNSAMPLING", "AttentionUNet", "count_parameters", "flops_per_patch"]

#: Total downsampling factor of the encoder: inputs must have H and W divisible by it.
DOWNSAMPLING = 16


class _DoubleConv(nn.Sequential):
    """Two 3x3 convolutions, each followed by BatchNorm and ReLU, with optional spatial dropout.

    The convolutions carry no bias because BatchNorm's shift makes it redundant.
    """

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        super().__init__(*layers)


def _sinusoidal_2d(channels: int, height: int, width: int, device: torch.device) -> Tensor:
    """Fixed 2-D positional encoding of shape ``(height * width, channels)``.

    Half the channels encode the row, half the column, each with sines and cosines of
    geometrically spaced frequencies (base 10000, as in Vaswani et al. 2017).
    """
    quarter = channels // 4
    freq = torch.exp(
        -math.log(10000.0) * torch.arange(quarter, device=device, dtype=torch.float32) / quarter
    )
    ys = torch.arange(height, device=device, dtype=torch.float32)[:, None] * freq  # (H, C/4)
    xs = torch.arange(width, device=device, dtype=torch.float32)[:, None] * freq  # (W, C/4)
    y_enc = torch.cat([ys.sin(), ys.cos()], dim=1)[:, None, :].expand(height, width, 2 * quarter)
    x_enc = torch.cat([xs.sin(), xs.cos()], dim=1)[None, :, :].expand(height, width, 2 * quarter)
    return torch.cat([y_enc, x_enc], dim=2).reshape(height * width, channels)


class _SelfAttention2d(nn.Module):
    """A pre-norm transformer block applied to every position of a feature map.

    Multi-head self-attention then a two-layer MLP, each with a residual connection, so the block
    starts close to the identity and leaves the convolutional features intact early in training.
    """

    def __init__(self, channels: int, heads: int, dropout: float = 0.0, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(
            nn.Linear(channels, mlp_ratio * channels),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_ratio * channels, channels),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Attend over all ``H * W`` positions of ``x`` (N, C, H, W); same shape out."""
        n, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (N, HW, C)
        tokens = tokens + _sinusoidal_2d(c, h, w, x.device).to(tokens.dtype)
        q, k, v = (
            self.qkv(self.norm1(tokens))
            .reshape(n, h * w, 3, self.heads, c // self.heads)
            .permute(2, 0, 3, 1, 4)
            .unbind(0)
        )
        attended = F.scaled_dot_product_attention(q, k, v)  # (N, heads, HW, C/heads)
        tokens = tokens + self.proj(attended.transpose(1, 2).reshape(n, h * w, c))
        tokens = tokens + self.mlp(self.norm2(tokens))
        return tokens.transpose(1, 2).reshape(n, c, h, w)


class _AttentionGate(nn.Module):
    """Additive attention gate of Oktay et al. 2018 (their Fig. 2) on a skip connection.

    The gating signal is the upsampled decoder feature at the skip's resolution (the common
    simplification of the original, which resamples a coarser gate). The output is the skip
    feature scaled per pixel by a sigmoid coefficient in [0, 1].
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inter = max(channels // 2, 1)
        self.w_gate = nn.Sequential(
            nn.Conv2d(channels, inter, 1, bias=False), nn.BatchNorm2d(inter)
        )
        self.w_skip = nn.Sequential(
            nn.Conv2d(channels, inter, 1, bias=False), nn.BatchNorm2d(inter)
        )
        self.psi = nn.Sequential(
            nn.Conv2d(inter, 1, 1, bias=False), nn.BatchNorm2d(1), nn.Sigmoid()
        )

    def forward(self, skip: Tensor, gate: Tensor) -> Tensor:
        """Scale ``skip`` by coefficients computed from ``skip`` and ``gate`` (same shapes)."""
        alpha = self.psi(F.relu(self.w_gate(gate) + self.w_skip(skip)))
        return skip * alpha


class _UpStage(nn.Module):
    """One decoder stage: 2x transposed-conv upsampling, gated skip, concatenation, double conv."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.gate = _AttentionGate(out_channels)
        self.conv = _DoubleConv(2 * out_channels, out_channels, dropout)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        """Upsample ``x`` to ``skip``'s resolution and fuse the two."""
        up = self.up(x)
        return self.conv(torch.cat([self.gate(skip, up), up], dim=1))


class AttentionUNet(nn.Module):
    """Attention U-Net for semantic segmentation of Sentinel-2 patches.

    Encoder widths are ``base_width * (1, 2, 4, 8)`` and the bottleneck ``base_width * 16``
    (64 to 1024 channels by default). Dropout is applied in the two deepest encoder blocks, the
    bottleneck, the two coarsest decoder stages and the transformer MLPs, where the features are
    widest and overfitting to MARIDA's ~700 training patches is likeliest. An extra 3x3
    conv block refines the full-resolution features before the 1x1 classifier.

    Args:
        in_channels: input bands, defaults to 11 (MARIDA's band set,
            :data:`oceanscan.sentinel2.BANDS`).
        num_classes: output classes, defaults to 2 (the binary debris task).
        base_width: channels of the first encoder level, defaults to 64.
        dropout: dropout probability of the deeper blocks, defaults to 0.2.
        attention_heads: heads of both self-attention blocks, defaults to 4; must divide
            ``8 * base_width``.

    Raises:
        ValueError: for non-positive sizes, a dropout outside [0, 1), or a head count that does
            not divide the attention widths.
    """

    def __init__(
        self,
        in_channels: int = 11,
        num_classes: int = 2,
        base_width: int = 64,
        dropout: float = 0.2,
        attention_heads: int = 4,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("base_width", base_width),
            ("attention_heads", attention_heads),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"AttentionUNet {name} must be a positive int, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"AttentionUNet dropout must be in [0, 1), got {dropout!r}")
        if (8 * base_width) % attention_heads:
            raise ValueError(
                f"attention_heads={attention_heads} must divide the attention widths "
                f"8 * base_width = {8 * base_width} and 16 * base_width = {16 * base_width}"
            )
        #: The constructor arguments; ``AttentionUNet(**model.hparams)`` rebuilds the architecture.
        self.hparams: dict[str, Any] = {
            "in_channels": in_channels,
            "num_classes": num_classes,
            "base_width": base_width,
            "dropout": dropout,
            "attention_heads": attention_heads,
        }
        widths = [base_width * m for m in (1, 2, 4, 8, 16)]
        self.enc1 = _DoubleConv(in_channels, widths[0])
        self.enc2 = _DoubleConv(widths[0], widths[1])
        self.enc3 = _DoubleConv(widths[1], widths[2], dropout)
        self.enc4 = _DoubleConv(widths[2], widths[3], dropout)
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = _DoubleConv(widths[3], widths[4], dropout)
        self.bottleneck_attention = _SelfAttention2d(widths[4], attention_heads, dropout)
        self.up4 = _UpStage(widths[4], widths[3], dropout)
        self.decoder_attention = _SelfAttention2d(widths[3], attention_heads, dropout)
        self.up3 = _UpStage(widths[3], widths[2], dropout)
        self.up2 = _UpStage(widths[2], widths[1])
        self.up1 = _UpStage(widths[1], widths[0])
        self.refine = nn.Sequential(
            nn.Conv2d(widths[0], widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``(N, num_classes, H, W)`` for reflectance ``x`` ``(N, in_channels, H, W)``.

        Raises:
            ValueError: if ``x`` is not 4-D with ``in_channels`` channels and H, W divisible by 16.
        """
        if x.ndim != 4 or x.shape[1] != self.hparams["in_channels"]:
            raise ValueError(
                f"AttentionUNet expects input (N, {self.hparams['in_channels']}, H, W), "
                f"got shape {tuple(x.shape)}"
            )
        if x.shape[-2] % DOWNSAMPLING or x.shape[-1] % DOWNSAMPLING:
            raise ValueError(
                f"AttentionUNet input H and W must be multiples of {DOWNSAMPLING}, "
                f"got {tuple(x.shape[-2:])}; pad the input (e.g. by reflection)"
            )
        s1 = self.enc1(x)
        s2 = self.enc2(self.pool(s1))
        s3 = self.enc3(self.pool(s2))
        s4 = self.enc4(self.pool(s3))
        y = self.bottleneck_attention(self.bottleneck(self.pool(s4)))
        y = self.decoder_attention(self.up4(y, s4))
        y = self.up3(y, s3)
        y = self.up2(y, s2)
        y = self.up1(y, s1)
        return self.head(self.refine(y))


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of parameters of ``model`` (trainable ones only unless told otherwise)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _cpu_sdpa_flop(
    query_shape: torch.Size,
    key_shape: torch.Size,
    value_shape: torch.Size,
    *args: Any,
    **kwargs: Any,
) -> int:
    """FLOPs of ``aten._scaled_dot_product_flash_attention_for_cpu`` (QK^T and AV matmuls)."""
    return int(sdpa_flop_count(query_shape, key_shape, value_shape))


def flops_per_patch(model: nn.Module, size: int = 256, *, in_channels: int | None = None) -> int:
    """Floating-point operations of one forward pass on one ``size x size`` patch.

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode` (2 per multiply-accumulate of
    convolutions, linear layers and attention matmuls; normalisations and activations are not
    counted). The model is run once in eval mode without gradients on the device of its
    parameters.

    Args:
        model: the network, usually an :class:`AttentionUNet`.
        size: patch height and width in pixels, defaults to 256 (MARIDA's patch size).
        in_channels: input bands; defaults to ``model.hparams["in_channels"]``.

    Returns:
        The total FLOP count.

    Raises:
        ValueError: if ``in_channels`` is not given and cannot be read from the model.
    """
    if in_channels is None:
        hparams = getattr(model, "hparams", None)
        if not isinstance(hparams, dict) or "in_channels" not in hparams:
            raise ValueError(
                f"in_channels not given and {type(model).__name__} has no hparams['in_channels']"
            )
        in_channels = int(hparams["in_channels"])
    param = next(model.parameters())
    x = torch.zeros(1, in_channels, size, size, device=param.device, dtype=param.dtype)
    # The CPU kernel of scaled_dot_product_attention has no formula registered in torch's
    # flop counter; it does the same matmuls as the GPU kernels that have one.
    custom = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flop}
    counter = FlopCounterMode(display=False, custom_mapping=custom)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
