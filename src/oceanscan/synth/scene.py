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
from oceanscan.synth.spectra import LAND_SPECTRA, SENSOR_NOISE, class_spectrum, perturbed_spectra

__all__ = ["SyntheticScene", "fdi_threshold_f1", "material_endmember", "synthesize_scene"]

F32 = npt.NDArray[np.float32]

# MARIDA class ids used below.
DEBRIS, DENSE_SARG, SPARSE_SARG, NOM, SHIP, CLOUD, WATER = 1, 2, 3, 4, 5, 6, 7
SEDIMENT, FOAM, TURBID, SHALLOW, WAVES, SHADOW, WAKE, MIXED = 8, 9, 10, 11, 12, 13, 14, 15

#: Debris abundance (fraction of the pixel covered by floating material) is drawn per object as
#: ``lo + (hi - lo) * Beta(2, 2)``: 10-60 %. Biermann et al. 2020 (Sci. Rep. 10:5364) detected their
#: deployed 10 m targets down to a few tens of percent of pixel coverage; real debris in MARIDA
#: is at most a few metres wide, far below the 10 m pixel.
DEBRIS_ABUNDANCE = (0.10, 0.60)

#: Debris pixels below this abundance are left unlabelled (0), like the mixed rim of filaments:
#: an annotator cannot tell them from water, and training must not call them water either.
DEBRIS_MIN_LABELLED = 0.1

#: Kelvin wake half-angle (degrees): arcsin(1/3), independent of ship speed (Lord Kelvin, 1887).
KELVIN_HALF_ANGLE_DEG = 19.47

# Spread of spectra, as fractions of the published split normal. MARIDA's percentiles pool the
# pixels of 63 scenes, so one scene or object draws half of that spread; within one object or water
# body, pixels differ far less (the water's texture is carried by smooth fields instead).
_OBJECT_SPREAD = 0.5
_PIXEL_SPREAD = 0.15


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


class _Canvas:
    """The scene under construction: reflectance, labels and the masks later layers respect."""

    def __init__(self, height: int, width: int, rng: np.random.Generator) -> None:
        self.h, self.w, self.rng = height, width, rng
        self.refl = np.empty((11, height, width), dtype=np.float32)
        self.labels = np.full((height, width), WATER, dtype=np.uint8)
        self.land = np.zeros((height, width), dtype=bool)
        self.cloud = np.zeros((height, width), dtype=np.float32)
        self.debris = np.zeros((height, width), dtype=np.float32)
        self.sea_dist = np.full((height, width), np.inf, dtype=np.float32)
        self.vegetation = np.zeros((height, width), dtype=np.float32)

    @property
    def area(self) -> int:
        return self.h * self.w

    def blend(
        self,
        class_id: int,
        alpha: F32,
        z: F32,
        *,
        where: npt.NDArray[np.bool_],
        pixel_spread: float = _PIXEL_SPREAD,
        published_abundance: float = 1.0,
    ) -> None:
        """Linear mixing: ``(1 - alpha) * current + alpha * endmember(class, z)`` where asked.

        ``z`` holds the scene- or object-level spectral deviates; each pixel adds its own, of
        standard deviation ``pixel_spread``. A published MARIDA spectrum is itself the mean of
        annotated pixels, i.e. of mixtures of the material with water at the abundance those
        pixels had: with ``published_abundance`` below 1 the pure-material endmember is
        recovered from it by unmixing (see :func:`material_endmember`).
        """
        idx = np.flatnonzero(where & (alpha > 0))
        if idx.size == 0:
            return
        a = alpha.ravel()[idx]
        spec = perturbed_spectra(class_id, self.pixel_z(z.ravel()[idx], pixel_spread))
        if published_abundance < 1.0:
            spec = material_endmember(spec, published_abundance)
        flat = self.refl.reshape(11, -1)
        flat[:, idx] = flat[:, idx] * (1 - a) + spec * a

    def pixel_z(self, base: F32, spread: float = _PIXEL_SPREAD) -> F32:
        """Per-pixel spectral deviates around object-level ones."""
        noise = self.rng.standard_normal(base.shape, dtype=np.float32)
        return base + np.float32(spread) * noise


def _scaled(count: float, rng: np.random.Generator) -> int:
    """A Poisson count with the given mean (object numbers scale with the scene's area)."""
    return int(rng.poisson(max(count, 0.0)))


