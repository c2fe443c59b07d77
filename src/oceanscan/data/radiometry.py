"""Radiometric augmentation: the same sea under other atmospheres, sun glint and sensor noise.

A model trained on one set of water and atmosphere learns their absolute reflectance along with
the debris, and fails on real scenes whose haze, glint and noise differ (measured on Durban
2019-04-24 and the Manila-area scenes, docs/model.md). :class:`RandomAtmosphere` changes a
training patch's reflectance the way those scenes differ, leaving its labels alone:

* **gain**: a common factor and a small per-band one (calibration, illumination, BRDF);
* **haze**: an additive path-reflectance offset that falls with wavelength as
  ``h * (lambda / 490 nm) ** -alpha`` (Angstrom's law for aerosol optical depth; alpha 0.3-2
  spans coarse sea salt to fine smoke), varying smoothly over the patch. Durban's sea has about
  0.06 more reflectance than MARIDA's marine water at 490 nm and 0.03 more at 1610 nm;
* **sun glint with wave texture**: a spectrally flat offset (the Fresnel reflectance of water
  varies little across the MSI bands) with bright, sparse wave crests of 3-10 pixels. Measured
  on the Manila open-sea scene: the high-pass std of clear water is 0.005-0.006 in the 10 m
  bands and 0.0035 in the 20 m ones, crests stand 0.035 (top 2 %) to 0.08 (top 0.2 %) above the
  local level in every band alike, and the bands' textures correlate only at r 0.65-0.94 with
  B08, because the MSI detectors see a moving sea a fraction of a second apart (band-to-band
  parallax): each band gets the crest field shifted by up to half a pixel;
* **cloud puffs**: small, thin fair-weather cumulus over the water with their shadows, the
  cloud type that is too small or too thin for a cloud mask and that real scans flag at their
  edges (measured: the bright puffs south of the Durban filaments, the cumulus field of the
  Manila open-sea scene). Their spectrum is MARIDA's cloud class (Kikaki et al. 2022),
  brightened to 0.1-0.5, their opacity 0.1-0.8;
* **cloud parallax**: the MSI's bands look along-track at slightly different angles, so what
  stands above the sea (clouds, up to a few km) lands up to a few pixels apart from band to band,
  and a cloud edge over water gets coloured fringes, some of them bright in the NIR alone.
  Sea-level objects (debris, ships) stay registered. The cloud-like part of the patch (bright in
  the SWIR, above its local background) is shifted per band in proportion to the band's place
  in the focal plane;
* **sensor noise**: independent per band, drawn at each band's native resolution. The high-pass
  std of calm clear water is 0.001-0.003 in every band (Durban, Mariveles), above the L2A
  noise figures the synthetic generator uses for the SWIR bands.

Debris contrast survives all of these: haze and glint are smooth or spectrally flat, debris is a
local rise of the NIR above the red edge and SWIR. All draws come from torch's global generator,
which the training loop seeds per worker and checkpoints.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from oceanscan.data.inputs import local_background
from oceanscan.sentinel2 import BAND_INFO

__all__ = ["RandomAtmosphere", "at_native_resolution", "band_noise", "haze_spectrum"]

Sample = dict[str, Any]

_WAVELENGTH_NM = torch.tensor([b.wavelength_nm for b in BAND_INFO], dtype=torch.float32)

#: Along-track order of the MSI detectors in the focal plane (ESA Sentinel-2 User Handbook,
#: "MSI instrument": B02, B08, B03, B10, B04, B05, B11, B06, B07, B8A, B12, B01, B09), as each of
#: the 11 bands' position, centred: the parallax of an object above the sea grows with it.
_FOCAL_ORDER = ("B02", "B08", "B03", "B10", "B04", "B05", "B11", "B06", "B07", "B8A", "B12", "B01")
_FOCAL_POSITION = (
    torch.tensor([_FOCAL_ORDER.index(b.name) for b in BAND_INFO], dtype=torch.float32)
    - (len(_FOCAL_ORDER) - 1) / 2
)
_B11 = [b.name for b in BAND_INFO].index("B11")
_CLOUD_CLASS = 6  # MARIDA class id of Clouds
_NATIVE_FACTOR = [b.resolution_m // 10 for b in BAND_INFO]


def _uniform(lo: float, hi: float, size: tuple[int, ...] = ()) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(size)


def _smooth_field(h: int, w: int, cells: int = 3) -> torch.Tensor:
    """A field in [-1, 1] that varies over the patch: a random ``cells`` grid, bilinear."""
    grid = torch.rand(1, 1, cells, cells) * 2 - 1
    return F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=True)[0, 0]


def _wave_crests(h: int, w: int, bands: int) -> torch.Tensor:
    """Glint crests ``(bands, h, w)``: sparse, bright, of unit mean; shifted per band.

    Three sinusoids of 3-10 px around one direction, exponentiated so that crests are narrow and
    bright and troughs near zero (glint is the mirror image of the sun in the facets that happen
    to tilt just right). Each band sees the sea up to half a pixel further along, as the MSI's
    detectors look a fraction of a second apart.
    """
    yy = torch.arange(h, dtype=torch.float32)[:, None]
    xx = torch.arange(w, dtype=torch.float32)[None, :]
    theta = float(_uniform(0, math.pi))
    waves = []
    for _ in range(3):
        k = 2 * math.pi / float(_uniform(3.0, 10.0))
        t = theta + 0.3 * float(torch.randn(()))
        waves.append((k, math.cos(t), math.sin(t), float(_uniform(0, 2 * math.pi))))
    sharpness = float(_uniform(1.0, 3.0))
    envelope = 1.0 + 0.5 * _smooth_field(h, w, cells=4)
    shifts = torch.rand(bands, 2) - 0.5  # pixels
    out = torch.empty(bands, h, w)
    for b in range(bands):
        dy, dx = float(shifts[b, 0]), float(shifts[b, 1])
        field = torch.zeros(h, w)
        for k, cx, cy, phase in waves:
            field += torch.sin(k * (cx * (xx + dx) + cy * (yy + dy)) + phase)
        crest = torch.exp(sharpness * field / 3.0 * envelope)
        out[b] = crest / crest.mean()
    return out


def _coarse(field: torch.Tensor, factor: int) -> torch.Tensor:
    """``field`` as a band of ``factor`` x 10 m pixels sees it: block means, then bilinear."""
    if factor == 1:
        return field
    h, w = field.shape
    small = F.avg_pool2d(field[None, None], factor, ceil_mode=True)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[0, 0]


def at_native_resolution(image: torch.Tensor) -> torch.Tensor:
    """``(11, H, W)`` on the 10 m grid as each band's detector sees it, resampled back to 10 m.

    What is drawn at 10 m (a one-pixel line, a small blob) keeps its contrast in the 10 m bands
    but is spread and diluted in the 20 m (2 x 2) and 60 m (6 x 6) ones, as in an L2A product.
    """
    return torch.stack(
        [_coarse(band, factor) for band, factor in zip(image, _NATIVE_FACTOR, strict=True)]
    )


def haze_spectrum(level: float, alpha: float) -> torch.Tensor:
    """Aerosol path reflectance per band, ``level * (lambda / 490 nm) ** -alpha``, shape ``(11,)``.

    Angstrom's law for aerosol optical depth: ``alpha`` 0.3-2 spans coarse sea salt to fine
    smoke, and a thin haze adds its path reflectance to every pixel alike.
    """
    return level * (_WAVELENGTH_NM / 490.0) ** -alpha


def band_noise(
    h: int, w: int, scale: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sensor noise ``(11, h, w)`` of std ``scale``, drawn at each band's native resolution.

    A 20 m or 60 m band's noise is one draw per 2 x 2 or 6 x 6 block of the 10 m grid, as an L2A
    product resampled to 10 m carries it. ``generator`` defaults to torch's global one.
    """
    out = torch.empty(len(_NATIVE_FACTOR), h, w)
    for b, factor in enumerate(_NATIVE_FACTOR):
        hb, wb = -(-h // factor), -(-w // factor)
        n = torch.randn(hb, wb, generator=generator) * scale
        out[b] = n.repeat_interleave(factor, 0).repeat_interleave(factor, 1)[:h, :w]
    return out


def _shift(field: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """``field`` ``(H, W)`` moved by a fractional offset (bilinear, edges replicated)."""
    h, w = field.shape
    theta = torch.tensor([[[1.0, 0.0, -2 * dx / w], [0.0, 1.0, -2 * dy / h]]])
    grid = F.affine_grid(theta, [1, 1, h, w], align_corners=False)
    return F.grid_sample(
        field[None, None], grid, mode="bilinear", padding_mode="border", align_corners=False
    )[0, 0]


def _cloud_puffs(x: torch.Tensor, count: int) -> torch.Tensor:
    """Blend ``count`` small semi-transparent clouds and their shadows into ``x`` (see module)."""
    from oceanscan.synth.spectra import class_spectrum

    c, h, w = x.shape
    yy = torch.arange(h, dtype=torch.float32)[:, None]
    xx = torch.arange(w, dtype=torch.float32)[None, :]
    white = torch.as_tensor(class_spectrum(_CLOUD_CLASS), dtype=torch.float32)
    white = white / white.mean()
    out = x.clone()
    sun = float(_uniform(0, 2 * math.pi))
    for _ in range(count):
        cy, cx = float(_uniform(0, h)), float(_uniform(0, w))
        sigma = float(_uniform(1.5, 8.0))
        stretch = float(_uniform(0.6, 1.6))
        blob = torch.exp(-((yy - cy) ** 2 / stretch + (xx - cx) ** 2 * stretch) / (2 * sigma**2))
        blob = blob * (1.0 + 0.3 * _smooth_field(h, w, cells=6))
        opacity = (float(_uniform(0.1, 0.8)) * blob).clamp(0.0, 1.0)
        brightness = float(_uniform(0.1, 0.5))
        reach = float(_uniform(4.0, 15.0))
        shadow = _shift(opacity, reach * math.sin(sun), reach * math.cos(sun))
        out = out * (1.0 - 0.5 * shadow)
        out = out * (1.0 - opacity) + (brightness * white).view(c, 1, 1) * opacity
    return out


def _cloud_parallax(x: torch.Tensor, max_px: float) -> torch.Tensor:
    """Shift the cloud-like excess of every band by its focal-plane offset (see module doc)."""
    filled = torch.nan_to_num(x, nan=0.0)
    background = local_background(filled[None], block_px=8, smooth_blocks=3)[0]
    cloudiness = ((filled[_B11] - 0.03) / 0.05).clamp(0.0, 1.0)
    excess = cloudiness * (filled - background).clamp_min(0.0)
    step = float(_uniform(-max_px, max_px)) / float(_FOCAL_POSITION.abs().max())
    angle = float(_uniform(0, 2 * math.pi))
    out = x.clone()
    for b in range(x.shape[0]):
        d = step * float(_FOCAL_POSITION[b])
        out[b] += _shift(excess[b], d * math.sin(angle), d * math.cos(angle)) - excess[b]
    return out


class RandomAtmosphere:
    """Random gain, haze, sun glint and noise on a sample's reflectance ``image`` ``(11, H, W)``.

    Args:
        p_haze: probability of a haze offset (default 0.8).
        max_haze: largest haze offset at 490 nm, reflectance (default 0.08).
        p_glint: probability of sun glint with wave texture (default 0.5).
        max_glint: largest mean glint offset, reflectance (default 0.05); crests reach
            several times the mean.
        p_puffs: probability of adding 1-4 small thin clouds (default 0.3).
        p_parallax: probability of cloud parallax (default 0.5).
        max_parallax: largest cloud offset between the outermost bands, pixels (default 3).
        noise: per-band noise std, reflectance, multiplied by a factor 0.5-2 per patch
            (default 0.0012).
        gain: range of the common gain factor (default 0.85-1.2).

    Raises:
        ValueError: for a probability outside [0, 1] or a negative amplitude.
    """

    def __init__(
        self,
        *,
        p_haze: float = 0.8,
        max_haze: float = 0.08,
        p_glint: float = 0.5,
        max_glint: float = 0.05,
        p_puffs: float = 0.3,
        p_parallax: float = 0.5,
        max_parallax: float = 3.0,
        noise: float = 0.0012,
        gain: tuple[float, float] = (0.85, 1.2),
    ) -> None:
        for name, p in (
            ("p_haze", p_haze),
            ("p_glint", p_glint),
            ("p_puffs", p_puffs),
            ("p_parallax", p_parallax),
        ):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"Invalid {name} {p!r}; must be within [0, 1]")
        for name, v in (
            ("max_haze", max_haze),
            ("max_glint", max_glint),
            ("max_parallax", max_parallax),
            ("noise", noise),
        ):
            if v < 0:
                raise ValueError(f"Invalid {name} {v!r}; must be >= 0")
        if not 0 < gain[0] <= gain[1]:
            raise ValueError(f"Invalid gain range {gain!r}; must be 0 < low <= high")
        self.p_haze, self.max_haze = p_haze, max_haze
        self.p_glint, self.max_glint = p_glint, max_glint
        self.p_puffs = p_puffs
        self.p_parallax, self.max_parallax = p_parallax, max_parallax
        self.noise, self.gain = noise, gain

    def __call__(self, sample: Sample) -> Sample:
        """The sample with a perturbed ``image``; other keys, the mask included, unchanged."""
        x = sample["image"].to(torch.float32)
        c, h, w = x.shape
        if c != len(BAND_INFO):
            raise ValueError(
                f"RandomAtmosphere needs the {len(BAND_INFO)} MARIDA bands, got {c} channels"
            )
        out = x
        if float(torch.rand(())) < self.p_puffs:
            out = _cloud_puffs(out, int(torch.randint(1, 5, ())))
        if float(torch.rand(())) < self.p_parallax:
            out = _cloud_parallax(out, self.max_parallax)
        gain = _uniform(*self.gain) * (1.0 + 0.03 * torch.randn(c))
        out = out * gain.view(c, 1, 1)
        if float(torch.rand(())) < self.p_haze:
            alpha = float(_uniform(0.3, 2.0))
            level = float(_uniform(0.0, self.max_haze))
            spectral = haze_spectrum(level, alpha)
            spatial = 1.0 + 0.4 * _smooth_field(h, w)
            out = out + spectral.view(c, 1, 1) * spatial
        if float(torch.rand(())) < self.p_glint:
            level = float(_uniform(0.0, self.max_glint))
            flat = 1.0 + 0.05 * torch.randn(c)
            crests = _wave_crests(h, w, c)
            for b in range(c):
                out[b] += flat[b] * level * _coarse(crests[b], _NATIVE_FACTOR[b])
        out = out + band_noise(h, w, self.noise * float(_uniform(0.5, 2.0)))
        result = dict(sample)
        result["image"] = out.clamp_min(0.0)  # NaN (nodata) stays NaN
        return result

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(p_haze={self.p_haze}, max_haze={self.max_haze}, "
            f"p_glint={self.p_glint}, max_glint={self.max_glint}, "
            f"p_puffs={self.p_puffs}, p_parallax={self.p_parallax}, max_parallax={self.max_parallax}, "
            f"noise={self.noise}, gain={self.gain})"
        )
