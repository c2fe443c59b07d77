"""A per-pixel check of candidate detections: is the spectrum plastic's or a look-alike's?

The network judges a pixel by its neighbourhood and learns spectra from synthetic debris and a
few real pastes; on held-out real pixels it flags a third of the pumice and a quarter of the sea
foam. Their spectra alone tell them from plastic: a logistic regression on the Duarte and
Azevedo (2023) training pixels separates the held-out ones at ROC AUC 0.98 (pumice) and 0.91
(foam) (``benchmarks/duarte_spectra.py``). :class:`SpectralCheck` is that classifier, plastic
against every look-alike, stored as plain numbers in the bundle's ``model.json``; the bundle
multiplies each candidate pixel's probability (over :attr:`SpectralCheck.candidate`) by
``min(1, 2 p)``, ``p`` the classifier's probability of plastic for the pixel's contrast with
its local water. A spectrum at least as like plastic as like a look-alike keeps its
probability; only what looks more like a look-alike is damped.

The Duarte pixels are mostly whole pixels of their material, alike in every band. What a scan
meets is often thinner than a 20 m pixel: a 10 m wide filament keeps its contrast in the 10 m
bands but is diluted in the 20 m (to 0.3-0.5 of it) and 60 m ones (to 0.1-0.2), which moves its
spectral shape away from the whole-pixel one the check learned. The check is therefore fitted on
each training pixel as it is and as :data:`DILUTED_COPIES` copies with its 20 m and 60 m
contrast scaled down by factors drawn from :data:`DILUTION_20M` and :data:`DILUTION_60M` (one
per pixel, copy and resolution, fixed seed).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from oceanscan.data.inputs import local_water
from oceanscan.sentinel2 import BAND_INFO, BANDS

if TYPE_CHECKING:
    from oceanscan.realsea.duarte import DuartePixels

__all__ = [
    "DILUTED_COPIES",
    "SpectralCheck",
    "diluted_copies",
    "fit_spectral_check",
    "spectral_features",
]

#: Added to the size of the 842 nm contrast before dividing by it, so water-like pixels stay finite.
SHAPE_FLOOR = 0.005
_NIR = BANDS.index("B08")
_RESOLUTION_M = np.array([b.resolution_m for b in BAND_INFO])

#: Diluted copies of each training pixel the check is fitted on, beside the pixel as it is.
DILUTED_COPIES = 8
#: Range of the factor on a copy's 20 m band contrast: a 10 m line across a 20 m pixel fills half
#: of it, and the resampling back to 10 m spreads it further (0.3); a wide patch keeps it all (1).
DILUTION_20M = (0.3, 1.0)
#: Range of the factor on a copy's 60 m band (B01) contrast: a 10 m line fills a sixth of it.
DILUTION_60M = (0.1, 1.0)
_FEATURES = 2 * len(BANDS)


def spectral_features(
    reflectance: npt.NDArray[np.floating], water: npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """Contrast with ``water`` per band, and that contrast over the size of the 842 nm one.

    Args:
        reflectance: ``(N, 11)`` pixel spectra in :data:`oceanscan.sentinel2.BANDS` order.
        water: ``(11,)`` or ``(N, 11)``, the water each pixel is seen against.

    Returns:
        ``(N, 22)``: the contrast (its level) and the contrast over ``|contrast at 842 nm| +
        0.005`` (its shape).
    """
    contrast = np.asarray(reflectance, dtype=np.float64) - np.asarray(water, dtype=np.float64)
    nir = np.abs(contrast[:, [_NIR]]) + SHAPE_FLOOR
    return np.concatenate([contrast, contrast / nir], axis=1)


@dataclass(frozen=True)
class SpectralCheck:
    """A standardized logistic regression of plastic against its look-alikes.

    Attributes:
        mean: per-feature mean the features are standardized with (22 numbers).
        scale: per-feature standard deviation (22 positive numbers).
        coef: logistic regression coefficients on the standardized features (22 numbers).
        intercept: its intercept.
        candidate: probabilities over this are checked; the rest are left alone.
        source: what it was fitted on.
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    candidate: float = 0.5
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("mean", "scale", "coef"):
            values = getattr(self, name)
            if len(values) != _FEATURES or not all(math.isfinite(v) for v in values):
                raise ValueError(f"spectral_check.{name} must be {_FEATURES} finite numbers")
        if not all(v > 0 for v in self.scale):
            raise ValueError("spectral_check.scale must be positive")
        if not math.isfinite(self.intercept):
            raise ValueError("spectral_check.intercept must be finite")
        if not 0.0 <= self.candidate < 1.0:
            raise ValueError(f"spectral_check.candidate {self.candidate!r} must be in [0, 1)")

    @classmethod
    def from_meta(cls, entry: dict[str, Any]) -> SpectralCheck:
        """The check of a ``model.json`` ``spectral_check`` entry.

        Raises:
            ValueError: naming the field that is missing or wrong.
        """
        try:
            return cls(
                mean=tuple(float(v) for v in entry["mean"]),
                scale=tuple(float(v) for v in entry["scale"]),
                coef=tuple(float(v) for v in entry["coef"]),
                intercept=float(entry["intercept"]),
                candidate=float(entry.get("candidate", 0.5)),
                source=str(entry.get("source", "")),
            )
        except KeyError as err:
            raise ValueError(f"spectral_check lacks {err.args[0]!r}") from err

    def to_meta(self) -> dict[str, Any]:
        """The ``model.json`` entry (:meth:`from_meta` reads it back)."""
        entry = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in entry.items()}

    def plastic_probability(self, features: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """Probability of plastic (against a look-alike) for ``(N, 22)`` features."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef) + self.intercept)))

    def apply(
        self, probability: npt.NDArray[np.float32], reflectance: npt.NDArray[np.floating]
    ) -> npt.NDArray[np.float32]:
        """``probability`` ``(N, H, W)`` with each candidate pixel times ``min(1, 2 p)``.

        ``reflectance`` is the ``(N, 11, H, W)`` input the probabilities are of; each pixel is
        seen against its local water (:func:`oceanscan.data.inputs.local_water`, with the
        local-contrast input's default blocks whatever the bundle's own).
        """
        out = np.array(probability, dtype=np.float32)
        for image, p in zip(np.asarray(reflectance, dtype=np.float32), out, strict=True):
            candidate = p > self.candidate
            if not candidate.any():
                continue
            water = local_water(torch.from_numpy(image)).numpy()
            features = spectral_features(
                np.nan_to_num(image[:, candidate]).T, water[:, candidate].T
            )
            p[candidate] *= np.minimum(1.0, 2.0 * self.plastic_probability(features)).astype(
                np.float32
            )
        return out


def diluted_copies(
    reflectance: npt.NDArray[np.floating],
    water: npt.NDArray[np.floating],
    copies: int = DILUTED_COPIES,
    *,
    seed: int = 0,
) -> npt.NDArray[np.float64]:
    """``reflectance`` ``(N, 11)`` followed by ``copies`` copies of it diluted as thin features.

    Each copy scales a pixel's contrast with ``water`` in all 20 m bands by one factor drawn
    from :data:`DILUTION_20M` and in the 60 m band by one from :data:`DILUTION_60M`; the 10 m
    bands keep theirs. Returns ``((copies + 1) * N, 11)``.
    """
    rng = np.random.default_rng(seed)
    reflectance = np.asarray(reflectance, dtype=np.float64)
    contrast = reflectance - np.asarray(water, dtype=np.float64)
    out = [reflectance]
    for _ in range(copies):
        factor = np.ones_like(contrast)
        for resolution, (low, high) in ((20, DILUTION_20M), (60, DILUTION_60M)):
            bands = _RESOLUTION_M == resolution
            factor[:, bands] = rng.uniform(low, high, (len(contrast), 1))
        out.append(water + contrast * factor)
    return np.concatenate(out)


def fit_spectral_check(pixels: DuartePixels, *, candidate: float = 0.5) -> SpectralCheck:
    """Fit the check on the training split of ``pixels``: plastic against every look-alike.

    The classes are weighted to balance (scikit-learn's ``class_weight="balanced"``), so that no
    look-alike wins by numbers; each pixel is seen against the median training water, since most
    look-alike scenes come without water pixels of their own, and also as a thin feature, diluted
    in the coarser bands (:func:`diluted_copies`).

    Raises:
        ValueError: when the training split lacks plastic, water or every look-alike.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from oceanscan.realsea.duarte import LOOKALIKES, PLASTIC, WATER

    train = pixels.select(split="train")
    plastic = train.select(label=PLASTIC).reflectance
    water = train.select(label=WATER).reflectance
    lookalikes = [train.select(label=k).reflectance for k in LOOKALIKES]
    if not len(plastic) or not len(water) or not any(len(x) for x in lookalikes):
        raise ValueError("the training split must hold plastic, water and look-alikes")
    median_water = np.median(water, axis=0)
    positives = diluted_copies(plastic, median_water)
    negatives = diluted_copies(np.concatenate(lookalikes), median_water)
    features = spectral_features(np.concatenate([positives, negatives]), median_water)
    labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    scaler = StandardScaler().fit(features)
    regression = LogisticRegression(max_iter=5000, class_weight="balanced")
    regression.fit(scaler.transform(features), labels)
    return SpectralCheck(
        mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) for v in scaler.scale_),
        coef=tuple(float(v) for v in regression.coef_[0]),
        intercept=float(regression.intercept_[0]),
        candidate=candidate,
        source=f"Duarte and Azevedo (2023) training split: {len(plastic)} plastic, "
        f"{len(negatives) // (DILUTED_COPIES + 1)} look-alike pixels, each also as "
        f"{DILUTED_COPIES} copies diluted in the 20 m and 60 m bands",
    )
