"""The synthetic part of the real-sea measurement: a fixed synthetic set no recipe trains on."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oceanscan.model import ModelBundle
from oceanscan.realsea.flags import flag_stats, score_images, side_by_side
from oceanscan.sentinel2 import MASK_SCORED, fdi, scl_to_mask

__all__ = ["SYNTH_SEED", "SyntheticSetup", "measure_synthetic"]

#: Seed of the measurement's synthetic set: not one the repository trains on (the README's
#: recipe uses 7, the demo 2026, configs/train.yaml's model seed is 0).
SYNTH_SEED = 424
#: Area of a pixel of the synthetic 10 m grid, square metres.
_PIXEL_AREA_M2 = 100.0


@dataclass(frozen=True)
class SyntheticSetup:
    """The synthetic part of the measurement.

    Attributes:
        seed: seed of the patches and scenes (default :data:`SYNTH_SEED`).
        patches: number of MARIDA-layout patches written (train, val and test splits).
        patch_size_px: patch side, pixels.
        scenes: number of debris-free synthetic scenes for false detections.
        scene_size_px: their side, pixels.
    """

    seed: int = SYNTH_SEED
    patches: int = 200
    patch_size_px: int = 128
    scenes: int = 4
    scene_size_px: int = 256


def measure_synthetic(
    bundle: ModelBundle,
    setup: SyntheticSetup = SyntheticSetup(),
    *,
    workdir: str | Path | None = None,
    batch_size: int = 2,
) -> dict[str, Any]:
    """Synthetic test F1 and false detections per km2 of debris-free synthetic sea.

    Writes ``setup.patches`` patches with :func:`oceanscan.synth.write_patches` (into
    ``workdir``, or a temporary directory removed afterwards), scores the test split with
    :func:`oceanscan.evaluate.evaluate_bundle` (the model at its bundle threshold, FDI at the
    threshold tuned for F1 on the val split), then synthesizes ``setup.scenes`` scenes with no
    debris and no land and counts flags on their scored water (Sen2Cor-like SCL mapped by
    :func:`oceanscan.sentinel2.scl_to_mask`, which masks only clouds, shadows and missing
    data, so ships, foam and Sargassum are in).

    Returns:
        ``setup``, ``fdi_threshold``, ``test`` (``model`` and ``fdi`` F1, precision, recall,
        IoU, threshold and, where :mod:`oceanscan.evaluate` reports it,
        ``false_detections_per_km2`` of the patches' labelled debris-free water) and
        ``debris_free`` (:func:`flag_stats` for ``model`` and ``fdi``).
    """
    from oceanscan.evaluate import evaluate_bundle
    from oceanscan.synth import write_patches

    with tempfile.TemporaryDirectory(prefix="oceanscan-realsea-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        write_patches(root, setup.patches, size=setup.patch_size_px, seed=setup.seed)
        evaluated = evaluate_bundle(root, bundle.path, "test", batch_size=8)
    baseline = evaluated["baseline"]
    fdi_threshold = float(baseline["threshold"])
    # false detections per km2 of the patches' labelled debris-free water, where evaluate gives them
    keys = ("f1", "precision", "recall", "iou", "threshold", "false_detections_per_km2")

    debris_free = _measure_debris_free(bundle, setup, fdi_threshold, batch_size)
    return {
        "setup": asdict(setup),
        "fdi_threshold": fdi_threshold,
        "test": {
            "patches": evaluated["patches"],
            "labelled_pixels": evaluated["labelled_pixels"],
            "model": {k: float(evaluated[k]) for k in keys if k in evaluated},
            "fdi": {k: float(baseline[k]) for k in keys if k in baseline},
        },
        "debris_free": debris_free,
    }


# --- goals -----------------------------------------------------------------------------------


def _measure_debris_free(
    bundle: ModelBundle, setup: SyntheticSetup, fdi_threshold: float, batch_size: int
) -> dict[str, Any]:
    """Flags of the model and of FDI on ``setup.scenes`` synthetic scenes without debris or land."""
    from oceanscan.synth import synthesize_scene

    rng = np.random.default_rng([setup.seed, 5])
    scenes = [
        synthesize_scene(
            setup.scene_size_px,
            setup.scene_size_px,
            seed=int(rng.integers(2**63)),
            debris_fraction=0.0,
            land_fraction=0.0,
        )
        for _ in range(setup.scenes)
    ]
    refl = np.stack([s.reflectance for s in scenes])
    water = np.stack([(scl_to_mask(s.scl) == MASK_SCORED) & ~s.land for s in scenes])
    prob = score_images(bundle, refl, batch_size)
    index = fdi(refl, axis=1)
    debris_free: dict[str, Any] = {
        "scenes": setup.scenes,
        "scene_size_px": setup.scene_size_px,
        "scored_water": "SCL not cloud, shadow or nodata (oceanscan.sentinel2.scl_to_mask), "
        "synthetic land excluded",
        "water_km2": float(water.sum() * _PIXEL_AREA_M2 / 1e6),
    }
    debris_free.update(
        side_by_side(prob, index, bundle.threshold, fdi_threshold, lambda f: flag_stats(f, water))
    )
    return debris_free
