"""Quicklook PNG of one scanned scene: true colour, debris probability, masks and detections.

The picture an analyst looks at before opening the Zarr store: where the model sees debris,
which pixels it never scored and why (land, cloud or shadow, nodata), and the outlines of the
detections at the bundle's threshold. The function is pure (arrays in, PNG out); reading the
arrays from a scan output is the caller's business.

Layers, bottom to top: true colour (one 2-98 percentile stretch over the scored pixels, gamma 2,
see :func:`oceanscan.plots._raster.stretch_rgb`); the probability through the colormap with
opacity rising from 0 at :data:`PROBABILITY_ALPHA_FLOOR` to 0.9 at
:data:`PROBABILITY_ALPHA_FULL`, so the sea stays visible; unscored pixels in the opaque
:data:`MASK_COLOURS` of their mask code; detection outlines in :data:`DETECTION_COLOUR`. A
colourbar marks the threshold, a legend names the mask colours, a scale bar gives distance.

Scenes larger than ``max_size_px`` on their longer side are reduced by an integer factor before
drawing: block mean for true colour, block maximum for probability and detection pixels (so a
one-pixel detection stays visible), block majority for the mask. The axes keep the scene's own
pixel coordinates, so polygons are drawn unscaled.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from scipy import ndimage
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from oceanscan.plots._checks import as_int_at_least, as_unit_float
from oceanscan.plots._figure import DPI, new_figure, save_png
from oceanscan.plots._raster import (
    block_max,
    block_mean,
    block_mode,
    downsample_factor,
    stretch_rgb,
)
from oceanscan.sentinel2 import MASK_CLOUD, MASK_LAND, MASK_NODATA, MASK_SCORED

__all__ = [
    "DETECTION_COLOUR",
    "MASK_COLOURS",
    "PROBABILITY_ALPHA_FLOOR",
    "PROBABILITY_ALPHA_FULL",
    "quicklook_png",
]

#: Legend label and opaque display colour of each mask code that means "not scored".
#: Distinct in hue and lightness from the probability colormap and from each other.
MASK_COLOURS: dict[int, tuple[str, str]] = {
    MASK_LAND: ("land", "#a08560"),
    MASK_CLOUD: ("cloud or shadow", "#d9d9d9"),
    MASK_NODATA: ("nodata", "#4d4d4d"),
}
#: Outline colour of detections: cyan stands out from the probability colormap and the sea.
DETECTION_COLOUR = "#00e5ff"
#: Probabilities at or below this are drawn fully transparent: the sea stays readable.
PROBABILITY_ALPHA_FLOOR = 0.1
#: Probabilities at or above this are drawn at the overlay's full opacity.
PROBABILITY_ALPHA_FULL = 0.5
_MAX_ALPHA = 0.9
_NUM_MASK_CODES = 4
_UINT8_MAX = np.iinfo(np.uint8).max

Detections = Sequence[BaseGeometry] | npt.NDArray[np.bool_]


def _check_arrays(
    rgb: npt.NDArray[np.floating],
    probability: npt.NDArray[np.floating],
    mask: npt.NDArray[np.integer],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[0] != 3:
        raise ValueError(f"rgb must have shape (3, H, W) (bands B04, B03, B02), got {rgb.shape}")
    if not np.issubdtype(rgb.dtype, np.number):
        raise TypeError(f"rgb must hold numbers, got dtype {rgb.dtype}")
    size = rgb.shape[1:]
    if size[0] == 0 or size[1] == 0:
        raise ValueError(f"rgb must have at least one pixel, got shape {rgb.shape}")
    probability = np.asarray(probability)
    if probability.shape != size:
        raise ValueError(
            f"probability has shape {probability.shape}; expected (H, W) = {size} to match rgb"
        )
    if not np.issubdtype(probability.dtype, np.floating):
        raise TypeError(f"probability must be a float array, got dtype {probability.dtype}")
    finite = probability[np.isfinite(probability)]
    if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
        raise ValueError(
            "probability must lie in [0, 1] (NaN where not scored), got values in "
            f"[{finite.min():.4g}, {finite.max():.4g}]"
        )
    mask = np.asarray(mask)
    if mask.shape != size:
        raise ValueError(f"mask has shape {mask.shape}; expected (H, W) = {size} to match rgb")
    if not np.issubdtype(mask.dtype, np.integer):
        raise TypeError(f"mask must be an integer array of mask codes, got dtype {mask.dtype}")
    allowed = (MASK_SCORED, MASK_LAND, MASK_CLOUD, MASK_NODATA)
    outside = (mask < min(allowed)) | (mask > max(allowed))
    if outside.any():
        bad = np.unique(mask[outside])[:10].tolist()
        raise ValueError(f"mask holds codes {bad}; allowed codes are {allowed}")
    # asarray: no copy of a whole scene when the caller already holds these dtypes.
    return (
        np.asarray(rgb, dtype=np.float32),
        np.asarray(probability, dtype=np.float32),
        np.asarray(mask, dtype=np.uint8),
    )


def _check_detections(
    detections: Detections, size: tuple[int, int]
) -> list[Polygon] | npt.NDArray[np.bool_]:
    if isinstance(detections, np.ndarray):
        if detections.shape != size:
            raise ValueError(
                f"detections array has shape {detections.shape}; expected (H, W) = {size} "
                "to match rgb"
            )
        if detections.dtype != np.bool_:
            raise TypeError(f"detections array must be bool, got dtype {detections.dtype}")
        return detections
    if isinstance(detections, (str, bytes)) or not isinstance(detections, Sequence):
        raise TypeError(
            "detections must be a sequence of shapely Polygon/MultiPolygon in pixel coordinates "
            f"or an (H, W) bool array, got {type(detections).__name__}"
        )
    polygons: list[Polygon] = []
    for i, geom in enumerate(detections):
        if isinstance(geom, Polygon):
            polygons.append(geom)
        elif isinstance(geom, MultiPolygon):
            polygons.extend(geom.geoms)
        else:
            raise TypeError(
                f"detections[{i}] is a {type(geom).__name__}; allowed are shapely Polygon and "
                "MultiPolygon"
            )
    return polygons


def _probability_rgba(probability: npt.NDArray[np.float32], cmap: str) -> npt.NDArray[np.float64]:
    """Colormapped probability whose opacity rises from 0 at the floor to full at 0.5."""
    rgba = colormaps[cmap](Normalize(0.0, 1.0)(np.nan_to_num(probability, nan=0.0)))
    ramp = (probability - PROBABILITY_ALPHA_FLOOR) / (
        PROBABILITY_ALPHA_FULL - PROBABILITY_ALPHA_FLOOR
    )
    rgba[..., 3] = np.where(np.isfinite(probability), np.clip(ramp, 0.0, 1.0) * _MAX_ALPHA, 0.0)
    return rgba


def _mask_rgba(mask: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    for code, (_, colour) in MASK_COLOURS.items():
        rgba[mask == code] = np.round(np.array(to_rgba(colour)) * _UINT8_MAX).astype(np.uint8)
    return rgba


def _draw_polygons(ax: Axes, polygons: list[Polygon]) -> None:
    rings = [
        np.asarray(ring.coords)
        for poly in polygons
        if not poly.is_empty
        for ring in (poly.exterior, *poly.interiors)
    ]
    if rings:
        ax.add_collection(LineCollection(rings, colors=DETECTION_COLOUR, linewidths=1.2, zorder=4))


def _draw_contours(ax: Axes, above: npt.NDArray[np.bool_], factor: int) -> None:
    """Outline the pixels above threshold; a block counts if any of its pixels is above."""
    if not above.any():
        return
    # A zero border closes the outlines of regions that touch the image edge.
    z = np.pad(block_max(above.astype(np.float32), factor), 1, constant_values=0.0)
    xs = (np.arange(z.shape[1]) - 0.5) * factor
    ys = (np.arange(z.shape[0]) - 0.5) * factor
    ax.contour(xs, ys, z, levels=[0.5], colors=DETECTION_COLOUR, linewidths=1.2, zorder=4)


def _nice_length(target: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten that is at most ``target``."""
    power = 10.0 ** math.floor(math.log10(target))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target)


