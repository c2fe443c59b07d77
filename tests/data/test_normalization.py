import json

import numpy as np
import pytest
import torch

from oceanscan.data.normalization import MARIDA_MEAN, MARIDA_STD, normalize
from tests.helpers.shared import shared_path


def test_constants_equal_the_published_values():
    consts = json.loads(shared_path("reference", "marida_constants.json").read_text())
    np.testing.assert_allclose(MARIDA_MEAN, consts["bands_mean"], rtol=1e-7)
    np.testing.assert_allclose(MARIDA_STD, consts["bands_std"], rtol=1e-7)


def test_standardizes_per_band_and_nan_becomes_zero():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.2, (11, 5, 6)).astype(np.float32)
    x[3, 2, 2] = np.nan
    x[:, 0, 0] = np.nan
    out = normalize(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert out[3, 2, 2] == 0 and (out[:, 0, 0] == 0).all()
    finite = ~np.isnan(x)
    expected = (x - MARIDA_MEAN[:, None, None]) / MARIDA_STD[:, None, None]
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-6)
    # the band mean itself maps to zero
    np.testing.assert_allclose(
        normalize(np.broadcast_to(MARIDA_MEAN[:, None, None], (11, 2, 2))), 0
    )


def test_numpy_and_torch_agree_on_batches():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 0.3, (2, 11, 4, 4)).astype(np.float32)
    x[1, 5, 1, 1] = np.nan
    out_np = normalize(x)
    out_t = normalize(torch.from_numpy(x))
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    np.testing.assert_allclose(out_t.numpy(), out_np, rtol=1e-6, atol=1e-7)
    assert not torch.isnan(out_t).any()


def test_custom_statistics_and_validation():
    x = np.ones((2, 1, 1), dtype=np.float32)
    np.testing.assert_allclose(normalize(x, mean=[0.5, 1.0], std=[0.5, 2.0])[:, 0, 0], [1.0, 0.0])
    with pytest.raises(ValueError, match="one value per band"):
        normalize(np.zeros((3, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="std must be positive"):
        normalize(x, mean=[0, 0], std=[1, 0])
    with pytest.raises(ValueError, match="shape"):
        normalize(np.zeros((11, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        normalize([[0.0]])  # type: ignore[arg-type]
