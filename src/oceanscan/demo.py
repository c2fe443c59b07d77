"""``oceanscan demo``: the whole chain on one machine, on synthetic data, with no network.

Synthetic MARIDA-layout patches -> a small attention U-Net trained through Ray Train on CPU ->
a synthetic STAC catalog of COG scenes served by the embedded STAC API -> a scan on Ray Data into
Zarr -> index, detections, quicklooks, training curves and the precision-recall curve.

Every step writes into one output directory and is skipped when its result is already there, so
a rerun reuses what is done (the scan's own ledger skips complete scenes).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["PRESETS", "DemoPreset", "DemoSummary", "run_demo"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoPreset:
    """Sizes of one demo run.

    Attributes:
        patches: synthetic training patches written (about half go to the train split).
        patch_size_px: side of each patch.
        epochs: training epochs (early stopping may end sooner).
        warmup_epochs: linear warmup before the cosine decay.
        base_width: U-Net base width (64 in the full model; small here for a CPU).
        scenes: synthetic scenes in the catalog.
        scene_size_px: side of each scene's 10 m grid.
        tile_size_px: scan tile core and Zarr chunk side.
        margin_px: context margin read around each tile core.
    """

    patches: int
    patch_size_px: int
    epochs: int
    warmup_epochs: int
    base_width: int
    scenes: int
    scene_size_px: int
    tile_size_px: int
    margin_px: int


#: ``default`` is what a newcomer runs (a few minutes on 2 cores); ``small`` is the CI smoke size.
PRESETS: dict[str, DemoPreset] = {
    "default": DemoPreset(
        patches=600,
        patch_size_px=64,
        epochs=40,
        warmup_epochs=5,
        base_width=8,
        scenes=3,
        scene_size_px=768,
        tile_size_px=256,
        margin_px=32,
    ),
    "small": DemoPreset(
        patches=64,
        patch_size_px=32,
        epochs=3,
        warmup_epochs=1,
        base_width=4,
        scenes=2,
        scene_size_px=192,
        tile_size_px=64,
        margin_px=16,
    ),
}

SEED = 2026

#: Debris fractions (of clear water) of the demo's first scenes: a debris event, then a clean
#: sea. The first, 1e-3, is the top of :data:`oceanscan.synth.catalog.DEBRIS_FRACTION_RANGE`,
#: like the Durban event of 2019-04-24 (see there): enough debris to see in its quicklook and
#: to make the scan's F1 against the truth mean something (997 labelled debris pixels, 0.19 % of
#: the labelled ones, in the default preset's 768 px scene; 44 in the small preset's 192 px one).
#: The clean scene shows what false detections cost on a sea with nothing to find. Further
#: scenes draw theirs as any synthetic catalog does (the default preset's third: 8.85e-4).
DEBRIS_FRACTIONS = (1e-3, 0.0)


@dataclass
class DemoSummary:
    """Where the demo put everything, and what it measured."""

    out: Path
    patches: Path
    bundle: Path
    catalog: Path
    root: Path
    pictures: list[Path] = field(default_factory=list)
    train_metrics: dict[str, Any] = field(default_factory=dict)
    scan: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    detections: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (paths as strings)."""
        return {
            "out": str(self.out),
            "patches": str(self.patches),
            "bundle": str(self.bundle),
            "catalog": str(self.catalog),
            "root": str(self.root),
            "pictures": [str(p) for p in self.pictures],
            "train_metrics": self.train_metrics,
            "scan": self.scan,
            "evaluation": self.evaluation,
            "detections": self.detections,
            "seconds": self.seconds,
        }


