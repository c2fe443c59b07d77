"""What the metrics share: accepted array types and scikit-learn's zero-division rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

ArrayLike = Tensor | npt.NDArray[Any]


def ratio(num: npt.NDArray[np.float64], den: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Elementwise ``num / den`` with 0.0 where ``den == 0`` (scikit-learn's zero_division=0)."""
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def as_tensor(x: ArrayLike, name: str) -> Tensor:
    """``x`` as a tensor, sharing memory with a numpy array; the error names the argument."""
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
