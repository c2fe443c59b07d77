"""oceanscan against marinedebrisdetector: one scene, one network, end to end and model only.

marinedebrisdetector (Russwurm et al. 2023, ISPRS J. 197:29-47; PyPI ``marinedebrisdetector``)
is what a user would run instead of ``oceanscan scan`` on a scene they hold. Both sides get, in
one run:

* the same scene: a synthetic Sentinel-2 L2A scene (:func:`oceanscan.synth.synthesize_scene`,
  placed in the open Bay of Bengal, so the coastline land mask leaves every pixel to score),
  a full Sentinel-2 tile of 10980 px by default (``--size``; a mosaic of mirrored copies of one
  synthesized 2745 px scene, see :func:`write_scene`), written to a temporary directory as one
  tiled uint16 GeoTIFF of 12 bands in marinedebrisdetector's L2A order (B1..B8A, B9, B11, B12;
  DN = reflectance x 1e4, never 0). The generator models no B9, so
  B9 repeats B8A: both sides read it, neither network uses it;
* the same network: the width-8 bundle shipped with oceanscan. marinedebrisdetector feeds its
  model ``(N, 12, H, W)`` DN x 1e-4 and applies a sigmoid to one logit per pixel;
  :class:`BundleAsMdd` drops B9, maps reflectance 0 (marinedebrisdetector's zero padding; DN 0 is
  nodata to oceanscan) to NaN, makes the bundle's input (:func:`oceanscan.data.inputs.model_input`)
  and returns the difference of the two class logits, whose sigmoid is exactly the softmax
  probability oceanscan writes. No test-time augmentation on either side (marinedebrisdetector's
  ``ScenePredictor.predict`` has none; oceanscan's scan runs with ``--tta none``, where the shipped
  bundle would otherwise average two views), and no spectral check (oceanscan scans a copy of
  its bundle without one, :func:`network_only_bundle`; marinedebrisdetector has none);
* ``marinedebrisdetector``: its own ``ScenePredictor`` (version 0.0.2, defaults: 480 px tiles read
  with 64 px of context, zero-padded to 608 px, one tile a forward, overlaps blended into a uint8
  GeoTIFF) on all cores (``torch.set_num_threads(os.cpu_count())``). Its package imports its
  training stack (pytorch-lightning, wandb, torchvision) on import, so ``predictor.py`` is loaded
  alone (:func:`load_scene_predictor`), installed with ``pip install --no-deps`` (scripts/setup);
* ``oceanscan``: what ``oceanscan scan --input SCENE.tif --bands ... --tta none`` runs (bundle
  check, the network's conversion started, ``init_ray``, ``scan_inputs``), in a fresh process
  with its configuration as shipped (512 px tiles + 32 px margins, batches of 4, one predictor
  actor per core on one thread each, the
  network compiled by OpenVINO where it is installed, in bf16 where the CPU has bf16
  instructions), into a new Zarr store. The bundle's
  converted network is first removed from oceanscan's cache (:func:`forget_converted_network`),
  so the scan pays for converting it, as a machine's first scan does.
  Its fixed start-up cost is timed apart: ``with_ray_start`` counts everything;
  ``after_ray_start`` starts the clock once ``ray.init`` returns (store and scene set-up, the
  coastline land mask, the predictor actor's start and the first reads still in);
  ``after_startup`` starts it when a predictor actor begins its first batch (``startup_s``
  is what came before, Ray's start included) and stops it when the scan returns. The CPU
  seconds of the process tree are sampled from ``/proc`` by process title (Ray's titles name
  the actor or task a worker runs), which also gives the predictor's busy seconds and the most
  cores it used at once (``predictor_peak_cores``);
* ``model_only``: forward passes alone on tiles of each side's own shape taken from the scene
  (marinedebrisdetector: 608 px, one at a time, 480 px kept; oceanscan: 576 px in batches of 4,
  512 px kept, on the runtime and in the precision its scan uses), on all cores for both, and on one thread for both
  (the one thread each of oceanscan's actors takes); ``--repeats`` interleaved rounds, the best
  kept;
* ``agreement``: on one tile, the wrapped network against ``ModelBundle.predict_proba`` (the
  same weights; oceanscan runs them with BatchNorm folded, which moves probabilities by ~1e-6);
  over the scene, the two written probability maps (they differ where
  the tilings differ: zero padding vs reflection, context on two sides vs four, and the
  network's global self-attention sees a different window);
* ``oceanscan_float32``: where the CPU has bf16 instructions (AVX512-BF16, AMX), on which the
  shipped scan runs the network in bf16, the same scan again with ``--no-cpu-bf16``
  (:func:`float32_report`): its rates against marinedebrisdetector's and how many pixels bf16
  moved, in probability steps and across the threshold (``--no-float32`` skips it).

Pixel rates are scene pixels over wall seconds; one-time Python imports are not counted. One JSON
object goes to stdout (and ``--out``). Shared machines are noisy: compare ratios from one run.

    python benchmarks/vs_marinedebrisdetector.py --out vs_marinedebrisdetector.json

A full tile is the unit a scan covers, and it is what the comparison is about: both tools have a
fixed cost per run (oceanscan's is Ray's start and its workers'), which a small scene is mostly
made of (``--size 1920`` measures that case).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from _mdd import MDD_BANDS, bundle_as_mdd, load_scene_predictor
from _process_cpu import CpuSampler

#: Bay of Bengal in :data:`oceanscan.synth.sites.SEA_SITES`: open sea, no coastline land.
_SITE = 2
_PREDICTOR = "Predictor"  # oceanscan.scan.predictor's class: the actor's process title names it
_OCEANSCAN_BATCH = 4  # ScanConfig.batch_size's default, the predictor actor's batch
_MODEL_ONLY_PX = 2048  # the scene corner the model-only tiles are cut from


def write_scene(path: Path, size: int, seed: int, block: int) -> Path:
    """The test scene as marinedebrisdetector and ``oceanscan scan --input`` both read it.

    A mosaic of mirrored copies of one synthesized ``block`` px scene, so that seams continue
    the water across them: generating a full 10980 px tile at once would take about 8 minutes
    and 15 GB, and neither side's speed depends on which water it sees.
    """
    import rasterio
    from rasterio.windows import Window

    from oceanscan.sentinel2 import BANDS
    from oceanscan.synth import synthesize_scene
    from oceanscan.synth.sites import SEA_SITES, place

    block = min(size, block)
    refl = synthesize_scene(block, block, seed=seed).reflectance
    by_name = dict(zip(BANDS, refl, strict=True)) | {"B09": refl[BANDS.index("B8A")]}
    dn = np.clip(np.rint(np.stack([by_name[b] for b in MDD_BANDS]) * 1e4), 1, 65535)
    dn = dn.astype(np.uint16)
    placement = place(SEA_SITES[_SITE], size)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": len(MDD_BANDS),
        "dtype": "uint16",
        "crs": f"EPSG:{placement.epsg}",
        "transform": placement.transform10,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "BIGTIFF": "IF_SAFER",
    }
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, block):
            for col in range(0, size, block):
                tile = dn[:, ::-1] if (row // block) % 2 else dn
                tile = tile[:, :, ::-1] if (col // block) % 2 else tile
                h, w = min(block, size - row), min(block, size - col)
                dst.write(np.ascontiguousarray(tile[:, :h, :w]), window=Window(col, row, w, h))
    return path


def run_mdd(args: argparse.Namespace, scene: Path, out: Path) -> dict[str, Any]:
    """marinedebrisdetector's ``ScenePredictor.predict`` on the scene, the shipped network inside."""
    import torch

    from oceanscan.model import default_bundle_dir, load_bundle

    torch.set_num_threads(os.cpu_count() or 1)
    network = bundle_as_mdd(load_bundle(default_bundle_dir()))
    predictor = load_scene_predictor()(
        image_size=(args.image_size, args.image_size), offset=args.offset, device="cpu"
    )
    start = time.perf_counter()
    predictor.predict(network, str(scene), str(out))
    seconds = time.perf_counter() - start
    return {
        "image_size": args.image_size,
        "offset": args.offset,
        "torch_threads": torch.get_num_threads(),
        "seconds": seconds,
        "pixels_per_s": args.size**2 / seconds,
    }


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: what ``oceanscan scan --input SCENE --bands ...`` does, timed by part.

    Each part's wall seconds, and the CPU seconds this (the driver's) process spent in it.
    """
    marks = [(time.perf_counter(), time.process_time())]
    import ray

    from oceanscan.model import load_bundle
    from oceanscan.scan import ScanConfig, scan_inputs
    from oceanscan.scan.execute import predictor_actors
    from oceanscan.scan.predictor import convert_ahead, cpu_has_bf16, resolve_runtime
    from oceanscan.scan.runner import init_ray
    from oceanscan.scan.sources import input_scenes

    marks.append((time.perf_counter(), time.process_time()))
    config = ScanConfig(
        input=[args.scene],
        bands=list(MDD_BANDS),
        root=args.root,
        model=args.model,  # the network alone (network_only_bundle), as marinedebrisdetector runs it
        tta="none",
        cpu_bf16=not args.float32,
        progress_bars=False,
    )
    bundle, scenes = load_bundle(config.model), input_scenes(config)
    marks.append((time.perf_counter(), time.process_time()))
    convert_ahead(bundle, device=config.device, cpu_runtime=config.cpu_runtime)  # as the CLI
    init_ray()
    marks.append((time.perf_counter(), time.process_time()))
    actors = predictor_actors(config, gpu=False)
    scan_started_at = time.time()
    result = scan_inputs(config, bundle=bundle, scenes=scenes)
    scan_ended_at = time.time()
    marks.append((time.perf_counter(), time.process_time()))
    ray.shutdown()
    parts = ("imports", "inputs_checked", "ray_start", "scan")
    return {
        **{f"{p}_s": b[0] - a[0] for p, a, b in zip(parts, marks[:-1], marks[1:], strict=True)},
        "driver_cpu_s": {
            p: b[1] - a[1] for p, a, b in zip(parts, marks[:-1], marks[1:], strict=True)
        },
        "scan_inputs_s": result.seconds,  # from its store setup on, as ScanResult counts it
        "first_tile_s": result.first_tile_s,
        "scan_started_at": scan_started_at,
        "scan_ended_at": scan_ended_at,
        "tiles": result.tiles,
        "complete": len(result.counts.complete),
        "tile_size": config.tile_size_px,
        "margin": config.margin_px,
        "batch_size": config.batch_size,
        "predictor_cpus": config.predictor_cpus,
        "predictor_actors": actors,
        # What the actors run the network with (their node is this machine).
        "cpu_runtime": resolve_runtime(config.cpu_runtime, "cpu"),
        "cpu_bf16": config.cpu_bf16 and cpu_has_bf16(),
    }


def forget_converted_network() -> list[str]:
    """Remove the shipped bundle's OpenVINO conversion from oceanscan's cache; the names removed.

    Only that bundle's entries go; the rest of the cache (the coastline index) stays, as it
    stays on a machine that has scanned before.
    """
    from oceanscan.cache import cache_dir
    from oceanscan.model import default_bundle_dir, load_bundle

    key = load_bundle(default_bundle_dir()).sha256[:16]
    removed = []
    for path in (cache_dir() / "openvino").glob(f"{key}-*"):
        path.unlink()
        removed.append(path.name)
    return removed


def network_only_bundle(out: Path) -> Path:
    """A copy of the shipped bundle without its spectral check: the network alone.

    marinedebrisdetector has no counterpart of the check, so both sides run just their network.
    """
    from oceanscan.model import default_bundle_dir

    shutil.copytree(default_bundle_dir(), out)
    meta = json.loads((out / "model.json").read_text())
    meta.pop("spectral_check", None)
    (out / "model.json").write_text(json.dumps(meta, indent=2))
    return out


def run_oceanscan(
    args: argparse.Namespace, scene: Path, root: Path, bundle: Path, *, float32: bool = False
) -> dict[str, Any]:
    """oceanscan's scan of the scene in a child process, its process tree sampled meanwhile."""
    cmd = [sys.executable, __file__, "--child", "--scene", str(scene), "--root", str(root)]
    cmd += ["--model", str(bundle)]
    cmd += ["--float32"] if float32 else []
    forget_converted_network()  # the scan converts the network, as a first scan does
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = CpuSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"oceanscan's scan failed ({proc.returncode}):\n{err[-3000:]}")
    run = json.loads(out.strip().splitlines()[-1])
    if run["complete"] != 1:
        raise SystemExit(f"oceanscan did not complete the scene: {run}")
    pixels = args.size**2
    with_ray = run["ray_start_s"] + run["scan_s"]
    busy = f"ray::MapWorker(MapBatches({_PREDICTOR})).submit"  # scoring a batch
    started_at, ended_at = run.pop("scan_started_at"), run.pop("scan_ended_at")
    first_batch_at = sampler.first_at.get(busy, started_at)
    after_startup = ended_at - first_batch_at
    return {
        **run,
        "process_wall_s": wall,
        "seconds_with_ray_start": with_ray,
        "pixels_per_s_with_ray_start": pixels / with_ray,
        "pixels_per_s_after_ray_start": pixels / run["scan_s"],
        "startup_s": run["ray_start_s"] + first_batch_at - started_at,
        "seconds_after_startup": after_startup,
        "pixels_per_s_after_startup": pixels / after_startup,
        "predictor_busy_s": sampler.samples[busy] * sampler.interval_s,
        "predictor_peak_cores": round(sampler.predictor_peak_cores, 2),
        "cpu_s_by_process": sampler.by_process(),
    }


