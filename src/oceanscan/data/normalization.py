"""MARIDA's published per-band normalization, shared by training and by the scan predictor.

Training and scanning must turn reflectance into model input the same way, NaN included, or a
model sees data at scan time it never saw in training. Both call :func:`normalize`.

Source: ``bands_mean`` and ``bands_std`` of MARIDA's reference U-Net,
``semantic_segmentation/unet/dataloader.py`` in marine-debris/marine-debris.github.io (Kikaki et al.
2022, PLoS ONE 17(1): e0262247), in :data:`oceanscan.sentinel2.BANDS` order.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt
import torch

__all__ = ["MARIDA_MEAN", "MARIDA_STD", "band_values", "normalize"]

#: Per-band mean reflectance of MARIDA's training patches (B01..B12, BANDS order).
MARIDA_MEAN: npt.NDArray[np.float32] = np.array(
    [
        0.05197577, 0.04783991, 0.04056812, 0.03163572, 0.02972606, 0.03457443,
        0.03875053, 0.03436435, 0.0392113, 0.02358126, 0.01588816,
    ],
    dtype=np.float32,
)  # fmt: skip
#: Per-band standard deviation of MARIDA's training patches (B01..B12, BANDS order).
MARIDA_STD: npt.NDArray[np.float32] = np.array(
    [
        0.04725893, 0.04743808, 0.04699043, 0.04967381, 0.04946782, 0.06458357,
        0.07594915, 0.07120246, 0.08251058, 0.05111466, 0.03524419,
    ],
    dtype=np.float32,
)  # fmt: skip

A = TypeVar("A", npt.NDArray[np.floating], torch.Tensor)


def band_values(values: npt.ArrayLike, name: str, n_bands: int) -> npt.NDArray[np.float32]:
    """``values`` as one finite float32 per band (positive when ``name`` is ``"std"``).

    Raises:
        ValueError: naming ``name``, for a wrong count, a non-finite value or a std <= 0.
    """
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    if arr.size != n_bands:
        raise ValueError(f"{name} must hold one value per band ({n_bands}), got {arr.size} values")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    if name == "std" and not np.all(arr > 0):
        raise ValueError(f"std must be positive in every band, got {arr.tolist()}")
    return arr


def normalize(
    reflectance: A,
    mean: npt.ArrayLike = MARIDA_MEAN,
    std: npt.ArrayLike = MARIDA_STD,
) -> A:
    """Standardize reflectance per band, NaN (nodata) first replaced by the band mean.

    Filling with the band mean before standardizing makes nodata exactly 0 in the model input,
    the value MARIDA's reference dataloader gives it, and keeps NaN out of every convolution.

    Args:
        reflectance: numpy array or torch tensor of shape ``(..., C, H, W)`` with bands on the
            third-last axis (``(C, H, W)`` for one patch, ``(N, C, H, W)`` for a batch).
        mean: per-band mean, defaults to :data:`MARIDA_MEAN`.
        std: per-band standard deviation, defaults to :data:`MARIDA_STD`.

    Returns:
        float32 array or tensor (same kind and device as the input) of the same shape.

    Raises:
        TypeError: if ``reflectance`` is neither a numpy array nor a torch tensor.
        ValueError: if it has fewer than 3 dimensions, or ``mean``/``std`` do not hold one
            finite value per band (``std`` positive).
    """
    if not isinstance(reflectance, np.ndarray | torch.Tensor):
        raise TypeError(
            f"reflectance must be a numpy array or a torch tensor, got {type(reflectance).__name__}"
        )
    if reflectance.ndim < 3:
        raise ValueError(
            f"reflectance must have shape (..., C, H, W), got {tuple(reflectance.shape)}"
        )
    n_bands = int(reflectance.shape[-3])
    m = band_values(mean, "mean", n_bands)
    s = band_values(std, "std", n_bands)
    if isinstance(reflectance, torch.Tensor):
        x = reflectance.to(torch.float32)
        mt = torch.as_tensor(m, device=x.device).view(-1, 1, 1)
        st = torch.as_tensor(s, device=x.device).view(-1, 1, 1)
        x = torch.where(torch.isnan(x), mt, x)
        return (x - mt) / st
    x = np.asarray(reflectance, dtype=np.float32)
    mn = m.reshape(-1, 1, 1)
    x = np.where(np.isnan(x), mn, x)
    return ((x - mn) / s.reshape(-1, 1, 1)).astype(np.float32, copy=False)
