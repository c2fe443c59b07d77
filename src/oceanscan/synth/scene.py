"""Synthetic Sentinel-2 L2A scenes of the sea, with MARIDA labels, built from published spectra.

A scene is composed the way light reaches the sensor: a water body whose colour varies smoothly
(Marine and Mixed Water), turbid and sediment-laden plumes, shallow water along the coast, wave
texture; floating material linearly mixed into the water pixel by its sub-pixel abundance
(Sargassum windrows, foam lines, natural organic material, ships with wakes, marine debris),
its pure-material endmember unmixed from the published spectrum so that the labelled pixels
reproduce MARIDA's class medians (which are themselves means over mixed pixels); land;
cloud shadows and clouds on top; then the sensor: 20 m and 60 m bands integrated over their larger
footprint and resampled to the 10 m grid, and band-dependent noise.

Marine debris is drawn the way MARIDA annotators saw it: thin filaments and small patches whose
abundance within a pixel is well below 100 %, so its signal is faint and overlaps the water's own
variability, while foam, Sargassum, ships and sediment-laden water, all brighter in the Floating
Debris Index (FDI), are present as hard negatives. Debris is therefore recognisable from its shape
and spectral shape, not from an FDI threshold (see :func:`fdi_threshold_f1`).

All randomness flows from one ``numpy.random.Generator`` seeded by ``seed``: the same arguments
always give the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from oceanscan.sentinel2 import BAND_INFO, SCL, FdiVariant, fdi
from oceanscan.synth import _render as r
from oceanscan.synth import floating
from oceanscan.synth._canvas import (
    CLOUD,
    DEBRIS,
    DENSE_SARG,
    F32,
    FOAM,
    GRID_M,
    MIXED,
    N_BANDS,
    OBJECT_SPREAD,
    SCL_M,
    SEDIMENT,
    SHADOW,
    SHALLOW,
    SHIP,
    TURBID,
    UNLABELLED,
    WATER,
    WAVES,
    Canvas,
    random_points,
    scaled,
)
from oceanscan.synth.spectra import (
    LAND_SPECTRA,
    MIN_REFLECTANCE,
    SENSOR_NOISE,
    class_spectrum,
    perturbed_spectra,
)

__all__ = ["SyntheticScene", "fdi_threshold_f1", "synthesize_scene"]


@dataclass(frozen=True)
class SyntheticScene:
    """A synthetic Sentinel-2 L2A scene on the 10 m grid with its MARIDA-style labels.

    Attributes:
        reflectance: float32 ``(11, H, W)`` surface reflectance in
            :data:`oceanscan.sentinel2.BANDS` order.
        labels: uint8 ``(H, W)`` MARIDA class ids 1..15; 0 where nothing is labelled: land,
            and the undecidable rim and faintest pixels of debris.
        scl: uint8 ``(H, W)`` Sen2Cor scene classification codes (:class:`oceanscan.sentinel2.SCL`),
            at 20 m and resampled by nearest neighbour as in an L2A product.
        land: bool ``(H, W)``, True on land.
        debris_abundance: float32 ``(H, W)`` sub-pixel fraction of marine debris (0 elsewhere).
    """

    reflectance: np.ndarray
    labels: np.ndarray
    scl: np.ndarray
    land: np.ndarray
    debris_abundance: np.ndarray | None = None


# --- water body -------------------------------------------------------------------------------


def _water(c: Canvas, land_fraction: float) -> None:
    """Marine Water with smooth colour variation, Mixed Water patches, coast, shallows, plumes."""
    rng = c.rng
    shape = (c.h, c.w)
    ds = max(1, min(c.h, c.w) // 128)
    colour = r.fractal_field(rng, shape, beta=3.2, downsample=ds)
    scene_z = np.float32(rng.normal(0.0, OBJECT_SPREAD))
    z = scene_z + np.float32(0.6) * colour
    c.refl[:] = perturbed_spectra(WATER, c.pixel_z(z))

    mixed_level = r.fractal_field(rng, shape, beta=3.0, downsample=ds)
    threshold = rng.uniform(1.2, 2.5)
    mixed = np.clip((mixed_level - threshold + 0.5), 0.0, 1.0)
    c.blend(MIXED, mixed, z, where=mixed > 0)
    c.labels[mixed >= 0.5] = MIXED

    if land_fraction > 0:
        _coast(c, land_fraction)
    _plumes(c)
    _waves(c)


def _coast(c: Canvas, land_fraction: float) -> None:
    """A coastline from a tilted ramp plus a fractal field; shallow water along the shore."""
    rng = c.rng
    yy, xx = np.mgrid[0 : c.h, 0 : c.w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / max(c.h, c.w)
    ramp = (ramp - ramp.mean()) / max(float(ramp.std()), 1e-6)
    ds = max(1, min(c.h, c.w) // 256)
    field = ramp + 0.6 * r.fractal_field(rng, (c.h, c.w), beta=2.6, downsample=ds)
    cut = np.quantile(field, 1.0 - min(land_fraction, 1.0))
    c.land = field >= cut
    c.sea_dist = r.distance_to(c.land)
    width = rng.uniform(3, 15)
    shallow = np.clip(1.0 - c.sea_dist / width, 0.0, 1.0) * ~c.land
    c.blend(SHALLOW, shallow, np.zeros_like(shallow), where=shallow > 0)
    c.labels[shallow >= 0.5] = SHALLOW


def _plumes(c: Canvas) -> None:
    """Turbid plumes with sediment-laden cores: Gaussian blobs roughened by a fractal field."""
    rng = c.rng
    n = scaled(c.area / 256**2 * 0.6, rng) + (1 if rng.random() < 0.5 else 0)
    if n == 0:
        return
    coast = (c.sea_dist > 0) & (c.sea_dist < 4)
    cy, cx = random_points(c, n, near=coast if coast.any() else None)
    radius = rng.uniform(10, 60, n).astype(np.float32)
    yy = np.arange(c.h, dtype=np.float32)[:, None]
    xx = np.arange(c.w, dtype=np.float32)[None, :]
    p = np.zeros((c.h, c.w), dtype=np.float32)
    for i in range(n):
        dist2 = ((yy - cy[i]) ** 2 + (xx - cx[i]) ** 2) / radius[i] ** 2
        p = np.maximum(p, np.exp(-dist2).astype(np.float32))
    rough = r.fractal_field(rng, (c.h, c.w), beta=2.4, downsample=1)
    p = np.clip(p * (1.0 + 0.35 * rough), 0.0, 1.2) * ~c.land
    turbid = np.clip((p - 0.15) / 0.3, 0.0, 1.0)
    sediment = np.clip((p - 0.55) / 0.25, 0.0, 1.0)
    z = np.full((c.h, c.w), rng.normal(0, OBJECT_SPREAD), dtype=np.float32)
    c.blend(TURBID, turbid, z, where=turbid > 0)
    c.blend(SEDIMENT, sediment, z, where=sediment > 0)
    c.labels[(turbid >= 0.5) & ~c.land] = TURBID
    c.labels[(sediment >= 0.5) & ~c.land] = SEDIMENT


def _waves(c: Canvas) -> None:
    """Wind-sea texture: a few sinusoids, sharpened crests, strong where a smooth envelope is high."""
    rng = c.rng
    if rng.random() < 0.4:
        return
    yy, xx = np.mgrid[0 : c.h, 0 : c.w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    phase = np.zeros((c.h, c.w), dtype=np.float32)
    for _ in range(3):
        wavelength = rng.uniform(4.0, 12.0)
        t = theta + rng.normal(0, 0.25)
        k = 2 * np.pi / wavelength
        phase += np.sin(k * (np.cos(t) * xx + np.sin(t) * yy) + rng.uniform(0, 2 * np.pi))
    crest = np.clip(phase / 3.0, 0.0, 1.0) ** 2
    ds = max(1, min(c.h, c.w) // 128)
    envelope = np.clip(r.fractal_field(rng, (c.h, c.w), beta=3.0, downsample=ds) - 0.3, 0, 1.5)
    alpha = np.clip(crest * envelope, 0.0, 1.0) * ~c.land
    c.blend(WAVES, alpha, np.zeros_like(alpha), where=alpha > 0.02)
    strong = (alpha >= 0.5) & np.isin(c.labels, (WATER, MIXED))
    c.labels[strong] = WAVES


# --- atmosphere and sensor --------------------------------------------------------------------


def _cloud_field(c: Canvas, cloud_fraction: float) -> tuple[F32, F32]:
    """Cloud opacity (soft-edged, thresholded fractal field) and the shadow it casts."""
    if cloud_fraction <= 0:
        zero = np.zeros((c.h, c.w), dtype=np.float32)
        return zero, zero
    rng = c.rng
    ds = max(1, min(c.h, c.w) // 256)
    field = r.fractal_field(rng, (c.h, c.w), beta=3.4, downsample=ds)
    cut = float(np.quantile(field, 1.0 - min(cloud_fraction, 1.0)))
    soft = 0.25
    opacity = np.clip((field - cut) / (2 * soft) + 0.5, 0.0, 1.0)
    opacity = opacity * opacity * (3 - 2 * opacity)  # smoothstep: soft edges
    # Shadows fall away from the sun: a few hundred metres for low clouds.
    dist = rng.uniform(8, 30) * min(1.0, min(c.h, c.w) / 256)
    azimuth = rng.uniform(0, 2 * np.pi)
    dy, dx = round(dist * np.sin(azimuth)), round(dist * np.cos(azimuth))
    shadow = r.shift(opacity, dy, dx) * (1 - opacity)
    return opacity.astype(np.float32), shadow.astype(np.float32)


def _shade_and_cloud(c: Canvas, opacity: F32, shadow: F32, field_z: F32) -> None:
    """Darken shadowed pixels by MARIDA's shadow/water ratio, then blend clouds on top."""
    ratio = np.minimum(class_spectrum(SHADOW) / class_spectrum(WATER), 1.0)
    idx = np.flatnonzero(shadow > 0)
    flat = c.refl.reshape(N_BANDS, -1)
    flat[:, idx] *= 1.0 - shadow.ravel()[idx] * (1.0 - ratio[:, None])
    c.labels[(shadow >= 0.5) & ~c.land] = SHADOW
    # cloud texture is in the thickness field; pixel-to-pixel variation is small
    c.blend(CLOUD, opacity, field_z, where=opacity > 0, pixel_spread=0.05)
    c.labels[(opacity >= 0.5) & ~c.land] = CLOUD


