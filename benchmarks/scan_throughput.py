"""Scan throughput and memory: model-only forward vs the whole COG -> Zarr pipeline.

One run, the same synthetic scenes (a static catalog of COGs written first) and the same bundle:

* ``model_only``: pixels/s of ``ModelBundle.predict_proba`` on tiles already in memory (read and
  padded beforehand, not timed), batched like the predictor actor, with the same number of torch
  threads as the actor gets (Ray sets ``OMP_NUM_THREADS`` to an actor's ``num_cpus``, 1 here);
* ``end_to_end``: pixels/s of ``scan_scenes`` over the same scenes, COG reads, reflection padding,
  the predictor actor, Zarr writes, scene summaries, detections and the index included (Ray start
  excluded: a cluster is already up in production). The ratio of the two says how much of the
  model's speed the pipeline keeps (target >= 0.85);
  ``steady_pixels_per_s`` leaves out the run's fixed cost (bundle load, store setup, actor
  start-up: ``first_tile_s``), which a real scene of 484 tiles of 512 px amortizes;
* ``memory``: peak memory of scanning 1 scene and ``--scenes`` scenes, each in a fresh subprocess
  with its own local Ray. A sampler thread sums, every 0.2 s, the PSS (proportional set size:
  shared pages such as Ray's object store divided among the processes that map them, so nothing
  is counted twice) and the RSS of the subprocess and all its descendants (GCS, raylet, object
  store, workers, actors). Streaming should make the peak for N scenes close to the peak for 1;
* ``tiled_vs_whole_scene``: how far the tiled prediction is from one forward pass over the whole
  scene (the attention U-Net's self-attention is global, so they differ; quantization steps).

Prints one JSON object. These machines are shared and noisy: compare ratios from one run.

    python benchmarks/scan_throughput.py --scenes 4 --size 768 --tile 256 --margin 32 --width 8
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def _tree_memory(pid: int) -> tuple[int, int]:
    import psutil

    pss = rss = 0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        pss += getattr(info, "pss", info.rss)
        rss += info.rss
    return pss, rss


class _PeakSampler(threading.Thread):
    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval_s = pid, interval_s
        self.peak_pss = self.peak_rss = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            pss, rss = _tree_memory(self.pid)
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self._halt.wait(self.interval_s)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _make_bundle(directory: Path, width: int) -> Path:
    import torch

    from oceanscan.model import AttentionUNet, save_bundle

    torch.manual_seed(0)
    model = AttentionUNet(base_width=width, dropout=0.0)
    for module in model.modules():  # realistic BatchNorm statistics for a random network
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(2, 11, 64, 64))
    model.eval()
    return save_bundle(directory, model, class_mapping="binary", threshold=0.5)


def _scenes(catalog: Path, count: int) -> list[Any]:
    from oceanscan.scan.sources import catalog_scenes

    return list(catalog_scenes(catalog))[:count]


def _config(args: argparse.Namespace, root: Path, bundle: Path) -> Any:
    from oceanscan.scan.config import ScanConfig

    return ScanConfig(
        model=str(bundle),
        root=str(root),
        tile_size_px=args.tile,
        margin_px=args.margin,
        workers=1,
        batch_size=args.batch_size,
        device="cpu",
        progress_bars=False,
    )


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Scan ``--scenes`` scenes in this process with its own Ray; measure time and memory."""
    import ray

    from oceanscan.scan.pipeline import scan_scenes

    sampler = _PeakSampler(os.getpid())
    sampler.start()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=512 * 1024**2,
        logging_level="ERROR",
    )
    scenes = _scenes(Path(args.catalog), args.scenes)
    result = scan_scenes(scenes, _config(args, Path(args.root), Path(args.bundle)))
    ray.shutdown()
    sampler.stop()
    return {
        "scenes": len(scenes),
        "complete": len(result.counts.complete),
        "failed": result.counts.failed,
        "tiles": result.tiles,
        "pixels": result.pixels,
        "seconds": result.seconds,
        "pixels_per_s": result.pixels / result.seconds,
        "first_tile_s": result.first_tile_s,
        "steady_pixels_per_s": (result.pixels - result.first_tile_pixels)
        / (result.last_tile_s - result.first_tile_s),
        "peak_pss_mib": sampler.peak_pss / 2**20,
        "peak_rss_mib": sampler.peak_rss / 2**20,
    }


