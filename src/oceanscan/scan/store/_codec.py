"""How probabilities become stored bytes and back, and how the bundle threshold reads on them.

Pure numpy, shared by the write tasks (quantize), the driver's scene summary and detections
(threshold step), and the evaluation (dequantize): one rule, so they agree pixel for pixel.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from oceanscan.sentinel2 import MASK_SCORED

__all__ = ["FILL", "QUANT_STEPS", "dequantize", "quantize", "step_probability", "threshold_step"]

#: Probabilities are stored as ``round(p * QUANT_STEPS)``: 0..254, one step = 1/254 ~ 0.004.
QUANT_STEPS = 254
#: The stored value of pixels that were not scored (land, cloud, nodata, or not yet written).
FILL = 255


def quantize(prob: npt.NDArray[np.floating], mask: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Probabilities to stored bytes: ``round(p * 254)``, 255 where ``mask != 0`` or ``p`` is NaN."""
    p = np.clip(np.nan_to_num(prob, nan=0.0), 0.0, 1.0)
    q = np.rint(p * QUANT_STEPS).astype(np.uint8)
    q[(mask != MASK_SCORED) | np.isnan(prob)] = FILL
    return q


def dequantize(stored: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Stored bytes back to probabilities, NaN where not scored."""
    out = stored.astype(np.float32) / np.float32(QUANT_STEPS)
    out[stored == FILL] = np.nan
    return out


def step_probability(step: int) -> float:
    """The probability a stored value stands for (``step / 254``), as a scene summary records it."""
    return step / QUANT_STEPS


def threshold_step(threshold: float) -> int:
    """The smallest stored value counted as debris at ``threshold``: ``ceil(threshold * 254)``.

    Comparing stored bytes with this integer (``stored >= step`` and ``stored != 255``) is how
    the summary, the detections and the evaluation all apply the bundle's threshold, so they agree
    pixel for pixel.

    Raises:
        ValueError: for a threshold outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return int(np.ceil(threshold * QUANT_STEPS - 1e-9))