def _land_surface(c: Canvas) -> None:
    """Land pixels: vegetation and bare soil mixed by a smooth field; never labelled."""
    if not c.land.any():
        return
    rng = c.rng
    ds = max(1, min(c.h, c.w) // 128)
    veg = np.clip(0.5 + 0.5 * r.fractal_field(rng, (c.h, c.w), beta=2.5, downsample=ds), 0, 1)
    idx = np.flatnonzero(c.land)
    v = veg.ravel()[idx]
    bright = 1.0 + 0.1 * rng.standard_normal(idx.size).astype(np.float32)
    spec = (
        LAND_SPECTRA["vegetation"][:, None] * v + LAND_SPECTRA["soil"][:, None] * (1 - v)
    ) * bright
    c.refl.reshape(N_BANDS, -1)[:, idx] = spec
    c.labels[c.land] = UNLABELLED
    c.vegetation = veg


def _scl(c: Canvas, opacity: F32, shadow: F32) -> npt.NDArray[np.uint8]:
    """Sen2Cor-like classification, decided at 20 m and resampled to 10 m by nearest neighbour."""
    scl = np.full((c.h, c.w), int(SCL.WATER), dtype=np.uint8)
    bright_float = np.isin(c.labels, (SHIP, FOAM, DENSE_SARG))
    scl[bright_float] = int(SCL.UNCLASSIFIED)
    if c.land.any():
        veg = c.vegetation
        scl[c.land & (veg >= 0.5)] = int(SCL.VEGETATION)
        scl[c.land & (veg < 0.5)] = int(SCL.NOT_VEGETATED)
    scl[shadow >= 0.5] = int(SCL.CLOUD_SHADOWS)
    scl[(opacity >= 0.15) & (opacity < 0.35)] = int(SCL.THIN_CIRRUS)
    scl[(opacity >= 0.35) & (opacity < 0.7)] = int(SCL.CLOUD_MEDIUM_PROBABILITY)
    scl[opacity >= 0.7] = int(SCL.CLOUD_HIGH_PROBABILITY)
    factor = SCL_M // GRID_M
    coarse = scl[::factor, ::factor]
    return np.repeat(np.repeat(coarse, factor, axis=0), factor, axis=1)[: c.h, : c.w]


def _sensor(c: Canvas) -> F32:
    out = np.empty_like(c.refl)
    for b, info in enumerate(BAND_INFO):
        factor = info.resolution_m // GRID_M
        out[b] = r.resample_band(c.refl[b], factor, float(SENSOR_NOISE[b]), c.rng)
    return np.maximum(out, np.float32(MIN_REFLECTANCE))


def _check_arguments(
    height: int, width: int, fractions: dict[str, float], hard_negative_density: float
) -> None:
    """Raise ValueError for a size or fraction :func:`synthesize_scene` refuses, naming it."""
    if height < 16 or width < 16:
        raise ValueError(f"Invalid scene size {height}x{width}; both sides must be >= 16 pixels")
    for name, value in fractions.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"Invalid {name} {value!r}; must be within [0, 1]")
    if hard_negative_density < 0:
        raise ValueError(f"Invalid hard_negative_density {hard_negative_density!r}; must be >= 0")