def _add_scale_bar(ax: Axes, width_px: int, pixel_size_m: float) -> None:
    length_m = _nice_length(width_px * pixel_size_m / 5.0)
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    bar = AnchoredSizeBar(
        ax.transData,
        length_m / pixel_size_m,
        label,
        loc="lower left",
        color="white",
        pad=0.4,
        borderpad=0.6,
        sep=3,
        frameon=True,
        size_vertical=0,
    )
    bar.patch.set_facecolor("black")
    bar.patch.set_alpha(0.5)
    bar.patch.set_edgecolor("none")
    ax.add_artist(bar)


def _check_options(
    title: str, threshold: float, max_size_px: int, pixel_size_m: float | None, cmap: str
) -> tuple[float, int]:
    """Check :func:`quicklook_png`'s scalar options; return ``threshold`` and ``max_size_px``."""
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    threshold = as_unit_float("threshold", threshold)
    max_size_px = as_int_at_least("max_size_px", max_size_px, 16)
    if pixel_size_m is not None and not pixel_size_m > 0:
        raise ValueError(f"pixel_size_m must be > 0 or None, got {pixel_size_m!r}")
    if cmap not in colormaps:
        raise ValueError(f"cmap {cmap!r} is not a matplotlib colormap; see matplotlib.colormaps")
    return threshold, max_size_px