def _tiles(scene: np.ndarray, window: int, core: int, count: int) -> np.ndarray:
    """Up to ``count`` windows of ``window`` px at a stride of ``core`` px, as a scan cuts them."""
    size = scene.shape[-1]
    per_side = -(-size // core)
    pad = per_side * core + window - core - size
    padded = np.pad(scene, ((0, 0), (0, pad), (0, pad)), mode="reflect")
    corners = [(r * core, c * core) for r in range(per_side) for c in range(per_side)][:count]
    return np.stack([padded[:, r : r + window, c : c + window] for r, c in corners])


def _rate(forward: Any, batches: list[np.ndarray], core: int, window: int) -> dict[str, Any]:
    import torch

    forward(batches[0])  # warm-up
    start = time.perf_counter()
    for batch in batches:
        forward(batch)
    seconds = time.perf_counter() - start
    tiles = sum(len(b) for b in batches)
    return {
        "tiles": tiles,
        "tile_px": window,
        "core_px": core,
        "torch_threads": torch.get_num_threads(),
        "seconds": seconds,
        "core_pixels_per_s": tiles * core**2 / seconds,
        "input_pixels_per_s": tiles * window**2 / seconds,
    }


def model_only(args: argparse.Namespace, scene: np.ndarray, tile: int, margin: int) -> dict:
    """Forward passes alone, each side's tiles and batches; and the wrapper checked on one tile."""
    import torch

    from oceanscan.model import default_bundle_dir, load_bundle
    from oceanscan.scan.predictor import cpu_has_bf16, resolve_runtime

    # The network alone on both sides: the bundle's spectral check, which marinedebrisdetector
    # has no counterpart of, is left out here (the scans above run it).
    bundle = dataclasses.replace(load_bundle(default_bundle_dir()), spectral_check=None)
    network = bundle_as_mdd(bundle)
    # What the scan's actors run as shipped: OpenVINO where installed, bf16 where the CPU has
    # it. One bundle per thread count: OpenVINO takes its threads when it compiles (first use).
    runtime, bf16 = resolve_runtime("auto", "cpu"), cpu_has_bf16()
    on_cores, on_one = (
        dataclasses.replace(load_bundle(default_bundle_dir()), spectral_check=None).with_runtime(
            runtime, bf16=bf16
        )
        for _ in "ab"
    )
    keep = [MDD_BANDS.index(b) for b in bundle.bands]
    cores = os.cpu_count() or 1
    mdd_window = args.image_size + 2 * args.offset
    mdd_tiles = _tiles(scene, mdd_window, args.image_size, args.model_tiles)
    os_tiles = _tiles(scene[keep], tile + 2 * margin, tile, args.model_tiles)
    os_batches = [
        os_tiles[i : i + _OCEANSCAN_BATCH] for i in range(0, len(os_tiles), _OCEANSCAN_BATCH)
    ]

    def mdd_forward(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(network(torch.from_numpy(batch))).numpy()

    def os_forward(batch: np.ndarray) -> np.ndarray:
        return on_cores.predict_proba(batch, tta="none")

    def os_forward_one(batch: np.ndarray) -> np.ndarray:
        return on_one.predict_proba(batch, tta="none")

    rounds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(args.repeats):  # interleaved, so a busy spell of the machine hits both
        torch.set_num_threads(cores)
        rounds["marinedebrisdetector"].append(
            _rate(mdd_forward, [t[None] for t in mdd_tiles], args.image_size, mdd_window)
        )
        rounds["oceanscan_all_cores"].append(_rate(os_forward, os_batches, tile, tile + 2 * margin))
        torch.set_num_threads(1)  # what each of the scan's actors takes
        rounds["oceanscan_one_thread"].append(
            _rate(os_forward_one, os_batches, tile, tile + 2 * margin)
        )
        rounds["marinedebrisdetector_one_thread"].append(
            _rate(mdd_forward, [t[None] for t in mdd_tiles], args.image_size, mdd_window)
        )
    torch.set_num_threads(cores)
    best = {k: max(v, key=lambda r: r["core_pixels_per_s"]) for k, v in rounds.items()}
    wrapped = mdd_forward(mdd_tiles[:1])[:, 0]
    direct = bundle.predict_proba(mdd_tiles[:1, keep], tta="none")  # on torch, as wrapped
    return {
        **best,
        "oceanscan_runtime": runtime,
        "oceanscan_bf16": bf16,
        "oceanscan_over_mdd_all_cores": best["oceanscan_all_cores"]["core_pixels_per_s"]
        / best["marinedebrisdetector"]["core_pixels_per_s"],
        "wrapper_vs_bundle_max_abs_diff": float(np.abs(wrapped - direct).max()),
    }


def agreement(mdd_tif: Path, root: Path, threshold: float) -> dict[str, float]:
    """How close the two written probability maps are, over the pixels oceanscan scored.

    ``same_decision``: the share of pixels on the same side of the bundle's ``threshold``.
    """
    import rasterio

    with rasterio.open(mdd_tif) as src:
        p_mdd = src.read(1).astype(np.float32) / 255  # ScenePredictor writes floor(p * 255)
    steps = _scene_steps(root)
    scored = steps != 255  # oceanscan: round(p * 254), 255 where not scored
    p_os, p_mdd = steps[scored].astype(np.float32) / 254, p_mdd[scored]
    diff = np.abs(p_os - p_mdd)
    return {
        "scored_fraction": float(scored.mean()),
        "correlation": float(np.corrcoef(p_os, p_mdd)[0, 1]),
        "mean_abs_diff": float(diff.mean()),
        "max_abs_diff": float(diff.max()),
        "within_0_02": float((diff <= 0.02).mean()),
        "same_decision": float(((p_os >= threshold) == (p_mdd >= threshold)).mean()),
    }


def _scene_steps(root: Path) -> np.ndarray:
    import zarr

    scenes = zarr.open_group(str(root / "scenes.zarr"), mode="r")["scenes"]
    (key,) = list(scenes.group_keys())
    return np.asarray(scenes[key]["probability"][:])


def float32_report(
    run: dict[str, Any] | None, mdd_rate: float, work: Path, threshold: float
) -> dict[str, Any] | None:
    """The ``--no-cpu-bf16`` scan: its rates against marinedebrisdetector, and what bf16 changes.

    ``steps_changed``: share of pixels whose stored probability step in the shipped (bf16) scan
    differs from the float32 scan's; ``decisions_changed``: pixels on the other side of the
    bundle's threshold, with the float32 scan's debris pixels for scale.
    """
    if run is None:
        return None
    from oceanscan.scan.store import FILL, threshold_step

    f32, b16 = _scene_steps(work / "scan_float32"), _scene_steps(work / "scan")
    step = threshold_step(threshold)
    debris32, debris16 = (f32 != FILL) & (f32 >= step), (b16 != FILL) & (b16 >= step)
    return {
        "scan": run,
        "over_mdd_with_ray_start": run["pixels_per_s_with_ray_start"] / mdd_rate,
        "over_mdd_after_ray_start": run["pixels_per_s_after_ray_start"] / mdd_rate,
        "over_mdd_after_startup": run["pixels_per_s_after_startup"] / mdd_rate,
        "steps_changed": float((f32 != b16).mean()),
        "max_step_change": int(np.abs(f32.astype(np.int16) - b16.astype(np.int16)).max()),
        "decisions_changed": int((debris32 != debris16).sum()),
        "debris_pixels_float32": int(debris32.sum()),
        "debris_pixels_bf16": int(debris16.sum()),
    }


def _threshold() -> float:
    from oceanscan.model import default_bundle_dir, load_bundle

    return float(load_bundle(default_bundle_dir()).threshold)


def _machine() -> dict[str, Any]:
    import platform

    versions = {
        name: importlib.metadata.version(name)
        for name in ("oceanscan", "marinedebrisdetector", "torch", "ray", "rasterio", "zarr")
    }
    return {"cpus": os.cpu_count(), "python": platform.python_version(), **versions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, default=10980, help="scene side, 10 m pixels (a Sentinel-2 tile)"
    )
    parser.add_argument("--block", type=int, default=2745, help="synthesized block of the mosaic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=480, help="ScenePredictor tile")
    parser.add_argument("--offset", type=int, default=64, help="ScenePredictor context")
    parser.add_argument("--model-tiles", type=int, default=8, help="tiles per model-only rate")
    parser.add_argument("--repeats", type=int, default=2, help="model-only rounds (best kept)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--no-float32",
        action="store_true",
        help="skip the second oceanscan run in float32 (--no-cpu-bf16)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--float32", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return
    load_scene_predictor()  # fail before anything is made when it is missing
    work = Path(tempfile.mkdtemp(prefix="oceanscan-vs-mdd-"))
    scene = write_scene(work / "scene_20250602.tif", args.size, args.seed, args.block)
    mdd = run_mdd(args, scene, work / "scene_20250602_prediction.tif")
    network = network_only_bundle(work / "bundle")
    ocean = run_oceanscan(args, scene, work / "scan", network)
    float32 = None
    if not args.no_float32 and ocean["cpu_bf16"]:
        float32 = run_oceanscan(args, scene, work / "scan_float32", network, float32=True)
    import rasterio.windows

    corner = min(args.size, _MODEL_ONLY_PX)  # enough for --model-tiles of either tiling
    with rasterio.open(scene) as src:
        window = rasterio.windows.Window(0, 0, corner, corner)
        reflectance = src.read(window=window).astype(np.float32) * 1e-4
    mdd_rate = mdd["pixels_per_s"]
    report = {
        "scene": {"size": args.size, "pixels": args.size**2, "bands": list(MDD_BANDS)},
        "machine": _machine(),
        "marinedebrisdetector": mdd,
        "oceanscan": ocean,
        "oceanscan_over_mdd": {
            "with_ray_start": ocean["pixels_per_s_with_ray_start"] / mdd_rate,
            "after_ray_start": ocean["pixels_per_s_after_ray_start"] / mdd_rate,
            "after_startup": ocean["pixels_per_s_after_startup"] / mdd_rate,
        },
        "model_only": model_only(args, reflectance, ocean["tile_size"], ocean["margin"]),
        "agreement": agreement(work / "scene_20250602_prediction.tif", work / "scan", _threshold()),
        "oceanscan_float32": float32_report(float32, mdd_rate, work, _threshold()),
        "work_dir": str(work) if args.keep else None,
    }
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
