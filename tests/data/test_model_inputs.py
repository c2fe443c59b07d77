import numpy as np
import pytest
import torch

from oceanscan.data.inputs import (
    input_channels,
    input_spec,
    local_background,
    model_input,
)
from oceanscan.data.normalization import MARIDA_MEAN, normalize


def _water(h=64, w=64, seed=0):
    rng = np.random.default_rng(seed)
    level = np.linspace(0.01, 0.03, 11, dtype=np.float32)[:, None, None]
    return (level + rng.normal(0, 0.001, (11, h, w))).astype(np.float32)


def test_standardize_is_marida_normalization():
    x = _water()
    np.testing.assert_allclose(model_input(x, input_spec()).numpy(), normalize(x), atol=1e-6)


def test_local_contrast_has_two_channels_per_band_and_handles_nan():
    x = _water()
    x[:, 5, 5] = np.nan
    out = model_input(x, input_spec("local_contrast"))
    assert out.shape == (22, 64, 64)
    assert input_channels("local_contrast", 11) == 22
    assert torch.isfinite(out).all()


def test_a_filament_does_not_raise_its_own_background():
    x = _water()
    x[:, 30, 10:50] += 0.02  # a 1 px filament
    bg = local_background(torch.from_numpy(x)[None], block_px=8, smooth_blocks=5)[0]
    assert float((bg[:, 30, 10:50] - torch.from_numpy(_water())[:, 30, 10:50]).abs().max()) < 0.004
    contrast = model_input(x, input_spec("local_contrast"))[:11]
    assert float(contrast[:, 30, 20:40].mean()) > float(np.arcsinh(1.5))  # about 0.02 / 0.01


def test_local_contrast_ignores_a_uniform_haze_offset():
    x = _water()
    spec = input_spec("local_contrast")
    hazy = model_input(x + 0.05, spec)
    clear = model_input(x, spec)
    torch.testing.assert_close(hazy[:11], clear[:11], atol=1e-4, rtol=0)
    assert not torch.allclose(hazy[11:], clear[11:])  # the background channels see it


def test_batch_and_single_agree_and_odd_sizes_work():
    x = np.stack([_water(37, 53, s) for s in range(3)])
    spec = input_spec("local_contrast")
    batch = model_input(x, spec)
    assert batch.shape == (3, 22, 37, 53)
    torch.testing.assert_close(batch[1], model_input(x[1], spec))


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="input method"):
        input_spec("raw")
    with pytest.raises(ValueError, match="no settings"):
        input_spec("standardize", block_px=4)
    with pytest.raises(ValueError, match="input method"):
        model_input(_water(), {"method": "raw", "mean": MARIDA_MEAN, "std": MARIDA_MEAN})