def _draw_scene(
    rgb: npt.NDArray[np.float32],
    probability: npt.NDArray[np.float32],
    mask: npt.NDArray[np.uint8],
    factor: int,
    cmap: str,
) -> tuple[Figure, Axes]:
    """A figure sized to the scene reduced by ``factor``: true colour, probability, masks."""
    shown_mask = block_mode(mask, factor, _NUM_MASK_CODES)
    shown_rgb = stretch_rgb(block_mean(rgb, factor), where=shown_mask == MASK_SCORED)
    shown_prob = block_max(probability, factor)
    h, w = shown_mask.shape
    extent = (0.0, float(w * factor), float(h * factor), 0.0)

    # The image area gets about one figure pixel per drawn pixel, at least 4 in on its long side.
    scale = max(1.0, 400.0 / max(h, w))
    fig = new_figure(w * scale / DPI + 1.7, h * scale / DPI + 1.4)
    ax = fig.add_subplot()
    ax.set_facecolor("black")
    common = {"extent": extent, "interpolation": "nearest", "origin": "upper"}
    ax.imshow(shown_rgb, zorder=1, **common)
    ax.imshow(_probability_rgba(shown_prob, cmap), zorder=2, **common)
    ax.imshow(_mask_rgba(shown_mask), zorder=3, **common)
    return fig, ax


def _draw_detections(
    ax: Axes, outlines: list[Polygon] | npt.NDArray[np.bool_], given: int, factor: int
) -> int:
    """Outline the detections; return how many there are.

    A bool array counts its 8-connected regions; a list of polygons counts as ``given``, the
    caller's number of geometries (a MultiPolygon is one detection however many parts it has).
    """
    if isinstance(outlines, np.ndarray):
        _draw_contours(ax, outlines, factor)
        return int(ndimage.label(outlines, structure=np.ones((3, 3)))[1])
    _draw_polygons(ax, outlines)
    return given


def _set_axes(ax: Axes, width: int, height: int, pixel_size_m: float | None) -> None:
    """The scene's own pixel coordinates on the axes, and a scale bar unless no pixel size."""
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    ax.set_xlabel("column (px)", fontsize=8)
    ax.set_ylabel("row (px)", fontsize=8)
    if pixel_size_m is not None:
        _add_scale_bar(ax, width, pixel_size_m)


def _set_title(ax: Axes, title: str, threshold: float, count: int, factor: int) -> None:
    """``title``, then the threshold, the number of detections and any reduction."""
    notes = [f"threshold {threshold:.2f}", f"{count} detection{'s' if count != 1 else ''}"]
    if factor > 1:
        notes.append(f"shown at 1/{factor} resolution")
    ax.set_title(f"{title}\n{' · '.join(notes)}", fontsize=10)