def _timed(summary: DemoSummary, name: str, step: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = step()
    summary.seconds[name] = round(time.perf_counter() - start, 1)
    return result


def _make_patches(out: Path, preset: DemoPreset) -> None:
    from oceanscan.synth.patches import write_patches

    if (out / "splits" / "test_X.txt").exists():
        log.info("patches: reusing %s", out)
        return
    log.info("patches: writing %d synthetic patches of %d px", preset.patches, preset.patch_size_px)
    write_patches(out, preset.patches, size=preset.patch_size_px, seed=SEED)


def _train(patches: Path, bundle: Path, runs: Path, preset: DemoPreset) -> dict[str, Any]:
    from oceanscan.model import load_bundle
    from oceanscan.train import run_training
    from oceanscan.train.config import TrainConfig

    if not (bundle / "model.json").exists():
        log.info("train: %d epochs, width %d, 1 Ray Train worker", preset.epochs, preset.base_width)
        cfg = TrainConfig(
            data_root=str(patches),
            out_dir=str(bundle),
            epochs=preset.epochs,
            warmup_epochs=preset.warmup_epochs,
            base_width=preset.base_width,
            batch_size=16,
            num_workers=1,
            storage_path=str(runs),
            run_name="demo",
            seed=SEED,
        )
        run_training(cfg)
    else:
        log.info("train: reusing the model bundle in %s", bundle)
    return dict(load_bundle(bundle).meta.get("metrics", {}))


def _make_catalog(out: Path, preset: DemoPreset) -> Path:
    from oceanscan.synth.catalog import write_catalog

    catalog_json = out / "catalog.json"
    if catalog_json.exists():
        log.info("catalog: reusing %s", catalog_json)
        return catalog_json
    log.info("catalog: writing %d synthetic scenes of %d px", preset.scenes, preset.scene_size_px)
    return write_catalog(
        out,
        scenes=preset.scenes,
        size=preset.scene_size_px,
        seed=SEED,
        debris_fractions=DEBRIS_FRACTIONS[: preset.scenes],
    )


def _catalog_region(catalog_json: Path) -> dict[str, Any]:
    """One region covering every item of the catalog: the union of bboxes and datetimes."""
    import pystac

    items = list(pystac.Catalog.from_file(str(catalog_json)).get_items(recursive=True))
    boxes = np.array([item.bbox for item in items], dtype=float)
    times = [item.datetime for item in items if item.datetime is not None]
    return {
        "name": "demo-seas",
        "bbox": [
            float(boxes[:, 0].min()),
            float(boxes[:, 1].min()),
            float(boxes[:, 2].max()),
            float(boxes[:, 3].max()),
        ],
        "start": (min(times) - timedelta(days=1)).isoformat(),
        "end": (max(times) + timedelta(days=1)).isoformat(),
        "max_cloud_cover": 100.0,
    }


def _scan(catalog_json: Path, bundle: Path, root: Path, preset: DemoPreset) -> dict[str, Any]:
    from oceanscan.scan.config import ScanConfig
    from oceanscan.scan.runner import scan_regions
    from oceanscan.stac_server import serve

    region = _catalog_region(catalog_json)
    with serve(catalog_json) as url:
        log.info("scan: STAC API %s, region %s", url, region["bbox"])
        config = ScanConfig(
            model=str(bundle),
            root=str(root),
            stac_url=url,
            regions=[region],
            tile_size_px=preset.tile_size_px,
            margin_px=preset.margin_px,
            workers=1,
            batch_size=4,
        )
        result = scan_regions(config)
    return {
        "run_id": result.run_id,
        "complete": sorted(result.counts.complete),
        "failed": dict(result.counts.failed),
        "skipped": sorted(result.counts.skipped),
        "tiles": result.tiles,
        "pixels": result.pixels,
        "seconds": round(result.seconds, 1),
    }


def _pictures(summary: DemoSummary) -> list[Path]:
    import xarray as xr

    from oceanscan.model import load_bundle
    from oceanscan.plots import pr_curve_png, quicklook_png, training_curves_png
    from oceanscan.scan.reader import read_window
    from oceanscan.scan.sources import catalog_scenes
    from oceanscan.scene import PixelWindow, SceneSpec
    from oceanscan.sentinel2 import RGB_BANDS, band_index

    pictures_dir = summary.out / "pictures"
    pictures_dir.mkdir(exist_ok=True)
    written: list[Path] = []
    meta = load_bundle(summary.bundle).meta
    metrics = meta.get("metrics", {})
    history = metrics.get("history") or meta.get("history")
    if history:
        written.append(training_curves_png(pictures_dir / "training_curves.png", history))
    curve = metrics.get("pr_curve") or meta.get("pr_curve")
    if curve:
        written.append(pr_curve_png(pictures_dir / "pr_curve.png", curve, meta["threshold"]))

    rgb_idx = [band_index(b) for b in RGB_BANDS]
    for spec in catalog_scenes(summary.catalog):
        if not isinstance(spec, SceneSpec):  # a Rejected item: nothing was scanned
            continue
        ds = xr.open_zarr(
            str(summary.root / "scenes.zarr"), group=f"scenes/{spec.key}", decode_coords="all"
        )
        if ds.attrs.get("status") != "complete":
            continue
        h, w = spec.grid.shape
        chunk = read_window(spec, PixelWindow(0, 0, h, w))
        prob = ds["probability"].values.astype(np.float32)
        outlines = prob >= float(ds.attrs.get("threshold", meta["threshold"]))
        written.append(
            quicklook_png(
                pictures_dir / f"{spec.key}.png",
                rgb=chunk.reflectance[rgb_idx],
                probability=prob,
                mask=ds["mask"].values,
                threshold=float(ds.attrs.get("threshold", meta["threshold"])),
                detections=outlines,
                title=spec.id,
            )
        )
    return written


def run_demo(
    out: str | Path = "oceanscan-demo",
    *,
    preset: Literal["default", "small"] = "default",
) -> DemoSummary:
    """Run the whole chain into ``out``; steps already done there are reused.

    Args:
        out: output directory, created if needed.
        preset: ``"default"`` (a few minutes on 2 cores) or ``"small"`` (the CI smoke size).

    Returns:
        Where every output is, the training metrics, the scan counts and the scan's score
        against the synthetic ground truth.

    Raises:
        ValueError: for an unknown ``preset``.
    """
    if preset not in PRESETS:
        raise ValueError(f"Invalid demo preset {preset!r}; must be one of {tuple(PRESETS)}")
    sizes = PRESETS[preset]
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    summary = DemoSummary(
        out=out,
        patches=out / "patches",
        bundle=out / "model",
        catalog=out / "catalog" / "catalog.json",
        root=out / "scan",
    )
    from oceanscan.evaluate import evaluate_scan
    from oceanscan.scan.runner import init_ray

    init_ray()
    _timed(summary, "patches", lambda: _make_patches(summary.patches, sizes))
    summary.train_metrics = _timed(
        summary, "train", lambda: _train(summary.patches, summary.bundle, out / "runs", sizes)
    )
    summary.catalog = _timed(summary, "catalog", lambda: _make_catalog(out / "catalog", sizes))
    summary.scan = _timed(
        summary, "scan", lambda: _scan(summary.catalog, summary.bundle, summary.root, sizes)
    )
    summary.evaluation = evaluate_scan(str(summary.root), summary.catalog)["total"]
    import geopandas as gpd

    summary.detections = len(gpd.read_parquet(summary.root / "detections.parquet"))
    summary.pictures = _timed(summary, "pictures", lambda: _pictures(summary))
    (out / "summary.json").write_text(json.dumps(summary.to_json(), indent=2, default=str))
    return summary


def format_summary(summary: DemoSummary) -> str:
    """The short text the console script prints."""
    m, e, s = summary.train_metrics, summary.evaluation, summary.scan
    lines = [
        (
            f"oceanscan demo finished in {sum(summary.seconds.values()):.0f} s "
            f"({', '.join(f'{k} {v:.0f} s' for k, v in summary.seconds.items())})"
        ),
        (
            f"  model       {summary.bundle}  val F1 {m.get('val_f1', float('nan')):.3f}  "
            f"threshold {m.get('threshold', float('nan')):.3f}"
        ),
        (
            f"  scan        {summary.root}  {len(s.get('complete', []))} scenes complete, "
            f"{len(s.get('failed', {}))} failed, {len(s.get('skipped', []))} skipped (already "
            f"complete), {s.get('tiles', 0)} tiles"
        ),
        (
            f"  vs truth    precision {e.get('precision', 0):.3f}  recall {e.get('recall', 0):.3f}  "
            f"F1 {e.get('f1', 0):.3f}  IoU {e.get('iou', 0):.3f}"
        ),
        (
            f"              {e.get('false_detections_per_km2', 0):.3g} false detections per km2 "
            "of debris-free water"
        ),
        f"  detections  {summary.detections} in {summary.root / 'detections.parquet'}",
        f"  index       {summary.root / 'index.parquet'}",
        f"  pictures    {summary.out / 'pictures'} ({len(summary.pictures)} PNG)",
        "  open a scene:",
        (
            f"    xarray.open_zarr({str(summary.root / 'scenes.zarr')!r}, "
            "group='scenes/<scene key>', decode_coords='all')"
        ),
        f"  ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC; summary in {summary.out / 'summary.json'})",
    ]
    return "\n".join(lines)