def _add_floating(c: Canvas, wind: float, density: float, debris_fraction: float) -> None:
    """Floating material: the hard negatives first, then debris, which gathers along their lines."""
    gather = floating.add_windrows(c, wind, density)
    gather |= floating.add_foam(c, wind, density)
    floating.add_organic(c, density)
    floating.add_ships(c, density)
    floating.add_debris(c, debris_fraction, wind, gather)


def synthesize_scene(
    height: int,
    width: int,
    *,
    seed: int,
    land_fraction: float = 0.0,
    cloud_fraction: float = 0.1,
    debris_fraction: float = 0.005,
    hard_negative_density: float = 1.0,
) -> SyntheticScene:
    """Generate one synthetic Sentinel-2 L2A scene with MARIDA labels.

    Args:
        height: rows of the 10 m grid (>= 16).
        width: columns of the 10 m grid (>= 16).
        seed: seed of the scene's random generator; equal arguments give equal scenes.
        land_fraction: fraction of the scene that is land, on one side of a coastline
            (default 0: open sea).
        cloud_fraction: fraction of the scene labelled cloud (opacity >= 0.5); soft edges,
            thin cirrus and shadows come in addition (default 0.1).
        debris_fraction: fraction of the clear-water pixels labelled Marine Debris
            (default 0.005; MARIDA has 0.45 % debris pixels).
        hard_negative_density: multiplies the expected number of Sargassum windrows, foam lines,
            organic material and ships (default 1: a few of each per 256 x 256 pixels).

    Returns:
        The scene; reflectance in :data:`oceanscan.sentinel2.BANDS` order.

    Raises:
        ValueError: for a size below 16 pixels or a fraction outside [0, 1].
    """
    fractions = {
        "land_fraction": land_fraction,
        "cloud_fraction": cloud_fraction,
        "debris_fraction": debris_fraction,
    }
    _check_arguments(height, width, fractions, hard_negative_density)
    rng = np.random.default_rng(seed)
    c = Canvas(height, width, rng)
    _water(c, land_fraction)
    opacity, shadow = _cloud_field(c, cloud_fraction)
    c.cloud = opacity  # floating objects avoid clouds, not their shadows
    wind = float(rng.uniform(0, np.pi))
    _add_floating(c, wind, hard_negative_density, debris_fraction)
    _land_surface(c)
    thickness = np.clip(opacity * 2.0 - 1.0, -1.0, 1.0).astype(np.float32)
    _shade_and_cloud(c, opacity, shadow, thickness)
    scl = _scl(c, opacity, shadow)
    reflectance = _sensor(c)
    debris = np.where(c.labels == DEBRIS, c.debris, 0.0).astype(np.float32)
    return SyntheticScene(
        reflectance=reflectance,
        labels=c.labels,
        scl=scl,
        land=c.land,
        debris_abundance=debris,
    )


