"""AttentionUNet: shapes, parameter count, gradient flow, sizes, determinism, FLOPs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from oceanscan.model import AttentionUNet, count_parameters, flops_per_patch
from oceanscan.model.unet import _SelfAttention2d, _sinusoidal_2d


def _tiny(**kwargs) -> AttentionUNet:
    torch.manual_seed(0)
    return AttentionUNet(**{"base_width": 4, **kwargs})


def _expected_parameters(in_channels: int, num_classes: int, b: int, mlp_ratio: int = 4) -> int:
    """Parameter count written from the architecture's description, layer by layer."""

    def double_conv(cin: int, cout: int) -> int:  # 2 x (3x3 conv without bias + BatchNorm)
        return 9 * cin * cout + 2 * cout + 9 * cout * cout + 2 * cout

    def transformer(d: int) -> int:  # LN, qkv, proj, LN, MLP d -> r*d -> d
        return (
            2 * d
            + (3 * d * d + 3 * d)
            + (d * d + d)
            + 2 * d
            + (mlp_ratio * d * d + mlp_ratio * d)
            + (mlp_ratio * d * d + d)
        )

    def up_stage(cin: int, c: int) -> int:
        inter = max(c // 2, 1)
        transposed = 4 * cin * c + c  # 2x2 transposed conv with bias
        gate = 2 * (c * inter + 2 * inter) + (inter + 2)  # W_g, W_x (+BN), psi (+BN)
        return transposed + gate + double_conv(2 * c, c)

    w = [b, 2 * b, 4 * b, 8 * b, 16 * b]
    encoder = (
        double_conv(in_channels, w[0])
        + double_conv(w[0], w[1])
        + double_conv(w[1], w[2])
        + double_conv(w[2], w[3])
        + double_conv(w[3], w[4])
    )
    attention = transformer(w[4]) + transformer(w[3])
    decoder = (
        up_stage(w[4], w[3]) + up_stage(w[3], w[2]) + up_stage(w[2], w[1]) + up_stage(w[1], w[0])
    )
    head = 9 * b * b + 2 * b + b * num_classes + num_classes
    return encoder + attention + decoder + head


@pytest.mark.parametrize(
    ("in_channels", "num_classes", "base_width"), [(11, 2, 4), (11, 11, 8), (3, 2, 6)]
)
def test_parameter_count_matches_architecture(in_channels, num_classes, base_width):
    model = AttentionUNet(in_channels, num_classes, base_width)
    assert count_parameters(model) == _expected_parameters(in_channels, num_classes, base_width)


def test_default_widths_are_64_to_1024():
    model = AttentionUNet()
    assert model.enc1[0].out_channels == 64
    assert model.bottleneck[0].out_channels == 1024
    assert model.head.out_channels == 2
    assert count_parameters(model) == _expected_parameters(11, 2, 64)


@pytest.mark.parametrize(("height", "width"), [(32, 32), (48, 64), (16, 80)])
def test_logits_shape_for_any_size_divisible_by_16(height, width):
    model = _tiny(num_classes=3).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 11, height, width))
    assert out.shape == (2, 3, height, width)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("shape", [(1, 11, 40, 32), (1, 10, 32, 32), (11, 32, 32)])
def test_rejects_bad_input_shapes(shape):
    with pytest.raises(ValueError, match="AttentionUNet"):
        _tiny()(torch.randn(*shape))


@pytest.mark.parametrize(
    "kwargs",
    [{"base_width": 0}, {"dropout": 1.0}, {"attention_heads": 3}, {"num_classes": 1.5}],
)
def test_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        AttentionUNet(**{"base_width": 4, **kwargs})


def test_gradients_reach_every_parameter():
    """DDP without find_unused_parameters needs every parameter in every step's graph."""
    model = _tiny().train()
    logits = model(torch.randn(2, 11, 32, 32))
    logits.logsumexp(dim=1).mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert missing == []
    zero = [name for name, p in model.named_parameters() if not p.grad.abs().sum() > 0]
    assert zero == []


def test_eval_is_deterministic_and_train_uses_dropout():
    model = _tiny(dropout=0.5)
    x = torch.randn(2, 11, 32, 32)
    model.eval()
    with torch.no_grad():
        first, second = model(x), model(x)
    assert torch.equal(first, second)
    model.train()
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x))


def test_outputs_depend_on_the_whole_patch():
    """Self-attention lets a corner pixel's logits change when the opposite corner changes.

    In float64: at initialisation the far-corner effect is about 1e-11, below float32 rounding.
    """
    model = _tiny().eval().double()
    x = torch.randn(1, 11, 64, 64, dtype=torch.float64)
    y = x.clone()
    y[..., -8:, -8:] += 5.0
    with torch.no_grad():
        delta = (model(x) - model(y))[..., :4, :4].abs().max()
    assert delta > 0


def test_channels_last_matches_contiguous():
    model = _tiny().eval()
    x = torch.randn(2, 11, 32, 48)
    with torch.no_grad():
        ref = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        out = model_cl(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_bf16_autocast_runs_and_stays_close():
    model = _tiny().eval()
    x = torch.randn(2, 11, 32, 32)
    with torch.no_grad():
        ref = model(x).softmax(1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
    assert out.dtype == torch.bfloat16
    assert (out.float().softmax(1) - ref).abs().max() < 0.1


def test_sinusoidal_encoding_distinguishes_positions():
    pe = _sinusoidal_2d(16, 4, 6, torch.device("cpu"))
    assert pe.shape == (24, 16)
    assert torch.unique(pe, dim=0).shape[0] == 24
    # Row half depends only on the row, column half only on the column.
    grid = pe.reshape(4, 6, 16)
    assert torch.equal(grid[:, 0, :8], grid[:, 5, :8])
    assert torch.equal(grid[0, :, 8:], grid[3, :, 8:])


def test_flops_count_convolutions_and_attention_matmuls():
    conv = nn.Conv2d(3, 5, 3, padding=1)
    conv.hparams = {"in_channels": 3}
    assert flops_per_patch(conv, size=16) == 2 * (3 * 9) * 5 * 16 * 16

    class _Wrap(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hparams = {"in_channels": 8}
            self.attn = _SelfAttention2d(8, heads=2)

        def forward(self, x):
            return self.attn(x)

    n, d = 4 * 4, 8
    linear = 2 * n * (d * 3 * d + d * d + 2 * (d * 4 * d))
    matmuls = 2 * (2 * n * n * d)  # QK^T and AV over all heads
    assert flops_per_patch(_Wrap(), size=4) == linear + matmuls


def test_flops_scale_with_area_except_attention():
    """Convolutions and linear layers cost per pixel; attention matmuls per pair of positions."""
    model = _tiny()  # base width 4: attention widths 64 (bottleneck) and 32 (decoder)

    def attention_matmuls(size: int) -> int:
        bottleneck_tokens, decoder_tokens = (size // 16) ** 2, (size // 8) ** 2
        return 4 * bottleneck_tokens**2 * 64 + 4 * decoder_tokens**2 * 32

    small, large = flops_per_patch(model, size=32), flops_per_patch(model, size=64)
    assert large - 4 * small == attention_matmuls(64) - 4 * attention_matmuls(32)
    assert model.training  # flops_per_patch restores the mode
