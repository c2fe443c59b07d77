"""Vectorized raster primitives of the scene generator: fractal fields, curves, splatting, resampling.

Private to :mod:`oceanscan.synth`; everything here is numpy/scipy on whole arrays so that a
1024 x 1024 scene takes a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import fft as sfft
from scipy import ndimage

__all__ = [
    "Strokes",
    "concat",
    "distance_to",
    "footprint",
    "fractal_field",
    "resample_band",
    "shift",
    "splat",
    "strokes",
    "upsample",
]

F32 = npt.NDArray[np.float32]


def fractal_field(
    rng: np.random.Generator, shape: tuple[int, int], *, beta: float, downsample: int = 1
) -> F32:
    """A zero-mean, unit-variance Gaussian field with a ``1/k**beta`` power spectrum.

    Spectral synthesis (filtering white noise in the Fourier domain) is the usual model of
    clouds, water colour and plumes; ``beta`` near 3 gives the smooth, billowy fields of
    ocean colour, lower values rougher ones. Smooth fields are synthesised on a grid
    ``downsample`` times coarser and interpolated, which costs nothing visible.
    """
    h, w = shape
    hs, ws = max(8, -(-h // downsample)), max(8, -(-w // downsample))
    noise = rng.standard_normal((hs, ws), dtype=np.float32)
    spec = sfft.rfft2(noise)
    ky = sfft.fftfreq(hs)[:, None]
    kx = sfft.rfftfreq(ws)[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    amp = (k ** (-beta / 2.0)).astype(np.float32)
    amp[0, 0] = 0.0
    field = sfft.irfft2(spec * amp, s=(hs, ws)).astype(np.float32)
    if downsample > 1:
        field = upsample(field, (h, w), hs / h)
    field = field[:h, :w]
    std = float(field.std())
    return ((field - field.mean()) / (std if std > 0 else 1.0)).astype(np.float32)


def upsample(field: F32, shape: tuple[int, int], factor: float) -> F32:
    """Bilinear interpolation of a coarse grid onto a finer one of ``shape`` (pixel-area aligned).

    ``factor`` is the coarse pixel size in fine pixels' units inverted (coarse/fine = 1/factor).
    """
    h, w = shape
    rows = _axis_weights(h, field.shape[0], factor)
    cols = _axis_weights(w, field.shape[1], factor)
    y0, y1, fy = rows
    tmp = field[y0] * (1 - fy)[:, None] + field[y1] * fy[:, None]
    x0, x1, fx = cols
    return (tmp[:, x0] * (1 - fx)[None, :] + tmp[:, x1] * fx[None, :]).astype(np.float32)


def _axis_weights(
    n_out: int, n_in: int, factor: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], F32]:
    pos = (np.arange(n_out, dtype=np.float32) + 0.5) * np.float32(factor) - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    i0 = np.minimum(pos.astype(np.int64), max(n_in - 2, 0))
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (pos - i0).astype(np.float32)


def resample_band(band: F32, factor: int, noise_sd: float, rng: np.random.Generator) -> F32:
    """Simulate a coarser native band on the 10 m grid: area-average, add noise, interpolate back.

    A 20 m (or 60 m) detector integrates 2 x 2 (6 x 6) of the 10 m pixels, so a one-pixel debris
    filament is diluted in those bands; its noise is drawn at the native resolution and
    interpolated with it, as in an L2A product resampled to 10 m.
    """
    h, w = band.shape
    if factor == 1:
        return band + noise_sd * rng.standard_normal((h, w), dtype=np.float32)
    hp, wp = -(-h // factor) * factor, -(-w // factor) * factor
    padded = np.pad(band, ((0, hp - h), (0, wp - w)), mode="edge")
    coarse = padded.reshape(hp // factor, factor, wp // factor, factor).mean(axis=(1, 3))
    coarse = coarse + noise_sd * rng.standard_normal(coarse.shape, dtype=np.float32)
    return upsample(coarse.astype(np.float32), (h, w), 1.0 / factor)


@dataclass(frozen=True)
class Strokes:
    """Points sampled densely along curved strokes, ready to splat.

    Attributes:
        y, x: point positions in pixel units (pixel ``(i, j)`` is centred on ``(i, j)``).
        weight: area each point stands for, in pixels.
        value: a per-point quantity to average per pixel (abundance).
        obj: index of the stroke each point belongs to.
    """

    y: F32
    x: F32
    weight: F32
    value: F32
    obj: npt.NDArray[np.int64]


_STEP = 0.35


def strokes(
    rng: np.random.Generator,
    *,
    start_y: F32,
    start_x: F32,
    heading: F32,
    length: F32,
    width: F32,
    curvature: float,
    value: F32,
    decay: F32 | None = None,
) -> Strokes:
    """Sample ``n`` curved strokes: a random walk of heading, one step of 0.35 px at a time.

    Each stroke has its own start, heading (radians), length and width (pixels) and a value
    (abundance) that decays along the stroke as ``exp(-s / decay)`` when ``decay`` is given (ship
    wakes). Wide strokes are sampled with parallel offsets so they cover their full width.
    """
    n = len(length)
    if n == 0:
        empty = np.zeros(0, dtype=np.float32)
        return Strokes(empty, empty, empty, empty, np.zeros(0, dtype=np.int64))
    steps = int(np.ceil(float(length.max()) / _STEP)) + 1
    s = np.arange(steps, dtype=np.float32) * _STEP
    turn = rng.normal(0.0, curvature, (n, steps)).astype(np.float32)
    theta = heading[:, None] + np.cumsum(turn, axis=1)
    dy, dx = np.sin(theta) * _STEP, np.cos(theta) * _STEP
    ys = start_y[:, None] + np.cumsum(dy, axis=1) - dy[:, :1]
    xs = start_x[:, None] + np.cumsum(dx, axis=1) - dx[:, :1]
    keep = s[None, :] <= length[:, None]
    lanes = int(np.ceil(float(width.max())))
    lane = np.arange(lanes, dtype=np.float32)
    n_lanes = np.maximum(np.ceil(width), 1.0)
    offset = (lane[None, :] - (n_lanes[:, None] - 1) / 2.0) * (width / n_lanes)[:, None]
    lane_ok = lane[None, :] < n_lanes[:, None]
    # (n, lanes, steps)
    py = ys[:, None, :] + offset[:, :, None] * np.cos(theta)[:, None, :]
    px = xs[:, None, :] - offset[:, :, None] * np.sin(theta)[:, None, :]
    ok = keep[:, None, :] & lane_ok[:, :, None]
    wgt = np.broadcast_to((_STEP * width / n_lanes)[:, None, None], ok.shape)
    val = np.broadcast_to(value[:, None, None], ok.shape)
    if decay is not None:
        val = val * np.exp(-s[None, None, :] / decay[:, None, None])
    obj = np.broadcast_to(np.arange(n)[:, None, None], ok.shape)
    return Strokes(
        py[ok].astype(np.float32),
        px[ok].astype(np.float32),
        wgt[ok].astype(np.float32),
        val[ok].astype(np.float32),
        obj[ok].astype(np.int64),
    )


def concat(parts: list[Strokes]) -> Strokes:
    """Join several stroke sets (object indices are kept per set, not renumbered)."""
    return Strokes(
        np.concatenate([p.y for p in parts]),
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.weight for p in parts]),
        np.concatenate([p.value for p in parts]),
        np.concatenate([p.obj for p in parts]),
    )


def splat(shape: tuple[int, int], st: Strokes) -> tuple[F32, F32]:
    """Rasterize strokes with bilinear (tent) weights.

    Returns:
        ``(coverage, value)``: the fraction of each pixel's area the strokes cover (clipped to 1)
        and the coverage-weighted mean of the strokes' values in that pixel (0 where uncovered).
    """
    h, w = shape
    if len(st.y):
        y0 = np.floor(st.y).astype(np.int64)
        x0 = np.floor(st.x).astype(np.int64)
        fy = st.y - y0
        fx = st.x - x0
        yy = np.concatenate([y0, y0, y0 + 1, y0 + 1])
        xx = np.concatenate([x0, x0 + 1, x0, x0 + 1])
        wt = np.concatenate([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx])
        wt *= np.tile(st.weight, 4)
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        idx = (yy * w + xx)[inside]
        ww = wt[inside].astype(np.float64)
        cov = np.bincount(idx, ww, minlength=h * w)
        acc = np.bincount(idx, ww * np.tile(st.value, 4)[inside], minlength=h * w)
    else:
        cov = np.zeros(h * w, dtype=np.float64)
        acc = cov
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(cov > 0, acc / cov, 0.0)
    return (
        np.minimum(cov, 1.0).reshape(h, w).astype(np.float32),
        value.reshape(h, w).astype(np.float32),
    )


def footprint(shape: tuple[int, int], st: Strokes) -> npt.NDArray[np.bool_]:
    """Pixels that contain a stroke point: an unbroken 8-connected chain along thin strokes.

    This is how an annotator traces a filament one pixel wide; area coverage alone would break a
    diagonal one-pixel line into isolated pixels.
    """
    h, w = shape
    mask = np.zeros(h * w, dtype=bool)
    yy = np.rint(st.y).astype(np.int64)
    xx = np.rint(st.x).astype(np.int64)
    inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    mask[(yy * w + xx)[inside]] = True
    return mask.reshape(h, w)


def shift(field: F32, dy: int, dx: int) -> F32:
    """Translate a field by whole pixels, filling the uncovered border with zeros."""
    out = np.zeros_like(field)
    h, w = field.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = field[ys, xs]
    return out


def distance_to(mask: npt.NDArray[np.bool_]) -> F32:
    """Euclidean distance (pixels) from every pixel to the nearest ``True`` pixel (inf if none)."""
    if not mask.any():
        return np.full(mask.shape, np.inf, dtype=np.float32)
    return ndimage.distance_transform_edt(~mask).astype(np.float32)
