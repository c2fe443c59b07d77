"""The raster helpers of the quicklook: block reductions and the true-colour stretch."""

from __future__ import annotations

import numpy as np
import pytest

from oceanscan.plots._raster import (
    block_max,
    block_mean,
    block_mode,
    downsample_factor,
    stretch_rgb,
)


def test_downsampling_helpers():
    a = np.arange(25, dtype=np.float32).reshape(5, 5)
    a[0, 0] = np.nan
    assert downsample_factor(5, 5, 2) == 3
    assert downsample_factor(10, 4, 10) == 1
    mean = block_mean(a, 3)
    assert mean.shape == (2, 2)
    assert mean[0, 0] == pytest.approx(np.nanmean(a[:3, :3]))
    assert mean[1, 1] == pytest.approx(a[3:, 3:].mean())  # edge block over existing pixels
    assert block_max(a, 3)[1, 0] == a[3:, :3].max()
    assert np.isnan(block_max(np.full((4, 4), np.nan, dtype=np.float32), 2)).all()
    codes = np.array([[1, 1, 0], [2, 1, 0], [3, 3, 3]], dtype=np.uint8)
    np.testing.assert_array_equal(block_mode(codes, 2, 4), [[1, 0], [3, 3]])


def test_stretch_keeps_hue_ignores_clouds_and_blanks_nan():
    rgb = np.stack([np.full((8, 8), v, dtype=np.float32) for v in (0.02, 0.04, 0.08)])
    rgb += np.linspace(0, 0.01, 64, dtype=np.float32).reshape(8, 8)
    rgb[:, 0, 0] = np.nan
    rgb[:, 7, :] = 0.9  # a cloud row
    water = np.ones((8, 8), dtype=bool)
    water[7] = False
    out = stretch_rgb(rgb, where=water)
    assert out.shape == (8, 8, 3) and out.dtype == np.float32
    assert (out[0, 0] == 0).all()
    assert (out[1:7, :, 2] > out[1:7, :, 0]).all()  # blue water stays bluer than red
    assert out[3, 3, 2] > 0.5  # water fills the range when the cloud is left out
    assert (out[7] == 1.0).all()
    dull = stretch_rgb(rgb)
    assert dull[3, 3, 2] < out[3, 3, 2]
    with pytest.raises(ValueError, match="gamma"):
        stretch_rgb(rgb, gamma=0)
