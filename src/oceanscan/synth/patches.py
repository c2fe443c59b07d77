"""Synthetic MARIDA: patches in MARIDA's own directory layout, naming, file types and splits.

``write_patches`` produces a directory that :mod:`oceanscan.data.marida` (and any MARIDA tool) reads
exactly like the real dataset (Kikaki et al. 2022, PLoS ONE 17(1): e0262247): 11-band float32
reflectance GeoTIFFs in a UTM CRS on the 10 m grid, ``_cl`` class ids and ``_conf`` annotation
confidence, grouped in folders per acquisition (date and MGRS tile), and ``splits/*_X.txt``.

Crops of one acquisition share its date, tile, CRS and grid (adjacent crops of a tile), and the
whole acquisition goes to one split, as MARIDA splits by scene: a model is tested on scenes it
never saw.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine

from oceanscan.sentinel2 import BANDS
from oceanscan.synth._canvas import (
    DEBRIS,
    DENSE_SARG,
    FOAM,
    NOM,
    SHIP,
    SPARSE_SARG,
    UNLABELLED,
    WAKE,
)
from oceanscan.synth.scene import SyntheticScene, synthesize_scene

__all__ = ["SPLIT_PROPORTIONS", "Acquisition", "plan_acquisitions", "write_patches"]

log = logging.getLogger(__name__)

#: MARIDA's split sizes, 694 / 328 / 350 patches (of the 1381 published), as proportions.
SPLIT_PROPORTIONS: dict[str, float] = {"train": 694 / 1372, "val": 328 / 1372, "test": 350 / 1372}

#: Real MGRS tiles over coastal seas (several of them MARIDA's) with the EPSG code of their UTM
#: zone and an approximate upper-left corner of the tile in that zone (metres).
_TILES: tuple[tuple[str, int, float, float], ...] = (
    ("16PCC", 32616, 300000.0, 1800000.0),
    ("16PDC", 32616, 399960.0, 1800000.0),
    ("16QED", 32616, 499980.0, 1900020.0),
    ("18QYF", 32618, 699960.0, 2000040.0),
    ("36JUN", 32736, 300000.0, 6700000.0),
    ("48MYU", 32748, 699960.0, 9300040.0),
    ("50LLR", 32750, 199980.0, 8800000.0),
    ("51RVQ", 32651, 399960.0, 3500040.0),
    ("52SDD", 32652, 399960.0, 4100040.0),
    ("30VWJ", 32630, 499980.0, 6500040.0),
)

#: Classes that are annotated as objects in sparse (MARIDA-style) labels; the others are
#: labelled only inside a few polygons of "background" drawn by the annotator.
_OBJECT_CLASSES = (DEBRIS, DENSE_SARG, SPARSE_SARG, NOM, SHIP, FOAM, WAKE)
#: Classes whose annotation MARIDA's annotators were moderately sure of, as a rule.
_MODERATE_CLASSES = (DENSE_SARG, SPARSE_SARG, NOM, FOAM, WAKE)
_CROP_GRID = 10  # a tile holds up to 10 x 10 crop positions
#: Pixel size of MARIDA's patches (Sentinel-2's 10 m grid), metres.
_PIXEL_M = 10.0
#: MARIDA's confidence codes (``_conf.tif``); 0 where unlabelled.
_CONF_HIGH, _CONF_MODERATE, _CONF_LOW = 1, 2, 3


@dataclass(frozen=True)
class Acquisition:
    """One synthetic Sentinel-2 acquisition whose crops become patches.

    Attributes:
        date: acquisition date.
        tile: MGRS tile name (``"16PCC"``).
        epsg: EPSG code of the tile's UTM zone.
        origin: ``(x, y)`` upper-left corner of the tile's crop grid, metres.
        crops: number of patches cut from it.
        split: ``"train"``, ``"val"`` or ``"test"``.
        coastal: whether its crops contain a coastline.
    """

    date: dt.date
    tile: str
    epsg: int
    origin: tuple[float, float]
    crops: int
    split: str
    coastal: bool

    @property
    def scene_id(self) -> str:
        """MARIDA's ``<d-m-yy>_<TILE>`` (day and month without leading zeros)."""
        return f"{self.date.day}-{self.date.month}-{self.date.strftime('%y')}_{self.tile}"


