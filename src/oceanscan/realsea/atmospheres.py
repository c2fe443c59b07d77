"""Real water seen through other atmospheres: do the false alarms stay away when the air changes?

The real scenes without known debris were each taken on one day, through one atmosphere. A scan
of a whole sea meets others: hazier days, haze banks that end mid-scene, other illumination and
calibration, noisier detectors. A detector that judged absolute levels would flag speckle in hazy
water (what oceanscan's first synthetic-only model did on real hazy patches, 4 % of the pixels).
:data:`ATMOSPHERES` changes a real scene's reflectance in one physical way each, the same way on
every run (a fixed seed), and :func:`measure_atmospheres` counts the flags on its water exactly
as :func:`oceanscan.realsea.measure.measure_false_alarms` does on the scene as it is.

The changes stay within what L2A water shows:

* **haze**: the aerosol path reflectance Sen2Cor leaves behind, ``h * (lambda / 490 nm) **
  -alpha`` (:func:`oceanscan.data.radiometry.haze_spectrum`). Durban's sea carries about 0.06
  more reflectance than MARIDA's marine water at 490 nm (docs/model.md); 0.05 with alpha 1 is a
  hazy day, alpha 0.5 the flatter spectrum of coarse sea-salt aerosol;
* **a haze front**: the same haze over half the scene, rising over about 40 px (400 m) across a
  diagonal, so the detector sees the edge of a haze bank, where local contrast changes fastest;
* **thin cirrus**: ice crystals scatter alike at every wavelength (Angstrom exponent 0), in
  streaks and patches of a few hundred metres that no cloud mask catches: up to 0.03 of
  spectrally flat reflectance, its cover a smooth random field of about 10 px (100 m) grain;
* **gain**: every band times 0.8 or 1.25, a darker or brighter sun and calibration, beyond the
  0.85-1.2 the training augmentation draws;
* **noise**: sensor noise of std 0.003 per band at each band's native resolution
  (:func:`oceanscan.data.radiometry.band_noise`), on top of the 0.001-0.003 high-pass std that
  calm clear water already shows in these scenes.

Nodata (NaN) stays nodata, and the water mask is the scene's own: the debris-free water is the
same pixels, only seen differently.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy import ndimage

from oceanscan.data.radiometry import band_noise, haze_spectrum
from oceanscan.model import ModelBundle
from oceanscan.realsea.flags import flags_on_water
from oceanscan.realsea.scenes import RealScene

__all__ = ["ATMOSPHERES", "Atmosphere", "measure_atmospheres"]

#: Seed of the noise and texture draws, so that two runs see the same scene.
_SEED = 0


@dataclasses.dataclass(frozen=True)
class Atmosphere:
    """One change of a scene's reflectance: haze, then gain, then noise.

    Attributes:
        name: how the measurement reports it.
        haze: path reflectance added at 490 nm (0: none).
        alpha: Angstrom exponent of the haze spectrum.
        front_px: when set, the haze covers only the half of the scene below its main
            diagonal, rising from 12 % to 88 % over ``front_px`` pixels (a logistic edge).
        texture_px: when set, the haze's cover is a smooth random field from 0 to 1 whose
            grain is about ``texture_px`` pixels (Gaussian-smoothed noise, the standard
            deviation of the Gaussian). With neither, the haze covers the whole scene alike.
        gain: factor on every band's reflectance.
        noise: std of added per-band sensor noise, reflectance.
    """

    name: str
    haze: float = 0.0
    alpha: float = 1.0
    front_px: float | None = None
    texture_px: float | None = None
    gain: float = 1.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        for field, value in (("haze", self.haze), ("noise", self.noise)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Atmosphere {self.name!r}: {field} {value!r} must be >= 0")
        if not (math.isfinite(self.gain) and self.gain > 0):
            raise ValueError(f"Atmosphere {self.name!r}: gain {self.gain!r} must be > 0")
        for field, px in (("front_px", self.front_px), ("texture_px", self.texture_px)):
            if px is not None and not (math.isfinite(px) and px > 0):
                raise ValueError(f"Atmosphere {self.name!r}: {field} {px!r} must be > 0")
        if self.front_px is not None and self.texture_px is not None:
            raise ValueError(f"Atmosphere {self.name!r}: a haze front or a texture, not both")

    def apply(self, reflectance: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``reflectance`` ``(11, H, W)`` seen through this atmosphere; NaN stays NaN."""
        _, h, w = reflectance.shape
        out = torch.from_numpy(np.array(reflectance, dtype=np.float32))
        if self.haze > 0:
            spectrum = haze_spectrum(self.haze, self.alpha).view(-1, 1, 1)
            out = out + spectrum * torch.from_numpy(self._haze_cover(h, w))
        out = out * self.gain
        if self.noise > 0:
            generator = torch.Generator().manual_seed(_SEED)
            out = out + band_noise(h, w, self.noise, generator)
        return out.clamp_min(0.0).numpy()

    def _haze_cover(self, h: int, w: int) -> npt.NDArray[np.float32]:
        """Share of the haze over each pixel ``(H, W)``: 1 everywhere, a front or a texture."""
        if self.texture_px is not None:
            noise = np.random.default_rng(_SEED).standard_normal((h, w))
            field = ndimage.gaussian_filter(noise, self.texture_px, mode="reflect")
            return ((field - field.min()) / np.ptp(field)).astype(np.float32)
        if self.front_px is None:
            return np.ones((h, w), dtype=np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        across = (yy / h - xx / w) * min(h, w) / math.sqrt(2)  # px from the diagonal
        # A logistic of scale front_px / 4 rises from 12 % to 88 % over front_px pixels.
        return (1.0 / (1.0 + np.exp(-across * 4.0 / self.front_px))).astype(np.float32)


#: The atmospheres every real-sea measurement looks through (module docstring).
ATMOSPHERES: tuple[Atmosphere, ...] = (
    Atmosphere("haze", haze=0.05, alpha=1.0),
    Atmosphere("sea_salt_haze", haze=0.05, alpha=0.5),
    Atmosphere("haze_front", haze=0.05, alpha=1.0, front_px=40.0),
    Atmosphere("thin_cirrus", haze=0.03, alpha=0.0, texture_px=10.0),
    Atmosphere("dim", gain=0.8),
    Atmosphere("bright", gain=1.25),
    Atmosphere("noisy", noise=0.003),
)


def measure_atmospheres(
    bundle: ModelBundle,
    scenes: Mapping[str, RealScene],
    fdi_threshold: float,
    atmospheres: Sequence[Atmosphere] = ATMOSPHERES,
) -> dict[str, Any]:
    """Flags on the water of scenes without known debris, each seen through each atmosphere.

    Args:
        bundle: the model bundle, flagged at its threshold.
        scenes: scenes without known debris, by name.
        fdi_threshold: the FDI baseline's threshold.
        atmospheres: the changes to look through (default :data:`ATMOSPHERES`).

    Returns:
        ``atmospheres`` (each one's parameters), then per scene and atmosphere the model's and
        FDI's :func:`~oceanscan.realsea.flags.flag_stats`, and ``worst``: per scene, for model
        and FDI, the largest flagged fraction and detections per km2 over the atmospheres.
    """
    result: dict[str, Any] = {"atmospheres": [dataclasses.asdict(a) for a in atmospheres]}
    worst: dict[str, Any] = {}
    for name, scene in scenes.items():
        per_scene = {
            a.name: flags_on_water(
                bundle, a.apply(scene.reflectance), scene.water, scene.pixel_area_m2, fdi_threshold
            )
            for a in atmospheres
        }
        result[name] = per_scene
        worst[name] = {
            who: {
                key: max(per_scene[a.name][who][key] for a in atmospheres)
                for key in ("flagged_fraction", "detections_per_km2")
            }
            for who in ("model", "fdi")
        }
    result["worst"] = worst
    return result
