"""Plastic against its look-alikes: Duarte and Azevedo's held-out pixels implanted into real water."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from oceanscan.model import ModelBundle
from oceanscan.realsea.duarte import CLASS_NAMES, LOOKALIKES, PLASTIC, WATER, DuartePixels
from oceanscan.realsea.flags import score_images
from oceanscan.realsea.implant import BLOB_SIZE, BLOB_SPACING, blob_slots, implant_blobs
from oceanscan.realsea.scenes import RealScene
from oceanscan.sentinel2 import SCL, fdi

__all__ = ["DUARTE_BACKGROUNDS", "measure_duarte"]

#: Real clear water into which Duarte's pixels are implanted.
DUARTE_BACKGROUNDS: tuple[str, ...] = ("manila_open_sea", "mariveles")
#: Blob centres keep this far (pixels) from anything but clear water and from the image border.
_IMPLANT_MARGIN_PX = 16.0

_DUARTE_SCORING = (
    f"each held-out pixel (split == 'test') is implanted as a {BLOB_SIZE}x{BLOB_SIZE} blob (all "
    f"{BLOB_SIZE * BLOB_SIZE} pixels set to its spectrum) into real clear water, blob centres on a "
    f"grid {BLOB_SPACING} px apart and more than {_IMPLANT_MARGIN_PX:g} px from any cloud, "
    "shadow, ship, land or image border; the whole image is scored in one forward pass; a blob's "
    "model score is the probability at its centre pixel, its FDI score the FDI at its centre "
    "pixel (the implanted spectrum's FDI); flagged = score >= threshold. Every pixel is implanted "
    "once into each background; pooled figures treat each (pixel, background) pair as one sample."
)
_DUARTE_NOTE = (
    "Duarte's pixels are ACOLITE surface reflectance and the backgrounds are Sen2Cor L2A; the "
    "look-alikes split by pixel come from a single scene, so their held-out pixels share that "
    "scene's atmosphere with training pixels and their figures are optimistic for new scenes."
)


def _clear_water(scene: RealScene) -> npt.NDArray[np.bool_]:
    """Water without ships and other enclosed blobs: raw SCL water where the scene has an SCL."""
    if scene.scl is None:
        return scene.water
    return (scene.scl == int(SCL.WATER)) & np.isfinite(scene.reflectance).all(axis=0)


def _auc(positive: npt.NDArray[np.floating], negative: npt.NDArray[np.floating]) -> float:
    from sklearn.metrics import roc_auc_score  # scikit-learn loads in seconds: only when scoring

    if positive.size == 0 or negative.size == 0:
        return math.nan
    y = np.r_[np.ones(positive.size), np.zeros(negative.size)]
    return float(roc_auc_score(y, np.r_[positive, negative]))


def _class_figures(
    scores: npt.NDArray[np.floating], labels: npt.NDArray[np.integer], threshold: float
) -> dict[str, dict[str, float]]:
    plastic = scores[labels == PLASTIC]
    others = (*LOOKALIKES, WATER)
    return {
        "auc_plastic_vs": {CLASS_NAMES[c]: _auc(plastic, scores[labels == c]) for c in others},
        "flagged_fraction": {
            CLASS_NAMES[c]: float((scores[labels == c] >= threshold).mean())
            if (labels == c).any()
            else math.nan
            for c in (PLASTIC, *others)
        },
    }


def _split_by(pixels: DuartePixels) -> dict[str, str]:
    """How each class was split: by scene, or by pixel when it comes from a single scene."""
    out = {}
    for label, name in CLASS_NAMES.items():
        keep = pixels.label == label
        scenes = set(zip(pixels.location[keep], pixels.date[keep], strict=True))
        out[name] = "pixel" if len(scenes) == 1 else "scene"
    return out


def measure_duarte(
    bundle: ModelBundle,
    pixels: DuartePixels,
    backgrounds: Mapping[str, RealScene],
    fdi_threshold: float,
    *,
    batch_size: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """Plastic against its look-alikes: Duarte's held-out pixels implanted into real water.

    Args:
        bundle: the model bundle.
        pixels: all of Duarte's pixels (:func:`oceanscan.realsea.load_duarte_pixels`); only
            ``split == "test"`` is scored.
        backgrounds: scenes whose clear water receives the blobs, by name.
        fdi_threshold: the FDI baseline's threshold (AUCs need none).
        batch_size: images per forward pass (default 2).
        seed: order in which blob slots are handed out (default 0).

    Returns:
        Pooled ``model`` and ``fdi`` figures (``auc_plastic_vs`` per class and
        ``flagged_fraction`` per class), the same ``per_background``, pixel counts, how each
        class was split, and the exact scoring rule.
    """
    test = pixels.select(split="test")
    labels_all, model_all, fdi_all = [], [], []
    per_background: dict[str, Any] = {}
    for name, scene in backgrounds.items():
        slots = blob_slots(_clear_water(scene), margin_px=_IMPLANT_MARGIN_PX, seed=seed)
        images, where = implant_blobs(scene.reflectance, test.reflectance, slots)
        prob = score_images(bundle, images, batch_size)
        model_scores = prob[where[:, 0], where[:, 1], where[:, 2]]
        index = fdi(images[where[:, 0], :, where[:, 1], where[:, 2]], axis=1)
        per_background[name] = {
            "slots": len(slots),
            "images": len(images),
            "model": _class_figures(model_scores, test.label, bundle.threshold),
            "fdi": _class_figures(index, test.label, fdi_threshold),
        }
        labels_all.append(test.label)
        model_all.append(model_scores)
        fdi_all.append(index)
    labels = np.concatenate(labels_all)
    split_by = _split_by(pixels)
    return {
        "scoring": _DUARTE_SCORING,
        "backgrounds": list(backgrounds),
        "test_pixels": {CLASS_NAMES[c]: int((test.label == c).sum()) for c in CLASS_NAMES},
        "split_by": split_by,
        "lookalikes_split_by_pixel": [
            CLASS_NAMES[c] for c in LOOKALIKES if split_by[CLASS_NAMES[c]] == "pixel"
        ],
        "note": _DUARTE_NOTE,
        "model": _class_figures(np.concatenate(model_all), labels, bundle.threshold),
        "fdi": _class_figures(np.concatenate(fdi_all), labels, fdi_threshold),
        "per_background": per_background,
    }
