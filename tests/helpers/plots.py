"""What the plot tests share: reading a written PNG back, and finding a colour in it."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
from matplotlib.colors import to_rgba

TOL = 1.5 / 255  # PNG stores 8 bits per channel


def read_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[0] > 100 and image.shape[1] > 100
    return image[..., :3]


def pixels_of(image: np.ndarray, colour: str, tol: float = TOL) -> np.ndarray:
    """Boolean image of the pixels drawn in ``colour`` (to 8-bit precision by default)."""
    rgb = np.asarray(to_rgba(colour))[:3]
    return np.abs(image - rgb).max(axis=-1) <= tol