def _random_points(
    c: _Canvas, n: int, *, near: npt.NDArray[np.bool_] | None = None
) -> tuple[F32, F32]:
    """``n`` random positions, uniform over the scene or over the True pixels of ``near``."""
    if near is not None and near.any():
        flat = np.flatnonzero(near)
        pick = flat[c.rng.integers(0, flat.size, n)]
        y = (pick // c.w).astype(np.float32) + c.rng.uniform(-0.5, 0.5, n).astype(np.float32)
        x = (pick % c.w).astype(np.float32) + c.rng.uniform(-0.5, 0.5, n).astype(np.float32)
        return y, x
    y = c.rng.uniform(0, c.h, n).astype(np.float32)
    x = c.rng.uniform(0, c.w, n).astype(np.float32)
    return y, x


# --- water body -------------------------------------------------------------------------------


def _water(c: _Canvas, land_fraction: float) -> None:
    """Marine Water with smooth colour variation, Mixed Water patches, coast, shallows, plumes."""
    rng = c.rng
    shape = (c.h, c.w)
    ds = max(1, min(c.h, c.w) // 128)
    colour = r.fractal_field(rng, shape, beta=3.2, downsample=ds)
    scene_z = np.float32(rng.normal(0.0, _OBJECT_SPREAD))
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


def _coast(c: _Canvas, land_fraction: float) -> None:
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


def _plumes(c: _Canvas) -> None:
    """Turbid plumes with sediment-laden cores: Gaussian blobs roughened by a fractal field."""
    rng = c.rng
    n = _scaled(c.area / 256**2 * 0.6, rng) + (1 if rng.random() < 0.5 else 0)
    if n == 0:
        return
    coast = (c.sea_dist > 0) & (c.sea_dist < 4)
    cy, cx = _random_points(c, n, near=coast if coast.any() else None)
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
    z = np.full((c.h, c.w), rng.normal(0, _OBJECT_SPREAD), dtype=np.float32)
    c.blend(TURBID, turbid, z, where=turbid > 0)
    c.blend(SEDIMENT, sediment, z, where=sediment > 0)
    c.labels[(turbid >= 0.5) & ~c.land] = TURBID
    c.labels[(sediment >= 0.5) & ~c.land] = SEDIMENT


def _waves(c: _Canvas) -> None:
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


# --- floating material ------------------------------------------------------------------------


def _apply_strokes(
    c: _Canvas,
    class_id: int,
    st: r.Strokes,
    *,
    label_abundance: float = 0.0,
) -> tuple[F32, F32]:
    """Mix a class into the scene along strokes; label the pixels the strokes pass through.

    A pixel is labelled when a stroke passes through it or covers half of it, and the mixed
    abundance there reaches ``label_abundance``.

    The published class spectrum is what the labelled pixels reproduce on average: the material
    is unmixed from it at the mean abundance of the pixels this call labels, since MARIDA's
    spectra are means over annotated, mostly sub-pixel, objects (mixing the published spectrum
    itself with water again would dilute it twice, leaving labelled debris with a third of
    MARIDA's NIR contrast).

    Returns:
        ``(coverage, abundance)`` per pixel, abundance being the mixed fraction actually applied.
    """
    coverage, value = r.splat((c.h, c.w), st)
    sea = ~c.land & (c.cloud < 0.3)
    alpha = np.clip(coverage * value, 0.0, 1.0) * sea
    traced = r.footprint((c.h, c.w), st) | (coverage >= 0.5)
    labelled = traced & (alpha >= max(label_abundance, 1e-3)) & sea
    published = float(alpha[labelled].mean()) if labelled.any() else 1.0
    obj_z = c.rng.normal(0, _OBJECT_SPREAD, max(int(st.obj.max(initial=-1)) + 1, 1))
    zst = r.Strokes(st.y, st.x, st.weight, obj_z[st.obj].astype(np.float32), st.obj)
    _, z = r.splat((c.h, c.w), zst)
    c.blend(class_id, alpha, z, where=alpha > 0, published_abundance=published)
    c.labels[labelled] = class_id
    return coverage, alpha


def material_endmember(spectra: F32, abundance: float) -> F32:
    """The pure-material spectrum whose mixture with water at ``abundance`` gives ``spectra``.

    Linear unmixing against MARIDA's Marine Water median ``w``: ``w + (spectra - w) / abundance``,
    floored at 1e-4 reflectance like the published spectra.

    Args:
        spectra: ``(11, ...)`` published (pixel-level) spectra.
        abundance: the mean fraction of the pixel the material covered, in (0, 1].

    Raises:
        ValueError: for an abundance outside (0, 1].
    """
    if not 0.0 < abundance <= 1.0:
        raise ValueError(f"Invalid abundance {abundance!r}; must be in (0, 1]")
    water = class_spectrum(WATER).reshape(-1, *([1] * (spectra.ndim - 1)))
    return np.maximum(water + (spectra - water) / np.float32(abundance), np.float32(1e-4))


def _line_objects(
    c: _Canvas,
    n: int,
    *,
    length: tuple[float, float],
    width: tuple[float, float],
    abundance: tuple[float, float],
    curvature: float,
    heading: float | None = None,
    heading_sd: float = 0.2,
    near: npt.NDArray[np.bool_] | None = None,
) -> r.Strokes:
    rng = c.rng
    y, x = _random_points(c, n, near=near)
    if heading is None:
        hd = rng.uniform(0, 2 * np.pi, n)
    else:
        hd = heading + rng.normal(0, heading_sd, n) + np.pi * rng.integers(0, 2, n)
    return r.strokes(
        rng,
        start_y=y,
        start_x=x,
        heading=hd.astype(np.float32),
        length=rng.uniform(*length, n).astype(np.float32),
        width=rng.uniform(*width, n).astype(np.float32),
        curvature=curvature,
        value=rng.uniform(*abundance, n).astype(np.float32),
    )


def _windrows(c: _Canvas, wind: float, density: float) -> npt.NDArray[np.bool_]:
    """Sargassum windrows: groups of long, thin lines aligned with the wind, dense and sparse.

    Returns the footprint of the windrows (where debris gathers too).
    """
    rng = c.rng
    groups = _scaled(c.area / 256**2 * 0.9 * density, rng)
    if groups == 0:
        return np.zeros((c.h, c.w), dtype=bool)
    per = rng.integers(2, 7, groups)
    gy, gx = _random_points(c, groups)
    spacing = rng.uniform(4, 12, groups)
    # members of a group are offset across the wind from the group's origin
    k = np.concatenate([np.arange(m) for m in per]).astype(np.float32)
    g = np.repeat(np.arange(groups), per)
    across = k * spacing[g] + rng.normal(0, 1.5, k.size)
    start_y = gy[g] + np.cos(wind) * across + rng.normal(0, 6, k.size)
    start_x = gx[g] - np.sin(wind) * across + rng.normal(0, 6, k.size)
    n = k.size
    common = {
        "start_y": start_y.astype(np.float32),
        "start_x": start_x.astype(np.float32),
        "heading": (wind + rng.normal(0, 0.08, n) + np.pi * rng.integers(0, 2, n)).astype(
            np.float32
        ),
        "curvature": 0.03,
    }
    dense_member = rng.random(n) < 0.4
    sparse = r.strokes(
        rng,
        length=rng.uniform(30, 160, n).astype(np.float32),
        width=rng.uniform(1.0, 3.0, n).astype(np.float32),
        value=rng.uniform(0.4, 0.9, n).astype(np.float32),
        **common,
    )
    cov_sparse, _ = _apply_strokes(c, SPARSE_SARG, sparse)
    dense_len = np.where(dense_member, rng.uniform(10, 80, n), 0).astype(np.float32)
    dense = r.strokes(
        rng,
        length=dense_len,
        width=rng.uniform(1.0, 2.5, n).astype(np.float32),
        value=rng.uniform(0.6, 1.0, n).astype(np.float32),
        **common,
    )
    keep = dense.obj[:0]
    if dense_member.any():
        keep = np.isin(dense.obj, np.flatnonzero(dense_member))
        dense = r.Strokes(
            dense.y[keep], dense.x[keep], dense.weight[keep], dense.value[keep], dense.obj[keep]
        )
        cov_dense, _ = _apply_strokes(c, DENSE_SARG, dense)
    else:
        cov_dense = np.zeros_like(cov_sparse)
    return (cov_sparse > 0) | (cov_dense > 0)


def _foam(c: _Canvas, wind: float, density: float) -> npt.NDArray[np.bool_]:
    """Foam lines (convergence fronts, breaking crests): curvy, thin, bright in the visible."""
    n = _scaled(c.area / 256**2 * 6 * density, c.rng)
    st = _line_objects(
        c,
        n,
        length=(10, 90),
        width=(0.8, 2.0),
        abundance=(0.3, 0.9),
        curvature=0.08,
        heading=wind + np.pi / 2,
        heading_sd=0.6,
    )
    coverage, _ = _apply_strokes(c, FOAM, st, label_abundance=0.2)
    return coverage > 0


def _organic(c: _Canvas, density: float) -> None:
    """Natural organic material: short streaks and small patches (pollen, plant debris, wood)."""
    n = _scaled(c.area / 256**2 * 3 * density, c.rng)
    st = _line_objects(c, n, length=(2, 14), width=(1.0, 2.5), abundance=(0.3, 0.8), curvature=0.15)
    _apply_strokes(c, NOM, st, label_abundance=0.15)


def _ships(c: _Canvas, density: float) -> None:
    """Ships (20-80 m hulls) with Kelvin-angle V wakes and a turbulent centre wake."""
    rng = c.rng
    n = _scaled(c.area / 256**2 * 1.2 * density, rng)
    if n == 0:
        return
    y, x = _random_points(c, n)
    heading = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
    hull = rng.uniform(2, 8, n).astype(np.float32)
    wake_len = rng.uniform(15, 90, n).astype(np.float32)
    decay = wake_len / 2.0
    half = np.deg2rad(KELVIN_HALF_ANGLE_DEG) * rng.uniform(0.4, 1.0, n).astype(np.float32)
    stern_y = y - np.sin(heading) * hull / 2
    stern_x = x - np.cos(heading) * hull / 2
    back = heading + np.float32(np.pi)
    arms = []
    for sign, width, val in ((0.0, 1.5, 0.7), (1.0, 1.0, 0.55), (-1.0, 1.0, 0.55)):
        arms.append(
            r.strokes(
                rng,
                start_y=stern_y,
                start_x=stern_x,
                heading=(back + sign * half).astype(np.float32),
                length=wake_len * (1.0 if sign == 0 else 0.7),
                width=np.full(n, width, dtype=np.float32),
                curvature=0.01,
                value=np.full(n, val, dtype=np.float32),
                decay=decay,
            )
        )
    _apply_strokes(c, WAKE, r.concat(arms), label_abundance=0.2)
    start_y = y - np.sin(heading) * hull / 2
    start_x = x - np.cos(heading) * hull / 2
    st = r.strokes(
        rng,
        start_y=start_y,
        start_x=start_x,
        heading=heading,
        length=hull,
        width=rng.uniform(1.0, 2.0, n).astype(np.float32),
        curvature=0.0,
        value=rng.uniform(0.8, 1.0, n).astype(np.float32),
    )
    _apply_strokes(c, SHIP, st)


def _debris(c: _Canvas, fraction: float, wind: float, gather: npt.NDArray[np.bool_]) -> None:
    """Marine debris: filaments (often along windrows and fronts) and small patches, sub-pixel.

    Objects are added in batches until about ``fraction`` of the clear-water pixels are labelled.
    """
    rng = c.rng
    clear = ~c.land & (c.cloud < 0.05)
    target = fraction * int(clear.sum())
    if target < 1:
        return
    lo, hi = DEBRIS_ABUNDANCE
    labelled = 0
    near = r.distance_to(gather) if gather.any() else None
    for _ in range(8):
        missing = target - labelled
        if missing < 1:
            break
        n = max(1, int(np.ceil(missing / 14.0)))
        filament = rng.random(n) < 0.7
        n_fil = int(filament.sum())
        n_patch = n - n_fil
        zone = None
        if near is not None:
            zone = (near > 2) & (near < 12) & clear
            if not zone.any():
                zone = None
        fy, fx = _random_points(c, n_fil, near=zone if rng.random() < 0.5 else clear)
        heading = np.where(
            rng.random(n_fil) < 0.6,
            wind + rng.normal(0, 0.15, n_fil) + np.pi * rng.integers(0, 2, n_fil),
            rng.uniform(0, 2 * np.pi, n_fil),
        ).astype(np.float32)
        fil = r.strokes(
            rng,
            start_y=fy,
            start_x=fx,
            heading=heading,
            length=rng.uniform(6, 40, n_fil).astype(np.float32),
            width=np.where(rng.random(n_fil) < 0.75, 1.0, 1.6).astype(np.float32),
            curvature=0.06,
            value=(lo + (hi - lo) * rng.beta(2, 2, n_fil)).astype(np.float32),
        )
        py, px = _random_points(c, n_patch, near=clear)
        patch = r.strokes(
            rng,
            start_y=py,
            start_x=px,
            heading=rng.uniform(0, 2 * np.pi, n_patch).astype(np.float32),
            length=rng.uniform(0.5, 4, n_patch).astype(np.float32),
            width=rng.uniform(1.0, 3.0, n_patch).astype(np.float32),
            curvature=0.3,
            value=(lo + (hi - lo) * rng.beta(2, 2, n_patch)).astype(np.float32),
        )
        patch = r.Strokes(patch.y, patch.x, patch.weight, patch.value, patch.obj + n_fil)
        st = r.concat([fil, patch])
        _, alpha = _apply_strokes(c, DEBRIS, st, label_abundance=0.05)
        c.debris = np.maximum(c.debris, alpha)
        labelled = int((c.labels == DEBRIS).sum())
    # Pixels an annotator could not decide on stay unlabelled: debris too faint to see, and the
    # mixed rim of filaments whose centre is labelled.
    faint = (c.labels == DEBRIS) & (c.debris < DEBRIS_MIN_LABELLED)
    rim = (c.debris > 0.02) & (c.labels != DEBRIS) & ~c.land
    c.labels[faint | rim] = 0


# --- atmosphere and sensor --------------------------------------------------------------------


def _cloud_field(c: _Canvas, cloud_fraction: float) -> tuple[F32, F32]:
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


def _shade_and_cloud(c: _Canvas, opacity: F32, shadow: F32, field_z: F32) -> None:
    """Darken shadowed pixels by MARIDA's shadow/water ratio, then blend clouds on top."""
    ratio = np.minimum(class_spectrum(SHADOW) / class_spectrum(WATER), 1.0)
    idx = np.flatnonzero(shadow > 0)
    flat = c.refl.reshape(11, -1)
    flat[:, idx] *= 1.0 - shadow.ravel()[idx] * (1.0 - ratio[:, None])
    c.labels[(shadow >= 0.5) & ~c.land] = SHADOW
    # cloud texture is in the thickness field; pixel-to-pixel variation is small
    c.blend(CLOUD, opacity, field_z, where=opacity > 0, pixel_spread=0.05)
    c.labels[(opacity >= 0.5) & ~c.land] = CLOUD


def _land_surface(c: _Canvas) -> None:
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
    c.refl.reshape(11, -1)[:, idx] = spec
    c.labels[c.land] = 0
    c.vegetation = veg


def _scl(c: _Canvas, opacity: F32, shadow: F32) -> npt.NDArray[np.uint8]:
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
    coarse = scl[::2, ::2]
    return np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)[: c.h, : c.w]


def _sensor(c: _Canvas) -> F32:
    out = np.empty_like(c.refl)
    for b, info in enumerate(BAND_INFO):
        factor = info.resolution_m // 10
        out[b] = r.resample_band(c.refl[b], factor, float(SENSOR_NOISE[b]), c.rng)
    return np.maximum(out, np.float32(1e-4))


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Invalid {name} {value!r}; must be within [0, 1]")


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
    if height < 16 or width < 16:
        raise ValueError(f"Invalid scene size {height}x{width}; both sides must be >= 16 pixels")
    for name, value in (
        ("land_fraction", land_fraction),
        ("cloud_fraction", cloud_fraction),
        ("debris_fraction", debris_fraction),
    ):
        _check_fraction(name, value)
    if hard_negative_density < 0:
        raise ValueError(f"Invalid hard_negative_density {hard_negative_density!r}; must be >= 0")

    rng = np.random.default_rng(seed)
    c = _Canvas(height, width, rng)
    _water(c, land_fraction)
    opacity, shadow = _cloud_field(c, cloud_fraction)
    c.cloud = opacity  # floating objects avoid clouds, not their shadows
    wind = float(rng.uniform(0, np.pi))
    gather = _windrows(c, wind, hard_negative_density)
    gather |= _foam(c, wind, hard_negative_density)
    _organic(c, hard_negative_density)
    _ships(c, hard_negative_density)
    _debris(c, debris_fraction, wind, gather)
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
