"""The synthetic scene under construction, shared by the layers that paint it.

:class:`Canvas` holds the reflectance, labels and masks as the generator builds them up, and
mixes a class into pixels (:meth:`Canvas.blend`); :mod:`oceanscan.synth.scene` paints the water,
atmosphere and sensor, :mod:`oceanscan.synth.floating` the floating material.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from oceanscan.sentinel2 import BANDS
from oceanscan.synth.spectra import material_endmember, perturbed_spectra

F32 = npt.NDArray[np.float32]

#: Bands of a scene, in :data:`oceanscan.sentinel2.BANDS` order.
N_BANDS = len(BANDS)
#: Pixel size of the grid scenes are painted on (Sentinel-2's 10 m bands), metres.
GRID_M = 10
#: Resolution at which Sen2Cor decides the scene classification (SCL), metres.
SCL_M = 20
#: MARIDA's label of the pixels no annotator labelled.
UNLABELLED = 0

# MARIDA class ids used below.
DEBRIS, DENSE_SARG, SPARSE_SARG, NOM, SHIP, CLOUD, WATER = 1, 2, 3, 4, 5, 6, 7
SEDIMENT, FOAM, TURBID, SHALLOW, WAVES, SHADOW, WAKE, MIXED = 8, 9, 10, 11, 12, 13, 14, 15

# Spread of spectra, as fractions of the published split normal. MARIDA's percentiles pool the
# pixels of 63 scenes, so one scene or object draws half of that spread; within one object or water
# body, pixels differ far less (the water's texture is carried by smooth fields instead).
OBJECT_SPREAD = 0.5
PIXEL_SPREAD = 0.15


class Canvas:
    """The scene under construction: reflectance, labels and the masks later layers respect."""

    def __init__(self, height: int, width: int, rng: np.random.Generator) -> None:
        self.h, self.w, self.rng = height, width, rng
        self.refl = np.empty((N_BANDS, height, width), dtype=np.float32)
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
        pixel_spread: float = PIXEL_SPREAD,
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
        flat = self.refl.reshape(N_BANDS, -1)
        flat[:, idx] = flat[:, idx] * (1 - a) + spec * a

    def pixel_z(self, base: F32, spread: float = PIXEL_SPREAD) -> F32:
        """Per-pixel spectral deviates around object-level ones."""
        noise = self.rng.standard_normal(base.shape, dtype=np.float32)
        return base + np.float32(spread) * noise


def scaled(count: float, rng: np.random.Generator) -> int:
    """A Poisson count with the given mean (object numbers scale with the scene's area)."""
    return int(rng.poisson(max(count, 0.0)))


def random_points(
    c: Canvas, n: int, *, near: npt.NDArray[np.bool_] | None = None
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