def plan_acquisitions(n: int, seed: int) -> list[Acquisition]:
    """Group ``n`` patches into acquisitions and assign whole acquisitions to splits.

    Acquisitions hold about 20 crops each (MARIDA has 1381 patches from 63 scenes) and go to the
    split furthest below its share of MARIDA's proportions, largest first.

    Raises:
        ValueError: for ``n < 3`` (one patch per split at least).
    """
    if n < 3:
        raise ValueError(f"Invalid number of patches {n!r}; must be >= 3 (one per split)")
    rng = np.random.default_rng([seed, 1])
    count = min(max(3, math.ceil(n / 20)), n)
    sizes = np.full(count, n // count)
    sizes[: n % count] += 1
    rng.shuffle(sizes)
    # Largest acquisitions first, each to the split furthest below its target.
    order = np.argsort(-sizes, kind="stable")
    assigned: dict[int, str] = {}
    filled = dict.fromkeys(SPLIT_PROPORTIONS, 0)
    for rank, i in enumerate(order):
        remaining = count - rank
        empty = [s for s in SPLIT_PROPORTIONS if filled[s] == 0]
        if len(empty) >= remaining:  # keep every split non-empty
            split = empty[0]
        else:
            split = max(SPLIT_PROPORTIONS, key=lambda s: SPLIT_PROPORTIONS[s] * n - filled[s])
        assigned[int(i)] = split
        filled[split] += int(sizes[i])
    start = dt.date(2015, 7, 1).toordinal()
    end = dt.date(2021, 12, 31).toordinal()
    acquisitions = []
    for i in range(count):
        tile, epsg, x0, y0 = _TILES[int(rng.integers(len(_TILES)))]
        date = dt.date.fromordinal(int(rng.integers(start, end)))
        acquisitions.append(
            Acquisition(
                date=date,
                tile=tile,
                epsg=epsg,
                origin=(x0, y0),
                crops=int(sizes[i]),
                split=assigned[i],
                coastal=bool(rng.random() < 0.35),
            )
        )
    # Two acquisitions of one tile on one date would share a folder: move the date.
    seen: set[str] = set()
    unique = []
    for acq in acquisitions:
        while acq.scene_id in seen:
            acq = Acquisition(
                acq.date + dt.timedelta(days=5), acq.tile, acq.epsg, acq.origin, acq.crops,
                acq.split, acq.coastal,
            )  # fmt: skip
        seen.add(acq.scene_id)
        unique.append(acq)
    return unique


def _confidence(scene: SyntheticScene, labels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Annotation confidence: high for water, clouds and clear objects; lower for faint debris.

    MARIDA annotators marked their confidence per polygon; faint, sub-pixel debris is where they
    were least sure, so debris confidence follows its abundance.
    """
    conf = np.where(labels > 0, _CONF_HIGH, 0).astype(np.uint8)
    conf[np.isin(labels, _MODERATE_CLASSES)] = _CONF_MODERATE
    if scene.debris_abundance is not None:
        a = scene.debris_abundance
        debris = labels == DEBRIS
        conf[debris & (a >= 0.3)] = _CONF_HIGH
        conf[debris & (a >= 0.15) & (a < 0.3)] = _CONF_MODERATE
        conf[debris & (a < 0.15)] = _CONF_LOW
    return conf


def _sparse(labels: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """MARIDA-style sparse annotation: objects in full, background only in a few polygons."""
    h, w = labels.shape
    keep = np.isin(labels, _OBJECT_CLASSES)
    yy, xx = np.mgrid[0:h, 0:w]
    background = [c for c in np.unique(labels) if c and c not in _OBJECT_CLASSES]
    for c in background:
        where = np.flatnonzero(labels == c)
        for _ in range(int(rng.integers(1, 4))):
            centre = where[int(rng.integers(where.size))]
            cy, cx = divmod(int(centre), w)
            ry, rx = rng.uniform(3, max(4.0, h / 10)), rng.uniform(3, max(4.0, w / 10))
            ellipse = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
            keep |= ellipse & (labels == c)
    return np.where(keep, labels, UNLABELLED).astype(np.uint8)


def _nodata(
    reflectance: npt.NDArray[np.float32], rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """A few NaN pixels, as MARIDA patches have where a band had no data."""
    h, w = reflectance.shape[1:]
    mask = np.zeros((h, w), dtype=bool)
    if rng.random() < 0.3:
        n = int(rng.integers(1, 12))
        mask.ravel()[rng.integers(0, h * w, n)] = True
    return mask


def _write(path: Path, data: npt.NDArray[np.generic], crs: str, transform: object) -> None:
    profile = {
        "driver": "GTiff",
        "height": data.shape[1],
        "width": data.shape[2],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "tiled": False,
    }
    if data.dtype != np.float32:  # class and confidence rasters compress ~50x; noisy floats do not
        profile.update(compress="deflate", zlevel=6)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if data.shape[0] == len(BANDS):
            for i, name in enumerate(BANDS, start=1):
                dst.set_band_description(i, name)


def _write_crop(
    folder: Path,
    acq: Acquisition,
    a_index: int,
    crop: int,
    position: int,
    *,
    size: int,
    seed: int,
    cloudy: float,
    sparse_labels: bool,
) -> str:
    """Render crop ``crop`` of acquisition ``a_index`` at grid ``position``, write its three files.

    Returns:
        The patch id, as the split files list it.
    """
    crop_rng = np.random.default_rng([seed, 3, a_index, crop])
    row, col = divmod(position, _CROP_GRID)
    scene = synthesize_scene(
        size,
        size,
        seed=int(crop_rng.integers(2**63)),
        land_fraction=float(crop_rng.uniform(0.05, 0.3)) if acq.coastal else 0.0,
        cloud_fraction=float(crop_rng.uniform(0, cloudy)) if crop_rng.random() < 0.5 else 0,
    )
    reflectance = scene.reflectance.copy()
    nodata = _nodata(reflectance, crop_rng)
    reflectance[:, nodata] = np.nan
    labels = scene.labels
    if sparse_labels:
        labels = _sparse(labels, np.random.default_rng([seed, 4, a_index, crop]))
    labels = np.where(nodata, UNLABELLED, labels).astype(np.uint8)
    conf = _confidence(scene, labels)
    x0 = acq.origin[0] + col * size * _PIXEL_M
    y0 = acq.origin[1] - row * size * _PIXEL_M
    transform = Affine(_PIXEL_M, 0.0, x0, 0.0, -_PIXEL_M, y0)
    crs = f"EPSG:{acq.epsg}"
    patch_id = f"{acq.scene_id}_{crop}"
    stem = folder / f"S2_{patch_id}"
    _write(stem.with_name(stem.name + ".tif"), reflectance, crs, transform)
    _write(stem.with_name(stem.name + "_cl.tif"), labels[None], crs, transform)
    _write(stem.with_name(stem.name + "_conf.tif"), conf[None], crs, transform)
    return patch_id


def write_patches(
    out: str | os.PathLike[str],
    n: int,
    size: int = 256,
    seed: int = 0,
    *,
    sparse_labels: bool = False,
) -> Path:
    """Write ``n`` synthetic patches in MARIDA's layout.

    Args:
        out: output directory (created; existing patch files are overwritten).
        n: number of patches (>= 3), spread over acquisitions and splits in MARIDA's proportions.
        size: patch side in pixels (default 256, MARIDA's; >= 16).
        seed: seed of everything drawn; equal arguments give identical files.
        sparse_labels: label objects and a few background polygons only, leaving most pixels 0
            (unlabelled) as MARIDA's annotators did; default False labels every pixel.

    Returns:
        The dataset directory ``out``.

    Raises:
        ValueError: for ``n < 3`` or ``size < 16``.
    """
    if size < 16:
        raise ValueError(f"Invalid patch size {size!r}; must be >= 16 pixels")
    out = Path(out)
    acquisitions = plan_acquisitions(n, seed)
    (out / "splits").mkdir(parents=True, exist_ok=True)
    split_ids: dict[str, list[str]] = {s: [] for s in SPLIT_PROPORTIONS}
    for a_index, acq in enumerate(acquisitions):
        folder = out / "patches" / f"S2_{acq.scene_id}"
        folder.mkdir(parents=True, exist_ok=True)
        acq_rng = np.random.default_rng([seed, 2, a_index])
        positions = acq_rng.permutation(_CROP_GRID * _CROP_GRID)[: acq.crops]
        cloudy = acq_rng.uniform(0.0, 0.25)
        for crop, position in enumerate(sorted(int(p) for p in positions)):
            patch_id = _write_crop(
                folder,
                acq,
                a_index,
                crop,
                position,
                size=size,
                seed=seed,
                cloudy=cloudy,
                sparse_labels=sparse_labels,
            )
            split_ids[acq.split].append(patch_id)
    for split, ids in split_ids.items():
        (out / "splits" / f"{split}_X.txt").write_text("".join(f"{i}\n" for i in ids))
    log.info(
        "wrote %d synthetic patches (%s) in %d acquisitions to %s",
        n,
        ", ".join(f"{s} {len(v)}" for s, v in split_ids.items()),
        len(acquisitions),
        out,
    )
    return out
