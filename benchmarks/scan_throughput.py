"""Scan throughput and memory: model-only forward vs the whole COG -> Zarr pipeline.

One run, the same synthetic scenes (a static catalog of COGs written first) and the same bundle:

* ``model_only``: pixels/s of ``ModelBundle.predict_proba`` on tiles already in memory (a sample
  of ``--model-tiles`` tiles read and padded beforehand, not timed), batched like the predictor
  actors and on their runtime and precision, on all the node's cores (which the scan's actors
  share, one thread each as shipped);
* ``end_to_end``: pixels/s of ``scan_scenes`` over the same scenes, COG reads, reflection padding,
  the predictor actor, Zarr writes, scene summaries, detections and the index included, in a
  fresh process with its own local Ray brought first to the state of a standing cluster (idle
  workers started, Ray Data's cluster-wide actors created: ``cluster_warmup_s``, not counted).
  The ratio of the two is the pipeline efficiency, how much of the model's speed the pipeline
  keeps (target >= 0.85). Every run pays a fixed cost before its first tile is written
  (predictor actors' start with their torch import, the first batch: ``first_tile_s``); ``steady_pixels_per_s`` leaves it out. The default workload, 4 scenes of
  4096 px in the production tile of 512 px (256 tiles), is still a seventh of one Sentinel-2
  tile's 10980 px square, so the fixed cost weighs more here than in a real scan;
* ``memory``: peak memory of scanning 1 scene and ``--scenes`` scenes, each in a fresh subprocess
  with its own local Ray (separate from the timed run: sampling ``smaps`` takes a good part of a
  core). A sampler thread sums, every 0.2 s, the PSS (proportional set size: shared pages such
  as Ray's object store divided among the processes that map them, so nothing is counted twice)
  and the RSS of the subprocess and all its descendants (GCS, raylet, object store, workers,
  actors). Streaming should make the peak for N scenes close to the peak for 1;
* ``tiled_vs_whole_scene``: how far the tiled prediction is from one forward pass over the whole
  scene (the attention U-Net's self-attention is global, so they differ; quantization steps);
  only for scenes up to 1024 px, as the whole-scene attention matrix grows with the fourth power
  of the side.

Ray's object store has its default size, as in ``oceanscan scan``. Prints one JSON object.
These machines are shared and noisy: compare ratios from one run.

    python benchmarks/scan_throughput.py --scenes 4 --size 4096 --tile 512 --margin 32 --width 8
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

#: Fraction of the pixels the random bundle's threshold flags: the synthetic generator's debris
#: fraction of labelled pixels (``oceanscan.synth``: 0.72 %).
_DEBRIS_FRACTION = 0.0072

#: Largest scene side compared with a whole-scene forward pass (attention memory grows as side^4).
_WHOLE_MAX = 1024


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


def _make_bundle(directory: Path, width: int, sample: Any) -> Path:
    """A randomly initialised bundle whose threshold flags as many pixels as a trained model.

    At a 0.5 threshold a random network flags speckle everywhere (about 3 % of the pixels and
    9,000 detections in a 768 px scene), and the driver would spend the run vectorizing them.
    The threshold is set instead to the quantile that leaves the generator's debris fraction
    (about 0.7 % of the pixels) above it on ``sample``, a scene window.
    """
    import numpy as np
    import torch

    from oceanscan.model import AttentionUNet, load_bundle, save_bundle

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
    path = save_bundle(directory, model, class_mapping="binary", threshold=0.5)
    probability = load_bundle(path).predict_proba(sample[None])
    threshold = float(np.quantile(probability, 1 - _DEBRIS_FRACTION))
    return save_bundle(directory, model, class_mapping="binary", threshold=threshold)


def _bundle_threshold(bundle: str) -> float:
    from oceanscan.model import load_bundle

    return float(load_bundle(bundle).threshold)


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
        batch_size=args.batch_size,
        device="cpu",
        progress_bars=False,
    )


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Scan ``--scenes`` scenes in this process with its own Ray; measure time or memory.

    Time and memory come from separate runs: reading every process's ``smaps`` five times a
    second takes a good part of a core, which on two cores would slow the scan it measures.
    """
    import ray

    from oceanscan.scan.pipeline import scan_scenes

    sampler = _PeakSampler(os.getpid())
    if args.memory:
        sampler.start()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    warm_s = _warm_cluster()
    scenes = _scenes(Path(args.catalog), args.scenes)
    result = scan_scenes(scenes, _config(args, Path(args.root), Path(args.bundle)))
    ray.shutdown()
    if args.memory:
        sampler.stop()
    return {
        "scenes": len(scenes),
        "complete": len(result.counts.complete),
        "failed": result.counts.failed,
        "tiles": result.tiles,
        "pixels": result.pixels,
        "seconds": result.seconds,
        "pixels_per_s": result.pixels / result.seconds,
        "cluster_warmup_s": warm_s,
        "first_tile_s": result.first_tile_s,
        "steady_pixels_per_s": (result.pixels - result.first_tile_pixels)
        / (result.last_tile_s - result.first_tile_s),
        **(
            {"peak_pss_mib": sampler.peak_pss / 2**20, "peak_rss_mib": sampler.peak_rss / 2**20}
            if args.memory
            else {}
        ),
    }