def fdi_threshold_f1(
    reflectance: npt.NDArray[np.floating],
    labels: npt.NDArray[np.integer],
    *,
    positive: int = DEBRIS,
    variant: FdiVariant = "biermann",
) -> tuple[float, float]:
    """Best F1 of "FDI above a threshold" at telling one class from every other labelled class.

    This is the baseline a learned model must beat: Biermann et al. 2020 (Sci. Rep. 10:5364)
    flag floating debris by its FDI. Every threshold is tried (one per distinct FDI value), so
    the F1 is an upper bound of what a threshold tuned on other data reaches.

    Args:
        reflectance: ``(11, ...)`` reflectance in :data:`oceanscan.sentinel2.BANDS` order.
        labels: MARIDA class ids of the same spatial shape; 0 (unlabelled) is left out.
        positive: the class to detect, Marine Debris (1) by default.
        variant: FDI wavelengths, see :func:`oceanscan.sentinel2.fdi`.

    Returns:
        ``(f1, threshold)``: the best F1 and the FDI threshold (exclusive) that gives it.

    Raises:
        ValueError: when the shapes disagree or no pixel of ``positive`` is labelled.
    """
    reflectance = np.asarray(reflectance)
    labels = np.asarray(labels)
    if reflectance.shape[1:] != labels.shape:
        raise ValueError(
            f"reflectance shape {reflectance.shape} does not match labels shape {labels.shape}"
        )
    index = fdi(reflectance, variant=variant)
    valid = (labels > 0) & np.isfinite(index)
    values = index[valid].astype(np.float64)
    truth = labels[valid] == positive
    n_pos = int(truth.sum())
    if n_pos == 0:
        raise ValueError(f"no pixel labelled {positive} among the labelled pixels")
    order = np.argsort(-values, kind="stable")
    values, truth = values[order], truth[order]
    tp = np.cumsum(truth)
    predicted = np.arange(1, values.size + 1)
    # only cut between distinct values
    last = np.r_[values[1:] != values[:-1], True]
    tp, predicted = tp[last], predicted[last]
    f1 = 2 * tp / (predicted + n_pos)
    best = int(np.argmax(f1))
    cut_values = values[last]
    threshold = (
        float((cut_values[best] + cut_values[best + 1]) / 2)
        if best + 1 < cut_values.size
        else float(cut_values[best]) - 1e-9
    )
    return float(f1[best]), threshold