def _add_colourbar(fig: Figure, ax: Axes, cmap: str, threshold: float) -> None:
    cbar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), colormaps[cmap]), ax=ax, shrink=0.8)
    cbar.set_label("debris probability", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    cbar.ax.axhline(threshold, color=DETECTION_COLOUR, linewidth=2)


def _add_legend(fig: Figure, threshold: float) -> None:
    handles = [
        Patch(facecolor=colour, edgecolor="black", label=label)
        for label, colour in MASK_COLOURS.values()
    ]
    handles.append(
        Line2D(
            [], [], color=DETECTION_COLOUR, linewidth=1.5, label=f"detection (p ≥ {threshold:.2f})"
        )
    )
    fig.legend(
        handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False
    )


def quicklook_png(
    path_out: str | os.PathLike[str],
    *,
    rgb: npt.NDArray[np.floating],
    probability: npt.NDArray[np.floating],
    mask: npt.NDArray[np.integer],
    threshold: float,
    detections: Detections,
    title: str,
    max_size_px: int = 1024,
    pixel_size_m: float | None = 10.0,
    cmap: str = "plasma",
) -> Path:
    """Draw a scene's quicklook: stretched true colour, probability overlay, masks, detections.

    The layers and the reduction of large scenes are those the module docstring describes.

    Args:
        path_out: destination ``.png`` file; parent directories are created.
        rgb: ``(3, H, W)`` surface reflectance of B04, B03, B02, NaN where missing.
        probability: ``(H, W)`` debris probability in [0, 1], NaN where not scored.
        mask: ``(H, W)`` integer mask codes (:data:`oceanscan.sentinel2.MASK_SCORED` 0,
            ``MASK_LAND`` 1, ``MASK_CLOUD`` 2, ``MASK_NODATA`` 3).
        threshold: decision threshold in [0, 1], marked on the colourbar and in the subtitle.
        detections: shapely Polygons/MultiPolygons in pixel coordinates (x = column, y = row,
            pixel ``(r, c)`` covering ``[c, c + 1] x [r, r + 1]`` as ``rasterio.features.shapes``
            gives them under the identity transform), or an ``(H, W)`` bool array of the pixels
            above threshold, whose outlines are drawn as contours.
        title: first line of the title, e.g. the scene id.
        max_size_px: longest side, in pixels, of the drawn image, defaults to 1024.
        pixel_size_m: ground size of one input pixel for the scale bar, defaults to 10 (the
            Sentinel-2 10 m grid the scan writes); None draws no scale bar.
        cmap: matplotlib colormap name for the probability, defaults to ``"plasma"``.

    Returns:
        ``path_out`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: if an array has the wrong shape, ``probability`` leaves [0, 1], ``mask`` holds
            an unknown code, ``threshold`` leaves [0, 1], ``max_size_px`` < 16,
            ``pixel_size_m`` <= 0, ``cmap`` is unknown or ``path_out`` is not a ``.png``.
        TypeError: if an array has the wrong dtype, ``title`` is not a string, ``threshold`` or
            ``max_size_px`` is not a number, or ``detections`` holds something other than
            polygons.
    """
    rgb, probability, mask = _check_arrays(rgb, probability, mask)
    height, width = mask.shape
    outlines = _check_detections(detections, (height, width))
    threshold, max_size_px = _check_options(title, threshold, max_size_px, pixel_size_m, cmap)

    factor = downsample_factor(height, width, max_size_px)
    fig, ax = _draw_scene(rgb, probability, mask, factor, cmap)
    count = _draw_detections(ax, outlines, len(detections), factor)
    _set_axes(ax, width, height, pixel_size_m)
    _set_title(ax, title, threshold, count, factor)
    _add_colourbar(fig, ax, cmap, threshold)
    _add_legend(fig, threshold)
    return save_png(fig, path_out)
