"""Real floating-material spectra pasted into training patches: real plastic, real look-alikes.

The synthetic generator draws debris and its look-alikes from MARIDA's class spectra, which are
means over many pixels. Real plastic differs from pixel to pixel, and the materials that fool
detectors (driftwood, seaweed, pumice, sea snot, foam) are exactly what a debris detector must
learn to refuse. :class:`PasteRealMaterials` puts real labelled pixel spectra (Duarte and
Azevedo 2023, training split only: :mod:`oceanscan.realsea.duarte`) into the water of a patch,
as small blobs and short lines the size of real litter windrows at 10 m, labelled as debris
(plastic) or as a negative (everything else).

Each paste either replaces the water pixels by the real spectrum (the pixel as the satellite saw
it) or adds the real spectrum's contrast with the water of its own scene to the patch's water
(the same material under the patch's water and atmosphere), half of the time each. The contrast
is taken against the median of the training water pixels, since most look-alike scenes come
without water pixels of their own.

The Duarte pixels are mostly full of their material (plastic: about 0.045 above its water at
842 nm), while real debris filaments at 10 m are faint mixed pixels (the traced Durban filament
pixels stand a median of 0.016 above their local water at 842 nm where the first-stage model flags
them and 0.005 where it does not; :mod:`oceanscan.realsea`). With a
``min_strength`` each paste covers only a fraction of its pixels, drawn from ``min_strength``
to 1: the real spectrum mixed linearly with the patch's water (Sentinel-2 sees the area-weighted
mean of what a 10 m pixel holds), so that real spectra also teach faint debris and faint
look-alikes. With ``native_resolution`` what a paste adds is seen by each band at its native
resolution (:func:`oceanscan.data.radiometry.at_native_resolution`): a one-pixel line keeps its
contrast at 10 m but is diluted in the 20 m and 60 m bands, as a real thin filament is, where a
whole-pixel spectrum would give it the 20 m contrast of a wide patch.

A few pasted pixels are lost among the hundreds of thousands of water pixels of a batch, so a
``weight`` over 1 makes each of them count that many times in the per-pixel loss terms
(``sample["weight"]``, read by :func:`oceanscan.train.steps.train_step`); the look-alikes can be
given a weight of their own, since weighing plastic up teaches what real debris looks like and
weighing look-alikes up what it does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from oceanscan.data.radiometry import at_native_resolution
from oceanscan.realsea.duarte import LOOKALIKES, PLASTIC, WATER, DuartePixels
from oceanscan.sentinel2 import band_index

__all__ = ["PasteRealMaterials"]

Sample = dict[str, Any]

_B02, _B08 = band_index("B02"), band_index("B08")


class PasteRealMaterials:
    """Paste real plastic and look-alike spectra into the water of a binary-task sample.

    Args:
        pixels: labelled spectra; only their ``"train"`` split is used.
        positive: mask value of debris (1 in the binary task).
        negative: mask value of everything else (0 in the binary task).
        max_pastes: up to this many pastes per patch (uniformly 0..max_pastes).
        p_plastic: share of pastes that are plastic; the rest are look-alikes, each equally likely.
        weight: loss weight of each pasted pixel; other pixels weigh 1. With the default 1 for
            both kinds no ``"weight"`` map is added to the sample.
        lookalike_weight: loss weight of each pasted look-alike pixel, or None for ``weight``.
        min_strength: None pastes whole pixels (a replaced pixel holds the real spectrum, an
            added contrast has 0.5-1.1 times its strength); a number in (0, 1] draws the share
            of the pixel the material covers from it to 1, for both ways of pasting.
        native_resolution: see what the pastes add through each band's native resolution.

    Raises:
        ValueError: when the training split lacks plastic, water or any look-alike, for a
            weight that is not a finite positive number, or a ``min_strength`` outside (0, 1].
    """

    def __init__(
        self,
        pixels: DuartePixels,
        *,
        positive: int = 1,
        negative: int = 0,
        max_pastes: int = 6,
        p_plastic: float = 0.4,
        weight: float = 1.0,
        lookalike_weight: float | None = None,
        min_strength: float | None = None,
        native_resolution: bool = False,
    ) -> None:
        lookalike_weight = weight if lookalike_weight is None else lookalike_weight
        if min_strength is not None and not (0.0 < min_strength <= 1.0):
            raise ValueError(f"real-material min_strength must be in (0, 1], got {min_strength!r}")
        for value in (weight, lookalike_weight):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(
                    f"real-material paste weight must be a finite number > 0, got {value!r}"
                )
        train = pixels.select(split="train")
        self.plastic = torch.from_numpy(train.select(label=PLASTIC).reflectance)
        self.lookalikes = [torch.from_numpy(train.select(label=k).reflectance) for k in LOOKALIKES]
        water = train.select(label=WATER).reflectance
        if not len(self.plastic) or not len(water) or not all(len(x) for x in self.lookalikes):
            raise ValueError("the training split must hold plastic, water and every look-alike")
        self.water = torch.from_numpy(np.median(water, axis=0))
        self.positive, self.negative = positive, negative
        self.max_pastes, self.p_plastic = max_pastes, p_plastic
        self.weight, self.lookalike_weight = float(weight), float(lookalike_weight)
        self.min_strength = min_strength
        self.native_resolution = native_resolution

    def _spectrum(self) -> tuple[torch.Tensor, int, float]:
        """A spectrum, its label and its loss weight."""
        if float(torch.rand(())) < self.p_plastic:
            pool, label, weight = self.plastic, self.positive, self.weight
        else:
            pool = self.lookalikes[int(torch.randint(len(self.lookalikes), ()))]
            label, weight = self.negative, self.lookalike_weight
        return pool[int(torch.randint(len(pool), ()))], label, weight

    @staticmethod
    def _shape(h: int, w: int, y: int, x: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel rows and columns of one object: a 1-3 px blob or a 3-10 px line."""
        if float(torch.rand(())) < 0.5:
            size = int(torch.randint(1, 4, ()))
            ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
            ys, xs = ys.reshape(-1) + y, xs.reshape(-1) + x
        else:
            length = int(torch.randint(3, 11, ()))
            angle = float(torch.rand(())) * np.pi
            t = torch.arange(length, dtype=torch.float32)
            ys = (y + t * np.sin(angle)).round().long()
            xs = (x + t * np.cos(angle)).round().long()
        keep = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        return ys[keep], xs[keep]

    def __call__(self, sample: Sample) -> Sample:
        """The sample with real spectra pasted into its water and the mask labelled to match."""
        image, mask = sample["image"].clone(), sample["mask"].clone()
        _, h, w = image.shape
        water = (
            (mask == self.negative)
            & (image[_B08] < 0.03)
            & (image[_B02] < 0.12)
            & ~torch.isnan(image).any(dim=0)
        )
        candidates = torch.nonzero(water)
        n = int(torch.randint(self.max_pastes + 1, ()))
        weighted = (self.weight, self.lookalike_weight) != (1.0, 1.0)
        weight = torch.ones((h, w), dtype=torch.float32) if weighted else None
        if n == 0 or len(candidates) == 0:
            return sample if weight is None else {**sample, "weight": weight}
        delta = torch.zeros_like(image)  # what the pastes add, each pixel's last paste winning
        for _ in range(n):
            y, x = candidates[int(torch.randint(len(candidates), ()))].tolist()
            ys, xs = self._shape(h, w, y, x)
            spectrum, label, pixel_weight = self._spectrum()
            replace = float(torch.rand(())) < 0.5
            if self.min_strength is None:
                strength = 1.0 if replace else 0.5 + 0.6 * float(torch.rand(()))
            else:
                strength = self.min_strength + (1.0 - self.min_strength) * float(torch.rand(()))
            if replace:  # the pixel as the satellite saw it, mixed with the patch's water
                delta[:, ys, xs] = strength * (spectrum[:, None] - image[:, ys, xs])
            else:  # the material's contrast with its own water, under the patch's
                delta[:, ys, xs] = strength * (spectrum - self.water)[:, None]
            mask[ys, xs] = label
            if weight is not None:
                weight[ys, xs] = pixel_weight
        if self.native_resolution:
            delta = at_native_resolution(delta)
        out = dict(sample)
        out["image"], out["mask"] = (image + delta).clamp_min(0.0), mask
        if weight is not None:
            out["weight"] = weight
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(plastic={len(self.plastic)}, "
            f"lookalikes={[len(x) for x in self.lookalikes]}, max_pastes={self.max_pastes}, "
            f"p_plastic={self.p_plastic}, weight={self.weight}, "
            f"lookalike_weight={self.lookalike_weight}, min_strength={self.min_strength}, "
            f"native_resolution={self.native_resolution})"
        )
