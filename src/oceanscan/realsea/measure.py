"""The real-sea measurement: how a model bundle does on real Sentinel-2 sea, next to FDI.

One call, :func:`measure_real_sea`, scores a bundle on

* **Durban 2019-04-24**: recall of the hand-traced debris filaments
  (:mod:`oceanscan.realsea.filaments`; a traced pixel is found when a flag lies within 1 px of
  it, and pixel by pixel beside that) and the flagged fraction of the other water (water minus
  the traced pixels dilated by 2 px, 8-neighbourhood), and, threshold-free, the recall at
  the thresholds that flag 0.05 % (the goal) and 0.1 % of that other water, which ranks two
  recipes, or a model and FDI, whatever thresholds they ship with;
* **Manila open sea, Manila port, Mariveles** (no debris known): the flagged fraction of the
  water pixels and detections per km2 (8-connected components of flagged water pixels divided by
  the water area), as they are and seen through other atmospheres (haze, a haze front, thin
  cirrus, gain, noise: :mod:`oceanscan.realsea.atmospheres`);
* **Duarte and Azevedo 2023 held-out pixels** (``split == "test"``): each pixel implanted as a
  3 x 3 blob into real clear water of Manila open sea and of Mariveles
  (:mod:`oceanscan.realsea.implant`); ROC AUC of plastic against each look-alike and against
  water, and the fraction of each class flagged;
* **synthetic data** of :mod:`oceanscan.synth`, generated here with a fixed seed that no
  training recipe of the repository uses: F1 on the test split (:func:`oceanscan.evaluate.
  evaluate_bundle`) and false detections per km2 of debris-free synthetic sea.

Every figure is given for the model (probability from ``bundle.predict_proba`` on the whole
image, with the test-time augmentation the bundle records, flagged at ``bundle.threshold``) and for the FDI baseline (Biermann et al. 2020,
Sci. Rep. 10:5364; :func:`oceanscan.sentinel2.fdi`), flagged at one threshold tuned for F1 on the
val split of the same synthetic set, as :mod:`oceanscan.evaluate` does. ROC AUCs use FDI itself
and need no threshold. The inputs are never normalized here: the bundle does that.

The result is a plain JSON-serialisable dict (NaN written as None) with a ``goals`` section.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from oceanscan.model import ModelBundle
from oceanscan.realsea.atmospheres import measure_atmospheres
from oceanscan.realsea.duarte import load_duarte_pixels
from oceanscan.realsea.filaments import (
    DURBAN_FILAMENTS,
    TRACE_MATCH_PX,
    load_filaments,
    rasterize_filaments,
    trace_precision,
)
from oceanscan.realsea.flags import (
    flag_stats,
    flags_on_water,
    recall_at_flag_rate,
    side_by_side,
    within,
)
from oceanscan.realsea.goals import evaluate_goals, json_clean
from oceanscan.realsea.lookalikes import DUARTE_BACKGROUNDS, measure_duarte
from oceanscan.realsea.scenes import RealScene, load_scene
from oceanscan.realsea.synthetic import SYNTH_SEED, SyntheticSetup, measure_synthetic
from oceanscan.sentinel2 import BANDS, fdi

__all__ = [
    "DUARTE_BACKGROUNDS",
    "FALSE_ALARM_SCENES",
    "SYNTH_SEED",
    "SyntheticSetup",
    "evaluate_goals",
    "flag_stats",
    "measure_duarte",
    "measure_durban",
    "measure_false_alarms",
    "measure_real_sea",
    "measure_synthetic",
]

#: Scenes without known debris, where every flag is a false alarm.
FALSE_ALARM_SCENES: tuple[str, ...] = ("manila_open_sea", "manila_port", "mariveles")
#: Dilation of the traced filaments (pixels, 8-neighbourhood) left out of Durban's "other water".
_TRACE_DILATION_PX = 2
#: Distance from the trace (pixels) within which Durban's other water counts as the filament
#: field: most flags there are faint filaments and links that were not traced (docs/model.md).
_FILAMENT_FIELD_PX = 30
#: Flagged fractions of Durban's other water at which the recall of the trace is also reported.
_RANKING_RATES = (0.0005, 0.001)


def measure_durban(
    bundle: ModelBundle,
    scene: RealScene,
    traced: npt.NDArray[np.bool_],
    fdi_threshold: float,
) -> dict[str, Any]:
    """Recall of the traced filaments and flags on the rest of Durban's water.

    Args:
        bundle: the model bundle.
        scene: Durban, from :func:`oceanscan.realsea.load_scene`.
        traced: bool ``(H, W)``, the rasterised trace
            (:func:`oceanscan.realsea.filaments.rasterize_filaments`).
        fdi_threshold: the FDI baseline's threshold.

    Returns:
        Pixel counts and, for ``model`` and ``fdi``: ``matched_recall``, the share of the
        traced pixels with a flag within
        :data:`~oceanscan.realsea.filaments.TRACE_MATCH_PX` (the goal's figure), ``recall``,
        the share flagged themselves, and ``other_water`` (:func:`flag_stats` on water minus the
        trace dilated by 2 px, with ``flagged_in_filament_field``: those of its flagged pixels
        within 30 px of the trace); ``matched_recall_at_other_water_flagged`` and
        ``recall_at_other_water_flagged``: for ``model`` and ``fdi``, the two recalls at the
        thresholds that flag each rate of :data:`_RANKING_RATES` of the other water
        (:func:`~oceanscan.realsea.flags.recall_at_flag_rate`).
    """
    traced = np.asarray(traced, dtype=bool) & np.isfinite(scene.reflectance).all(axis=0)
    other = scene.water & ~within(traced, _TRACE_DILATION_PX)
    field = ndimage.distance_transform_edt(~traced) <= _FILAMENT_FIELD_PX
    prob = bundle.predict_proba(scene.reflectance[None])[0]
    index = fdi(scene.reflectance)
    n_traced = int(traced.sum())

    def stat(flagged: npt.NDArray[np.bool_]) -> dict[str, Any]:
        hits = int((flagged & traced).sum())
        found = int((within(flagged, TRACE_MATCH_PX) & traced).sum())
        return {
            "matched_recall": found / n_traced if n_traced else math.nan,
            "traced_pixels_found": found,
            "recall": hits / n_traced if n_traced else math.nan,
            "traced_pixels_flagged": hits,
            "other_water": {
                **flag_stats(flagged, other, scene.pixel_area_m2),
                "flagged_in_filament_field": int((flagged & other & field).sum()),
            },
        }

    def ranking(match_px: int) -> dict[str, dict[str, float]]:
        return {
            name: {
                f"{rate:g}": recall_at_flag_rate(score, traced, other, rate, match_px=match_px)
                for rate in _RANKING_RATES
            }
            for name, score in (("model", prob), ("fdi", index))
        }

    return {
        "water_rule": scene.water_rule,
        "water_pixels": int(scene.water.sum()),
        "traced_pixels": n_traced,
        "traced_pixels_on_water": int((traced & scene.water).sum()),
        "other_water_pixels": int(other.sum()),
        "other_water": f"water minus the traced pixels dilated by {_TRACE_DILATION_PX} px "
        "(8-neighbourhood)",
        "filament_field": f"within {_FILAMENT_FIELD_PX} px of a traced pixel",
        "matched_recall": f"share of the traced pixels with a flag within {TRACE_MATCH_PX} px "
        "(8-neighbourhood); recall: share of the traced pixels flagged themselves",
        **side_by_side(prob, index, bundle.threshold, fdi_threshold, stat),
        "matched_recall_at_other_water_flagged": ranking(TRACE_MATCH_PX),
        "recall_at_other_water_flagged": ranking(0),
    }


def measure_false_alarms(
    bundle: ModelBundle, scene: RealScene, fdi_threshold: float
) -> dict[str, Any]:
    """Flagged fraction and detections per km2 on the water of a scene without known debris."""
    return {
        "water_rule": scene.water_rule,
        "water_pixels": int(scene.water.sum()),
        "water_km2": float(scene.water.sum() * scene.pixel_area_m2 / 1e6),
        **flags_on_water(
            bundle, scene.reflectance, scene.water, scene.pixel_area_m2, fdi_threshold
        ),
    }


def measure_real_sea(
    bundle: ModelBundle,
    real_dir: str | Path,
    *,
    synthetic: SyntheticSetup | None = None,
    filaments: str | Path = DURBAN_FILAMENTS,
    batch_size: int = 2,
    false_alarm_scenes: Sequence[str] = FALSE_ALARM_SCENES,
) -> dict[str, Any]:
    """Measure a model bundle on real sea, next to the FDI baseline, and judge the goals.

    Args:
        bundle: from :func:`oceanscan.model.load_bundle`.
        real_dir: directory of the real data, ``../shared/real`` from the repository root.
        synthetic: the synthetic set (seed, sizes); defaults to :class:`SyntheticSetup`.
        filaments: the Durban trace, defaults to the one shipped with oceanscan.
        batch_size: images per forward pass for stacked images (default 2).
        false_alarm_scenes: scenes without known debris to count false alarms on.

    Returns:
        A JSON-serialisable dict: ``bundle``, ``fdi_baseline``, ``durban``, ``false_alarms``,
        ``other_atmospheres`` (the false-alarm scenes through
        :data:`~oceanscan.realsea.atmospheres.ATMOSPHERES`), ``duarte``, ``synthetic``,
        ``goals``, ``all_goals_met`` and ``seconds`` per part.

    Raises:
        FileNotFoundError: naming a missing data file.
    """
    synthetic = synthetic if synthetic is not None else SyntheticSetup()
    real_dir = Path(real_dir)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    synth = measure_synthetic(bundle, synthetic, batch_size=batch_size)
    fdi_threshold = synth["fdi_threshold"]
    seconds["synthetic"] = time.perf_counter() - start

    start = time.perf_counter()
    durban = _measure_durban_file(bundle, real_dir, filaments, fdi_threshold)
    seconds["durban"] = time.perf_counter() - start
    false_alarms, atmospheres, duarte = _measure_real_scenes(
        bundle, real_dir, false_alarm_scenes, fdi_threshold, batch_size, seconds
    )

    result: dict[str, Any] = {
        "bundle": _bundle_record(bundle),
        "fdi_baseline": _fdi_record(fdi_threshold, synthetic),
        "durban": durban,
        "false_alarms": false_alarms,
        "other_atmospheres": atmospheres,
        "duarte": duarte,
        "synthetic": synth,
    }
    result["goals"] = evaluate_goals(result)
    result["all_goals_met"] = all(g["met"] for g in result["goals"].values())
    result["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    return json_clean(result)  # type: ignore[no-any-return]


def _measure_durban_file(
    bundle: ModelBundle, real_dir: Path, filaments: str | Path, fdi_threshold: float
) -> dict[str, Any]:
    """:func:`measure_durban` on the Durban file of ``real_dir`` and the trace ``filaments``."""
    durban = load_scene("durban", real_dir)
    trace = load_filaments(filaments)
    traced = rasterize_filaments(
        trace, shape=durban.shape, transform=durban.transform, crs=durban.crs
    )
    result = measure_durban(bundle, durban, traced, fdi_threshold)
    nir = durban.reflectance[BANDS.index("B08")]
    result["trace"] = {
        "file": Path(filaments).name,
        "lines": len(trace.lines),
        "precision": trace_precision(trace, nir, transform=durban.transform, crs=durban.crs),
    }
    return result


def _measure_real_scenes(
    bundle: ModelBundle,
    real_dir: Path,
    false_alarm_scenes: Sequence[str],
    fdi_threshold: float,
    batch_size: int,
    seconds: dict[str, float],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """False alarms on the scenes without debris, then through other atmospheres, then Duarte's.

    Duarte's pixels are implanted in the same scenes. Each scene is read once; ``seconds`` gets
    the time of each part.
    """
    start = time.perf_counter()
    scenes = {name: load_scene(name, real_dir) for name in false_alarm_scenes}
    false_alarms = {
        name: measure_false_alarms(bundle, s, fdi_threshold) for name, s in scenes.items()
    }
    seconds["false_alarms"] = time.perf_counter() - start

    start = time.perf_counter()
    atmospheres = measure_atmospheres(bundle, scenes, fdi_threshold)
    seconds["other_atmospheres"] = time.perf_counter() - start

    start = time.perf_counter()
    backgrounds = {
        name: scenes[name] if name in scenes else load_scene(name, real_dir)
        for name in DUARTE_BACKGROUNDS
    }
    pixels = load_duarte_pixels(real_dir / "duarte2023_train_pixels.csv")
    duarte = measure_duarte(bundle, pixels, backgrounds, fdi_threshold, batch_size=batch_size)
    seconds["duarte"] = time.perf_counter() - start
    return false_alarms, atmospheres, duarte


def _bundle_record(bundle: ModelBundle) -> dict[str, Any]:
    """What identifies the bundle measured, and how it was run."""
    return {
        "path": str(bundle.path),
        "model_id": bundle.model_id,
        "sha256": bundle.sha256,
        "threshold": bundle.threshold,
        "tta": bundle.tta,
        "spectral_check": bundle.spectral_check is not None,
        "class_mapping": bundle.class_mapping,
    }


def _fdi_record(fdi_threshold: float, synthetic: SyntheticSetup) -> dict[str, Any]:
    """The FDI baseline, and where its threshold comes from."""
    return {
        "index": "FDI, Biermann et al. 2020 eq. 1 (oceanscan.sentinel2.fdi, 'biermann')",
        "threshold": fdi_threshold,
        "flagged": "FDI >= threshold",
        "tuned_on": (
            f"F1-best threshold on the val split of this run's synthetic set "
            f"(seed {synthetic.seed}, {synthetic.patches} patches of "
            f"{synthetic.patch_size_px} px), as oceanscan.evaluate does; the Duarte ROC "
            "AUCs use FDI itself, threshold-free"
        ),
    }
