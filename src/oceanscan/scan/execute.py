"""The Ray Data graph of a scan: tile rows -> (read tasks) -> predictor actors -> write tasks.

Nothing else: what to scan is decided before (:mod:`oceanscan.scan.plan`), and what the tile
summaries mean is decided after (:mod:`oceanscan.scan.progress`, :mod:`oceanscan.scan.sink`).
Memory stays bounded because nothing but per-tile scalars reaches the driver: pixels flow to
the actors and on to the write tasks through Ray's object store, under Ray Data's backpressure.

Where the predictors run on GPUs, tiles are read and written by tasks of their own, so that a
GPU never waits for a read or a write. On CPUs, where there is an actor per core
(:func:`predictor_actors`), each actor reads its tiles, scores them and writes their cores
itself, and only the per-tile summaries leave it: a read is a tenth of a tile's work there, and
handing a tile to another process costs more (its 14.6 MB of reflectance put into the object
store as an Arrow block and taken out again), as does the short-lived write worker that Ray
starts, imports oceanscan into and retires again every few seconds when every CPU already
holds an actor. Measured on 2 cores over a 10980 px scene (``benchmarks/vs_marinedebrisdetector.py``
and ``/proc`` sampling): read tasks spent 18 CPU seconds reading and 23 more handing tiles over,
and 20 write workers were started in turn; the scan took 124 s that way and 101 s with the actors
reading and writing their own tiles. An actor reads the tiles of its batch concurrently, so the
latency of remote reads overlaps; ``ScanConfig.tile_io`` chooses either way by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from oceanscan.scan.config import ScanConfig
from oceanscan.scan.plan import ScanPlan
from oceanscan.scan.predictor import Predictor
from oceanscan.scan.tasks import read_tile, write_tile

__all__ = ["execute", "predictor_actors"]

log = logging.getLogger(__name__)

#: CPUs Ray reserves per read task and per write task. The read tasks' share must differ from
#: ``ScanConfig.predictor_cpus``: Ray Data fuses a task map into the following actor map when
#: their resource requests match (see :class:`~oceanscan.scan.config.ScanConfig`).
_READ_CPUS = 0.5
_WRITE_CPUS = 0.25


def _configure_ray_data(config: ScanConfig) -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = False
    ctx.enable_progress_bars = config.progress_bars
    ctx.enable_operator_progress_bars = config.progress_bars
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _gpus_available() -> bool:
    import ray

    return float(ray.cluster_resources().get("GPU", 0)) >= 1


def predictor_actors(config: ScanConfig, *, gpu: bool) -> int:
    """How many predictor actors a scan runs: ``config.workers``, else sized from the cluster.

    One per GPU where the actors take GPUs. Without GPUs, one per CPU, each of which runs the
    network on one torch thread (:func:`oceanscan.scan.predictor.cpu_threads`): a thread pool
    that shares its cores with reads, writes and Ray waits at every operator for its slowest
    thread, while one-thread actors each keep going. Measured on 2 cores over a 10980 px scene
    (``benchmarks/vs_marinedebrisdetector.py``): 118 s with two one-thread actors, 138 s with one
    actor on two threads on torch; on OpenVINO in bf16, in alternating runs, 143 and 181 s with
    two one-thread actors against 161 and 186 s with one on two threads. Each actor holds its own copy of the network and a batch of
    activations, so on many-core nodes with a wide network ``workers`` may have to be lower.
    """
    import ray

    if config.workers is not None:
        return config.workers
    resources = ray.cluster_resources()
    return max(1, int(resources.get("GPU" if gpu else "CPU", 1)))


def execute(
    plan: ScanPlan, config: ScanConfig, *, write_kwargs: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """Stream the plan's tiles through reading, prediction and writing.

    Args:
        plan: the run's plan: tile rows and the scenes the read tasks need.
        config: the scan configuration (workers, batch size, device, concurrency...).
        write_kwargs: where the write tasks write (:meth:`oceanscan.scan.sink.ScanSink.write_kwargs`).

    Yields:
        One summary per tile, in completion order: ``scene_key``, ``error`` (empty when the
        tile was written), ``scored``, ``debris``, ``max_step`` and ``pixels``. Nothing runs
        for a plan without tiles.
    """
    import ray.data

    from oceanscan.scan.gdal_env import capture_rio_env

    if not plan.rows:
        return
    _configure_ray_data(config)
    gpu = config.device != "cpu" and _gpus_available()
    actors = predictor_actors(config, gpu=gpu)
    in_actors = config.tile_io == "actors" or (config.tile_io == "auto" and not gpu)
    # One block (one read task) per predictor batch: fewer, larger tasks cost less to schedule
    # than one task per tile, and still stream (a batch is in flight at a time).
    blocks = -(-len(plan.rows) // config.batch_size)
    ds = ray.data.from_items(list(plan.rows), override_num_blocks=blocks)
    reads = {
        "scenes": dict(plan.scenes),
        "fail_on_error": config.fail_on_error,
        "rio_env": capture_rio_env(),
    }
    if not in_actors:
        ds = ds.map(
            read_tile,
            fn_kwargs=reads,
            num_cpus=_READ_CPUS,
            compute=ray.data.TaskPoolStrategy(size=config.read_concurrency),
        )
    ds = ds.map_batches(
        Predictor,
        fn_constructor_kwargs={
            "bundle_dir": str(config.model),
            "margin": config.margin_px,
            "tile_size": config.tile_size_px,
            "device": "cuda" if gpu else "cpu",
            "autocast_bf16": config.autocast_bf16,
            "cpu_bf16": config.cpu_bf16,
            "cpu_runtime": config.cpu_runtime,
            "tta": plan.run_attrs["tta"],
            "threads": config.predictor_threads,
            "actors": actors,
            # On CPUs each actor reads and writes its own tiles (see the module docstring).
            "read": reads if in_actors else None,
            "write": dict(write_kwargs) if in_actors else None,
        },
        batch_size=config.batch_size,
        batch_format="numpy",
        # At least one: a scan sharing its cluster with another one still runs when only some
        # of its actors fit beside the other's.
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors),
        num_gpus=1 if gpu else 0,
        num_cpus=config.predictor_cpus,
    )
    if not in_actors:
        ds = ds.map(write_tile, fn_kwargs=dict(write_kwargs), num_cpus=_WRITE_CPUS)
    yield from ds.iter_rows()
    if log.isEnabledFor(logging.DEBUG):
        log.debug("Ray Data execution statistics:\n%s", ds.stats())
