"""Floating material mixed sub-pixel into the water: Sargassum, foam, organic matter, ships, debris.

Sargassum windrows, foam lines, natural organic material, ships with their wakes and marine
debris are each drawn as strokes (:mod:`oceanscan.synth._render`) whose coverage times abundance is
the fraction of the pixel the material covers; the pure-material endmember is unmixed from the
published MARIDA spectrum, so that the labelled pixels reproduce it (see :func:`apply_strokes`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from oceanscan.synth import _render as r
from oceanscan.synth._canvas import (
    DEBRIS,
    DENSE_SARG,
    F32,
    FOAM,
    NOM,
    OBJECT_SPREAD,
    SHIP,
    SPARSE_SARG,
    UNLABELLED,
    WAKE,
    Canvas,
    random_points,
    scaled,
)

__all__ = [
    "DEBRIS_ABUNDANCE",
    "DEBRIS_MIN_LABELLED",
    "KELVIN_HALF_ANGLE_DEG",
    "add_debris",
    "add_foam",
    "add_organic",
    "add_ships",
    "add_windrows",
    "apply_strokes",
]

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

_Mask = npt.NDArray[np.bool_]


def apply_strokes(
    c: Canvas,
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
    obj_z = c.rng.normal(0, OBJECT_SPREAD, max(int(st.obj.max(initial=-1)) + 1, 1))
    zst = r.Strokes(st.y, st.x, st.weight, obj_z[st.obj].astype(np.float32), st.obj)
    _, z = r.splat((c.h, c.w), zst)
    c.blend(class_id, alpha, z, where=alpha > 0, published_abundance=published)
    c.labels[labelled] = class_id
    return coverage, alpha


def line_objects(
    c: Canvas,
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
    y, x = random_points(c, n, near=near)
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


def add_windrows(c: Canvas, wind: float, density: float) -> npt.NDArray[np.bool_]:
    """Sargassum windrows: groups of long, thin lines aligned with the wind, dense and sparse.

    Returns the footprint of the windrows (where debris gathers too).
    """
    rng = c.rng
    groups = scaled(c.area / 256**2 * 0.9 * density, rng)
    if groups == 0:
        return np.zeros((c.h, c.w), dtype=bool)
    per = rng.integers(2, 7, groups)
    gy, gx = random_points(c, groups)
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
    cov_sparse, _ = apply_strokes(c, SPARSE_SARG, sparse)
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
        cov_dense, _ = apply_strokes(c, DENSE_SARG, dense)
    else:
        cov_dense = np.zeros_like(cov_sparse)
    return (cov_sparse > 0) | (cov_dense > 0)


def add_foam(c: Canvas, wind: float, density: float) -> npt.NDArray[np.bool_]:
    """Foam lines (convergence fronts, breaking crests): curvy, thin, bright in the visible."""
    n = scaled(c.area / 256**2 * 6 * density, c.rng)
    st = line_objects(
        c,
        n,
        length=(10, 90),
        width=(0.8, 2.0),
        abundance=(0.3, 0.9),
        curvature=0.08,
        heading=wind + np.pi / 2,
        heading_sd=0.6,
    )
    coverage, _ = apply_strokes(c, FOAM, st, label_abundance=0.2)
    return coverage > 0


def add_organic(c: Canvas, density: float) -> None:
    """Natural organic material: short streaks and small patches (pollen, plant debris, wood)."""
    n = scaled(c.area / 256**2 * 3 * density, c.rng)
    st = line_objects(c, n, length=(2, 14), width=(1.0, 2.5), abundance=(0.3, 0.8), curvature=0.15)
    apply_strokes(c, NOM, st, label_abundance=0.15)


def add_ships(c: Canvas, density: float) -> None:
    """Ships (20-80 m hulls) with Kelvin-angle V wakes and a turbulent centre wake."""
    rng = c.rng
    n = scaled(c.area / 256**2 * 1.2 * density, rng)
    if n == 0:
        return
    y, x = random_points(c, n)
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
    apply_strokes(c, WAKE, r.concat(arms), label_abundance=0.2)
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
    apply_strokes(c, SHIP, st)


def _near_gather(near: F32 | None, clear: _Mask) -> _Mask | None:
    """Clear water 2 to 12 pixels from windrows and fronts, where debris gathers; None if none."""
    if near is None:
        return None
    zone = (near > 2) & (near < 12) & clear
    return zone if zone.any() else None


def _debris_filaments(
    c: Canvas, n: int, wind: float, zone: _Mask | None, clear: _Mask
) -> r.Strokes:
    """``n`` thin filaments, half of them started near gathering lines, mostly along the wind."""
    rng = c.rng
    lo, hi = DEBRIS_ABUNDANCE
    fy, fx = random_points(c, n, near=zone if rng.random() < 0.5 else clear)
    heading = np.where(
        rng.random(n) < 0.6,
        wind + rng.normal(0, 0.15, n) + np.pi * rng.integers(0, 2, n),
        rng.uniform(0, 2 * np.pi, n),
    ).astype(np.float32)
    return r.strokes(
        rng,
        start_y=fy,
        start_x=fx,
        heading=heading,
        length=rng.uniform(6, 40, n).astype(np.float32),
        width=np.where(rng.random(n) < 0.75, 1.0, 1.6).astype(np.float32),
        curvature=0.06,
        value=(lo + (hi - lo) * rng.beta(2, 2, n)).astype(np.float32),
    )


def _debris_patches(c: Canvas, n: int, first_object: int, clear: _Mask) -> r.Strokes:
    """``n`` small patches anywhere on clear water, numbered from ``first_object``."""
    rng = c.rng
    lo, hi = DEBRIS_ABUNDANCE
    py, px = random_points(c, n, near=clear)
    patch = r.strokes(
        rng,
        start_y=py,
        start_x=px,
        heading=rng.uniform(0, 2 * np.pi, n).astype(np.float32),
        length=rng.uniform(0.5, 4, n).astype(np.float32),
        width=rng.uniform(1.0, 3.0, n).astype(np.float32),
        curvature=0.3,
        value=(lo + (hi - lo) * rng.beta(2, 2, n)).astype(np.float32),
    )
    return r.Strokes(patch.y, patch.x, patch.weight, patch.value, patch.obj + first_object)


def add_debris(c: Canvas, fraction: float, wind: float, gather: npt.NDArray[np.bool_]) -> None:
    """Marine debris: filaments (often along windrows and fronts) and small patches, sub-pixel.

    Objects are added in batches until about ``fraction`` of the clear-water pixels are labelled.
    """
    rng = c.rng
    clear = ~c.land & (c.cloud < 0.05)
    target = fraction * int(clear.sum())
    if target < 1:
        return
    labelled = 0
    near = r.distance_to(gather) if gather.any() else None
    for _ in range(8):
        missing = target - labelled
        if missing < 1:
            break
        n = max(1, int(np.ceil(missing / 14.0)))
        filament = rng.random(n) < 0.7
        n_fil = int(filament.sum())
        fil = _debris_filaments(c, n_fil, wind, _near_gather(near, clear), clear)
        patch = _debris_patches(c, n - n_fil, n_fil, clear)
        _, alpha = apply_strokes(c, DEBRIS, r.concat([fil, patch]), label_abundance=0.05)
        c.debris = np.maximum(c.debris, alpha)
        labelled = int((c.labels == DEBRIS).sum())
    # Pixels an annotator could not decide on stay unlabelled: debris too faint to see, and the
    # mixed rim of filaments whose centre is labelled.
    faint = (c.labels == DEBRIS) & (c.debris < DEBRIS_MIN_LABELLED)
    rim = (c.debris > 0.02) & (c.labels != DEBRIS) & ~c.land
    c.labels[faint | rim] = UNLABELLED
