"""False detections: flagged components on clean water, and their rate per km2 of it.

Pixel scores say little about what a detector costs an analyst on a real sea, which is clean
almost everywhere; counting the detections that contain no debris, per area of debris-free
water, does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["FalseDetections", "count_false_detections"]

#: 8-connectivity: flagged pixels that touch by an edge or a corner form one detection, as in
#: the scan's ``detections.parquet`` (:mod:`oceanscan.scan.detections`).
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)

# Area of one pixel of Sentinel-2's 10 m grid (the default), and square metres per km2.
_PIXEL_AREA_10M_M2 = 100.0
_M2_PER_KM2 = 1e6


def count_false_detections(
    flagged: npt.NDArray[np.bool_],
    positive: npt.NDArray[np.bool_],
    negative: npt.NDArray[np.bool_],
) -> int:
    """Detections that contain no labelled debris: flagged components found on clean water.

    The flagged pixels form 8-connected components (``scipy.ndimage.label``), each one
    detection as an analyst would see it. A component is a false detection when none of its
    pixels is labelled positive (debris) and at least one is labelled negative. A component
    lying wholly on unlabelled pixels is not judged, as unlabelled pixels are neither positive
    nor negative in the pixel metrics: MARIDA leaves most pixels unlabelled, and the synthetic
    truth leaves the faint rim and the faintest pixels of debris unlabelled.

    Args:
        flagged: bool ``(H, W)``, the pixels a detector flags (model probability or FDI at or
            above its threshold); one image: components do not continue across calls.
        positive: bool ``(H, W)``, pixels labelled debris (the positive class).
        negative: bool ``(H, W)``, pixels labelled anything else; disjoint from ``positive``.

    Returns:
        The number of false detections.

    Raises:
        ValueError: if the three arrays are not all of one 2-D shape.
    """
    flagged, positive, negative = (np.asarray(a, dtype=bool) for a in (flagged, positive, negative))
    if flagged.ndim != 2 or not flagged.shape == positive.shape == negative.shape:
        raise ValueError(
            f"flagged {flagged.shape}, positive {positive.shape} and negative "
            f"{negative.shape} must be one 2-D shape"
        )
    components, n = ndimage.label(flagged, structure=_EIGHT_CONNECTED)
    if n == 0:
        return 0
    touches_positive = np.zeros(n + 1, dtype=bool)
    touches_positive[components[positive]] = True
    touches_negative = np.zeros(n + 1, dtype=bool)
    touches_negative[components[negative]] = True
    false = touches_negative & ~touches_positive
    false[0] = False  # label 0 is the background, not a component
    return int(false.sum())


@dataclass
class FalseDetections:
    """False detections per km2 of debris-free water, summed over patches or scenes.

    :meth:`update` adds one image's false detections (:func:`count_false_detections`) and its
    negative area: the pixels labelled as anything but debris, times the pixel area. The rate
    divides the two; it does not depend on how many debris objects there are to find, which
    precision does, so it tells what a detector costs an analyst on real seas, which are clean
    almost everywhere. Counts and areas add, so results merge by summing.

    Attributes:
        count: false detections counted.
        debris_free_m2: labelled, non-debris area searched, in square metres.
    """

    count: int = 0
    debris_free_m2: float = 0.0

    def update(
        self,
        flagged: npt.NDArray[np.bool_],
        positive: npt.NDArray[np.bool_],
        negative: npt.NDArray[np.bool_],
        *,
        pixel_area_m2: float = _PIXEL_AREA_10M_M2,
    ) -> None:
        """Count one image (a patch, a scene); arguments as :func:`count_false_detections`.

        Args:
            flagged: bool ``(H, W)``, the flagged pixels.
            positive: bool ``(H, W)``, pixels labelled debris.
            negative: bool ``(H, W)``, pixels labelled anything else.
            pixel_area_m2: area of one pixel in square metres, defaults to 100 (the 10 m grid:
                1e4 pixels per km2).

        Raises:
            ValueError: for mismatched shapes or a pixel area that is not > 0.
        """
        if not pixel_area_m2 > 0:
            raise ValueError(f"pixel_area_m2 must be > 0, got {pixel_area_m2!r}")
        self.count += count_false_detections(flagged, positive, negative)
        self.debris_free_m2 += int(np.count_nonzero(negative)) * float(pixel_area_m2)

    def __add__(self, other: FalseDetections) -> FalseDetections:
        if not isinstance(other, FalseDetections):
            return NotImplemented
        return FalseDetections(self.count + other.count, self.debris_free_m2 + other.debris_free_m2)

    @property
    def debris_free_km2(self) -> float:
        """The labelled, non-debris area searched, in km2."""
        return self.debris_free_m2 / _M2_PER_KM2

    @property
    def per_km2(self) -> float:
        """False detections per km2 of debris-free water; 0.0 when no area is counted.

        Every false detection touches a labelled non-debris pixel, so without area there is no
        false detection either, and 0 / 0 is reported as 0.0 (scikit-learn's zero_division=0).
        """
        return self.count / self.debris_free_km2 if self.debris_free_m2 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """``false_detections``, ``debris_free_km2`` and ``false_detections_per_km2``."""
        return {
            "false_detections": self.count,
            "debris_free_km2": self.debris_free_km2,
            "false_detections_per_km2": self.per_km2,
        }