def _worker_ready() -> int:
    return os.getpid()


def _warm_cluster() -> float:
    """Bring the fresh local Ray to the state of a cluster that is already up; returns seconds.

    ``ray.init`` returns before its idle workers have started, and Ray Data creates its
    cluster-wide detached actors (statistics, autoscaling coordinator) on a cluster's first
    dataset execution; a standing cluster has both. Neither is part of a scan's own cost.
    """
    import ray
    import ray.data

    t0 = time.perf_counter()
    ready = ray.remote(num_cpus=1)(_worker_ready)
    ray.get([ready.remote() for _ in range(2)])
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ray.data.range(2, override_num_blocks=2).map(_identity, num_cpus=0.5).take_all()
    return time.perf_counter() - t0


def _identity(row: dict[str, Any]) -> dict[str, Any]:
    return row


def _run_child(
    args: argparse.Namespace, scenes: int, root: Path, *, memory: bool
) -> dict[str, Any]:
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
        *(["--memory"] if memory else []),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _model_only(args: argparse.Namespace, scenes: list[Any]) -> dict[str, Any]:
    import numpy as np
    import torch

    from oceanscan.model import load_bundle
    from oceanscan.scan.predictor import cpu_has_bf16, resolve_runtime
    from oceanscan.scan.reader import read_window
    from oceanscan.scan.tiling import pad_to_tile, plan_tiles

    threads = len(os.sched_getaffinity(0))  # the node's cores, which the scan's actors share
    torch.set_num_threads(threads)
    # The network as the scan's CPU actors run it: OpenVINO where installed, bf16 where the CPU
    # has bf16 instructions.
    runtime, bf16 = resolve_runtime("auto", "cpu"), cpu_has_bf16()
    bundle = load_bundle(args.bundle).with_runtime(runtime, bf16=bf16)
    tiles, pixels = [], 0
    for spec in scenes:
        for t in plan_tiles(spec.key, spec.grid.shape, tile_size=args.tile, margin=args.margin):
            if len(tiles) == args.model_tiles:
                break
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
        "torch_threads": threads,
        "runtime": runtime,
        "bf16": bf16,
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
    parser.add_argument("--size", type=int, default=4096, help="scene side, 10 m pixels")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--margin", type=int, default=32)
    parser.add_argument("--width", type=int, default=8, help="U-Net base width")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--model-tiles",
        type=int,
        default=64,
        help="tiles held in memory for the model-only rate (a sample: full scenes do not fit)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--catalog", help=argparse.SUPPRESS)
    parser.add_argument(
        "--bundle", help="a trained model bundle (default: a random one of --width, see above)"
    )
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
    scenes = _scenes(Path(args.catalog), args.scenes)
    if args.bundle is None:
        from oceanscan.scan.reader import read_window
        from oceanscan.scene import PixelWindow

        side = min(256, args.size)
        sample = read_window(scenes[0], PixelWindow(0, 0, side, side)).reflectance
        args.bundle = str(_make_bundle(work / "bundle", args.width, sample))
    prepared_s = time.perf_counter() - t0
    model_only = _model_only(args, scenes)
    timed = _run_child(args, args.scenes, work / "timed", memory=False)
    one = _run_child(args, 1, work / "one", memory=True)
    many = _run_child(args, args.scenes, work / "many", memory=True)
    report = {
        "params": {
            k: getattr(args, k) for k in ("scenes", "size", "tile", "margin", "width", "batch_size")
        },
        "bundle_threshold": _bundle_threshold(args.bundle),
        "cpus": os.cpu_count(),
        "prepare_s": prepared_s,
        "model_only": model_only,
        "end_to_end": timed,
        "end_to_end_over_model_only": timed["pixels_per_s"] / model_only["pixels_per_s"],
        "steady_end_to_end_over_model_only": timed["steady_pixels_per_s"]
        / model_only["pixels_per_s"],
        "memory": {
            "one_scene_peak_pss_mib": one["peak_pss_mib"],
            "n_scenes_peak_pss_mib": many["peak_pss_mib"],
            "n_over_one_pss": many["peak_pss_mib"] / one["peak_pss_mib"],
            "one_scene_peak_rss_mib": one["peak_rss_mib"],
            "n_scenes_peak_rss_mib": many["peak_rss_mib"],
        },
        "tiled_vs_whole_scene": (
            _tiled_vs_whole(args, scenes[0], work / "one") if args.size <= _WHOLE_MAX else None
        ),
        "work_dir": str(work) if args.keep else None,
    }
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
