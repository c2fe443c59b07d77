"""A picture of a model on a real scene: true colour, debris probability, flagged outlines.

Used for the README's picture of the Durban 2019-04-24 debris event and by
``benchmarks/real_sea.py --figure``. Pixels outside the scene's water (land, cloud, surf, the
coastal buffer, no data; :mod:`oceanscan.realsea.scenes`) are drawn as not scored, so what the
picture shows is exactly what the measurement counts.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from oceanscan.model import ModelBundle
from oceanscan.plots import quicklook_png
from oceanscan.realsea.scenes import RealScene
from oceanscan.sentinel2 import MASK_LAND, MASK_NODATA, MASK_SCORED, band_index

__all__ = ["scene_quicklook"]


def scene_quicklook(
    bundle: ModelBundle, scene: RealScene, path_out: str | os.PathLike[str]
) -> Path:
    """Score ``scene`` with ``bundle`` and draw its quicklook to ``path_out`` (a ``.png``).

    Returns:
        The written path.
    """
    reflectance = scene.reflectance
    probability = bundle.predict_proba(reflectance[None])[0]
    nodata = np.isnan(reflectance).any(axis=0)
    mask = np.where(scene.water, MASK_SCORED, MASK_LAND).astype(np.uint8)
    mask[nodata] = MASK_NODATA
    probability = np.where(scene.water, probability, np.nan).astype(np.float32)
    rgb = reflectance[[band_index("B04"), band_index("B03"), band_index("B02")]]
    flagged = scene.water & (probability >= bundle.threshold)
    return quicklook_png(
        path_out,
        rgb=rgb,
        probability=probability,
        mask=mask,
        threshold=bundle.threshold,
        detections=flagged,
        title=f"{scene.name}: {bundle.model_id} (contains modified Copernicus Sentinel data)",
        pixel_size_m=float(abs(scene.transform.a)),
    )