def _run_child(args: argparse.Namespace, scenes: int, root: Path) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--catalog",
        args.catalog,
        "--bundle",
        args.bundle,
        "--root",
        str(root),
        "--scenes",
        str(scenes),
        "--tile",
        str(args.tile),
        "--margin",
        str(args.margin),
        "--batch-size",
        str(args.batch_size),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _model_only(args: argparse.Namespace, scenes: list[Any]) -> dict[str, Any]:
    import numpy as np
    import torch

    from oceanscan.model import load_bundle
    from oceanscan.scan.reader import read_window
    from oceanscan.scan.tiling import pad_to_tile, plan_tiles

    torch.set_num_threads(1)  # what Ray gives a num_cpus=1 actor
    bundle = load_bundle(args.bundle)
    tiles, pixels = [], 0
    for spec in scenes:
        for t in plan_tiles(spec.key, spec.grid.shape, tile_size=args.tile, margin=args.margin):
            tiles.append(pad_to_tile(read_window(spec, t.read).reflectance, t))
            pixels += t.core.height * t.core.width
    batch = np.stack(tiles).astype(np.float32)
    bundle.predict_proba(batch[: args.batch_size])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(batch), args.batch_size):
        bundle.predict_proba(batch[i : i + args.batch_size])
    seconds = time.perf_counter() - start
    return {
        "tiles": len(batch),
        "pixels": pixels,
        "seconds": seconds,
        "pixels_per_s": pixels / seconds,
        "torch_threads": 1,
    }


def _tiled_vs_whole(args: argparse.Namespace, spec: Any, root: Path) -> dict[str, Any]:
    import numpy as np
    import zarr

    from oceanscan.model import load_bundle
    from oceanscan.scan.reader import read_window
    from oceanscan.scan.store import FILL, quantize, store_url
    from oceanscan.scene import PixelWindow

    h, w = spec.grid.shape
    chunk = read_window(spec, PixelWindow(0, 0, h, w))
    whole = quantize(load_bundle(args.bundle).predict_proba(chunk.reflectance[None])[0], chunk.mask)
    tiled = zarr.open_group(store_url(str(root)), mode="r")[f"scenes/{spec.key}/probability"][:]
    scored = (tiled != FILL) & (whole != FILL)
    diff = np.abs(tiled.astype(int) - whole.astype(int))[scored]
    return {
        "max_steps": int(diff.max()),
        "mean_steps": float(diff.mean()),
        "within_1_step": float((diff <= 1).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--size", type=int, default=768, help="scene side, 10 m pixels")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--margin", type=int, default=32)
    parser.add_argument("--width", type=int, default=8, help="U-Net base width")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--catalog", help=argparse.SUPPRESS)
    parser.add_argument("--bundle", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return

    from oceanscan.synth.catalog import write_catalog

    work = Path(tempfile.mkdtemp(prefix="oceanscan-bench-"))
    t0 = time.perf_counter()
    args.catalog = str(
        write_catalog(work / "catalog", scenes=args.scenes, size=args.size, seed=0).parent
    )
    args.bundle = str(_make_bundle(work / "bundle", args.width))
    prepared_s = time.perf_counter() - t0
    scenes = _scenes(Path(args.catalog), args.scenes)
    model_only = _model_only(args, scenes)
    one = _run_child(args, 1, work / "one")
    many = _run_child(args, args.scenes, work / "many")
    report = {
        "params": {
            k: getattr(args, k) for k in ("scenes", "size", "tile", "margin", "width", "batch_size")
        },
        "cpus": os.cpu_count(),
        "prepare_s": prepared_s,
        "model_only": model_only,
        "end_to_end": many,
        "end_to_end_over_model_only": many["pixels_per_s"] / model_only["pixels_per_s"],
        "steady_end_to_end_over_model_only": many["steady_pixels_per_s"]
        / model_only["pixels_per_s"],
        "memory": {
            "one_scene_peak_pss_mib": one["peak_pss_mib"],
            "n_scenes_peak_pss_mib": many["peak_pss_mib"],
            "n_over_one_pss": many["peak_pss_mib"] / one["peak_pss_mib"],
            "one_scene_peak_rss_mib": one["peak_rss_mib"],
            "n_scenes_peak_rss_mib": many["peak_rss_mib"],
        },
        "tiled_vs_whole_scene": _tiled_vs_whole(args, scenes[0], work / "one"),
        "work_dir": str(work) if args.keep else None,
    }
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
