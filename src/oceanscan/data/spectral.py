"""Debris of many materials: vary the colour and strength of labelled debris against its water.

The synthetic generator's debris reproduces MARIDA's mean debris spectrum, which is bright in
the visible as well as the NIR (a MARIDA debris pixel is 0.03-0.04 brighter than marine water from
490 to 842 nm, Kikaki et al. 2022). Real litter is not one material. Measured on the hand-traced
debris filaments of Durban 2019-04-24 (L2A, contrast with the local water, median): +0.0000 at
490 nm, +0.0055 at 665 nm, +0.007 at 740 nm, +0.011 at 842 nm, +0.004 at 1610 nm: dark in the
visible, bright in the NIR, and a third as strong as the synthetic debris. What all floating
material shares is NIR above the red-edge and SWIR baseline (the FDI of Biermann et al. 2020);
its visible colour is that of whatever floats, dark plastic and wet wood included.

:class:`RandomDebrisSpectrum` rescales the contrast of the debris pixels of a patch with their
local water (:func:`oceanscan.data.inputs.local_water`): the visible bands by a factor
drawn from about 0 to 1, the rest left in shape, and all of it by an overall strength, so that
a model learns the NIR excess and the shape of a filament rather than one colour.

With ``tilt``, the visible factor is drawn twice, at 443 nm and at 665 nm, and interpolated in
wavelength between them, so that the debris also takes colours whose contrast rises or falls
across the visible. Real plastic does: the median contrast with its water of the Duarte and
Azevedo (2023) training-split plastic pixels, relative to 842 nm, is 0.17 at 443 nm, 0.55 at
490 nm, 0.70 at 560 nm and 0.79 at 665 nm, where MARIDA's mean debris is about flat; weathered,
yellowed plastics and wood-like litter absorb the blue.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from oceanscan.classes import IGNORE_INDEX
from oceanscan.data.inputs import local_water
from oceanscan.sentinel2 import BAND_INFO, BANDS

__all__ = ["RandomDebrisSpectrum"]

Sample = dict[str, Any]

#: Bands whose contrast takes the visible factor: B01..B04 fully, B05 (705 nm, the foot of the
#: red edge) half-way.
_VISIBLE = tuple(BANDS.index(b) for b in ("B01", "B02", "B03", "B04"))
_RED_EDGE_FOOT = BANDS.index("B05")
_NIR = BANDS.index("B08")
#: Where a ``tilt``ed visible factor sits between its blue (0) and its red (1) draw.
_TILT_POSITION = torch.tensor(
    [(BAND_INFO[b].wavelength_nm - 443.0) / (665.0 - 443.0) for b in _VISIBLE]
).clamp(0.0, 1.0)


class RandomDebrisSpectrum:
    """Rescale the visible colour and the strength of a sample's debris against its water.

    Acts on the pixels labelled ``positive`` and on the unlabelled pixels next to them (the
    mixed rim of a filament), so that a filament keeps one spectrum across its width.

    Args:
        positive: mask value of debris (1 in the binary task).
        p: probability of acting on a patch (default 0.7).
        strength: range of the overall contrast factor (default 0.2-1.0: real filaments are
            fainter than MARIDA's mean debris; measured on Durban 2019-04-24 with
            ``benchmarks/real_sea.py``, a floor of 0.35 left 78 % of the traced filament pixels
            below the threshold, 0.2 about half, docs/model.md).
        visible: range of the visible factor (default -0.1 to 1.1: from slightly darker than
            the water to MARIDA's colour).
        tilt: draw the visible factor at 443 nm and at 665 nm independently from ``visible``
            and interpolate between them (default False: one factor for every visible band).
        min_contrast: debris pixels whose 842 nm contrast with their water ends up below this
            (reflectance) are unlabelled (ignored by the loss), on every patch with debris,
            rescaled or not (default None: every debris pixel stays labelled).

    Raises:
        ValueError: for a probability outside [0, 1] or a reversed range.
    """

    def __init__(
        self,
        *,
        positive: int = 1,
        p: float = 0.7,
        strength: tuple[float, float] = (0.2, 1.0),
        visible: tuple[float, float] = (-0.1, 1.1),
        tilt: bool = False,
        min_contrast: float | None = None,
    ) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Invalid p {p!r}; must be within [0, 1]")
        for name, (lo, hi) in (("strength", strength), ("visible", visible)):
            if lo > hi:
                raise ValueError(f"Invalid {name} range {(lo, hi)!r}; low must not exceed high")
        self.positive, self.p = positive, p
        self.strength, self.visible, self.tilt = strength, visible, tilt
        self.min_contrast = min_contrast

    def __call__(self, sample: Sample) -> Sample:
        """The sample with its debris contrast rescaled, and its invisible debris unlabelled."""
        mask = sample["mask"]
        debris = mask == self.positive
        if not bool(debris.any()):
            return sample
        rescale = float(torch.rand(())) < self.p
        if not rescale and self.min_contrast is None:
            return sample
        image = sample["image"].to(torch.float32)
        background = local_water(image)
        out = self._rescaled(image, mask, background) if rescale else image
        result = dict(sample)
        result["image"] = out
        if self.min_contrast is not None:
            faint = debris & (out[_NIR] - background[_NIR] < self.min_contrast)
            result["mask"] = mask.masked_fill(faint, IGNORE_INDEX)
        return result

    def _rescaled(
        self, image: torch.Tensor, mask: torch.Tensor, background: torch.Tensor
    ) -> torch.Tensor:
        """``image`` with the debris (and its unlabelled rim) rescaled against ``background``."""
        debris = mask == self.positive
        near = F.max_pool2d(debris[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0
        region = debris | (near & (mask == IGNORE_INDEX))
        lo, hi = self.strength
        strength = lo + (hi - lo) * float(torch.rand(()))
        lo, hi = self.visible
        red = lo + (hi - lo) * float(torch.rand(()))
        blue = lo + (hi - lo) * float(torch.rand(())) if self.tilt else red
        factor = torch.full((image.shape[0],), strength)
        factor[list(_VISIBLE)] *= blue + (red - blue) * _TILT_POSITION
        factor[_RED_EDGE_FOOT] *= (1.0 + red) / 2.0
        contrast = image[:, region] - background[:, region]
        out = image.clone()
        out[:, region] = (background[:, region] + factor[:, None] * contrast).clamp_min(0.0)
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(positive={self.positive}, p={self.p}, "
            f"strength={self.strength}, visible={self.visible}, tilt={self.tilt}, "
            f"min_contrast={self.min_contrast})"
        )
