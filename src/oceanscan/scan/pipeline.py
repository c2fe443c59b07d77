"""Scene-wide inference as one Ray Data stream, from SceneSpecs to a Zarr store.

A run is three steps a reader can follow module by module:

1. **plan** (:mod:`oceanscan.scan.plan`), on the driver: rejected items are recorded failed,
   the ledger drops scenes the store already has as ``complete``, each remaining scene is
   claimed, gets its land and its group (status ``created``), and is cut into tiles; the result
   is a frozen :class:`~oceanscan.scan.plan.ScanPlan`;
2. **execute** (:mod:`oceanscan.scan.execute`): ``ray.data.from_items(tile rows)`` -> ``map``
   read tasks -> ``map_batches(Predictor)`` actors -> ``map`` write tasks that put each tile
   core, one Zarr chunk, into the store; only per-tile summaries come back;
3. **record** (:mod:`oceanscan.scan.sink`), on the driver: the summaries are counted
   (:mod:`oceanscan.scan.progress`); when a scene's last tile arrives the sink extracts its
   detections and marks it ``complete`` (or ``failed`` with the first tile error); at the end it
   writes the run record, consolidated metadata, ``index.parquet`` and ``detections.parquet``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oceanscan.scan.claim import ClaimStore
from oceanscan.scan.cluster import check_root_reachable
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.execute import execute
from oceanscan.scan.ledger import RunCounts
from oceanscan.scan.plan import plan_scan, run_attributes
from oceanscan.scan.predictor import convert_ahead
from oceanscan.scan.progress import RunProgress
from oceanscan.scan.sink import ScanSink
from oceanscan.scene import SceneSpec
from oceanscan.stac import Rejected

if TYPE_CHECKING:
    from oceanscan.model import ModelBundle
    from oceanscan.scan.sources import SearchWindow

__all__ = ["ScanResult", "scan_scenes"]


@dataclass
class ScanResult:
    """What one run did.

    Attributes:
        run_id: identifier recorded in the store and in every scene it wrote.
        counts: scenes complete, failed (with reasons) and skipped.
        tiles: tiles predicted.
        pixels: scene pixels covered by those tiles.
        seconds: wall time of the run.
        first_tile_s: from the start of the run to the first tile written (store setup, actor
            start-up with each actor's bundle load, first read and batch): the run's fixed
            cost. The driver loads and verifies the bundle before the run starts.
        last_tile_s: from the start of the run to the last tile written.
        first_tile_pixels: pixels of the first tile, for steady-state throughput
            ``(pixels - first_tile_pixels) / (last_tile_s - first_tile_s)``.
    """

    run_id: str
    counts: RunCounts = field(default_factory=RunCounts)
    tiles: int = 0
    pixels: int = 0
    seconds: float = 0.0
    first_tile_s: float | None = None
    last_tile_s: float | None = None
    first_tile_pixels: int = 0


def _ensure_ray() -> None:
    """Start Ray when the caller has not (a notebook, a script calling this module directly)."""
    from oceanscan.scan.runner import init_ray

    init_ray()


def scan_scenes(
    scenes: Iterable[SceneSpec | Rejected],
    config: ScanConfig,
    *,
    regions: Sequence[SearchWindow | Mapping[str, Any]] = (),
    run_id: str | None = None,
    bundle: ModelBundle | None = None,
) -> ScanResult:
    """Scan scenes into ``config.root``: the whole pipeline of this module's docstring.

    The model bundle is loaded and verified before anything else: a missing or bad bundle
    raises :class:`~oceanscan.errors.BundleError` with no store created and no Ray work done.

    Each scene is claimed before its group is created (:class:`~oceanscan.scan.claim.ClaimStore`,
    lease files under ``<root>/claims``), so two runs on one root scan each scene once; the
    claims are released when the run ends, whatever its outcome.

    Ray is started (:func:`oceanscan.scan.runner.init_ray`: a quiet local Ray, or the cluster
    of ``RAY_ADDRESS``) when it is not running, after the bundle is verified. Meanwhile the
    network is converted for CPU actors that run OpenVINO
    (:func:`~oceanscan.scan.predictor.convert_ahead`).

    Args:
        scenes: :class:`SceneSpec` values, or items rejected by the search
            (:class:`~oceanscan.stac.Rejected`, with ``item_id`` and ``reason``, as
            :func:`oceanscan.stac.search_scenes` yields), recorded as failed.
        config: the scan configuration (model bundle, root, tile size, margin, workers...).
        regions: ``{name, start, end}`` search windows this run covers, for ``--since-last``.
        run_id: identifier of the run; defaults to a UTC timestamp plus a random suffix.
        bundle: the bundle at ``config.model``, already loaded with
            :func:`oceanscan.model.load_bundle`; defaults to loading it here.

    Returns:
        The run's counts; ``oceanscan.scan.ledger.exit_code(result.counts)`` gives the exit code.
        Scenes left to another live run on the same root are counted as skipped.

    Raises:
        BundleError: when the bundle at ``config.model`` is missing or malformed.
        ConfigError: when ``config.root`` is a local path and the Ray cluster has several
            nodes (the write tasks could not reach it).
        ValueError: when ``bundle`` was loaded from another place than ``config.model`` (the
            predictor actors load ``config.model``).
    """
    if bundle is None:
        from oceanscan.model import load_bundle

        bundle = load_bundle(config.model)
    elif not _same_place(bundle.path, config.model):
        raise ValueError(
            f"bundle was loaded from {str(bundle.path)!r} but config.model is "
            f"{config.model!r}; the predictors load config.model, so pass its bundle or none"
        )
    conversion = convert_ahead(bundle, device=config.device, cpu_runtime=config.cpu_runtime)
    _ensure_ray()
    check_root_reachable(config.root)  # a local root on a multi-node cluster: before any write
    config = _absolute_paths(config)
    run_id = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    claims = ClaimStore(config.root, owner=run_id, storage_options=config.storage_options)
    try:
        return _run(
            scenes,
            config,
            regions=regions,
            run_id=run_id,
            claims=claims,
            bundle=bundle,
            conversion=conversion,
        )
    finally:
        claims.release_all()


def _absolute_paths(config: ScanConfig) -> ScanConfig:
    """``config`` with its local ``root`` and ``model`` made absolute, against this process's cwd.

    Ray's tasks and actors run in the working directory of the Ray they belong to, which is this
    process's only when this process started it: joined to a Ray started elsewhere (``ray start``
    and ``RAY_ADDRESS``), the write tasks would resolve a relative root in their own directory.
    """
    update = {
        name: str(Path(value).expanduser().resolve())
        for name in ("root", "model")
        if "://" not in (value := str(getattr(config, name)))
    }
    return config.model_copy(update=update)


def _same_place(loaded_from: str | Path, model: str) -> bool:
    """Whether a bundle loaded from ``loaded_from`` is the one at ``model`` (path or URL)."""
    if "://" in model:
        return str(loaded_from).rstrip("/") == model.rstrip("/")
    return Path(loaded_from).resolve() == Path(model).resolve()


def _run(
    scenes: Iterable[SceneSpec | Rejected],
    config: ScanConfig,
    *,
    regions: Sequence[SearchWindow | Mapping[str, Any]],
    run_id: str,
    claims: ClaimStore,
    bundle: ModelBundle,
    conversion: threading.Thread | None,
) -> ScanResult:
    """Plan, execute, record: the body of :func:`scan_scenes`, holding ``claims`` for the run.

    ``conversion`` (:func:`~oceanscan.scan.predictor.convert_ahead`) is waited for before the
    predictor actors start, when there are tiles for them.
    """
    started = datetime.now(UTC)
    result = ScanResult(run_id=run_id)
    t0 = time.perf_counter()
    sink = ScanSink(
        config,
        run_id=run_id,
        threshold=float(bundle.threshold),
        claims=claims,
        counts=result.counts,
    )
    stored = sink.on_write_start()
    plan = plan_scan(
        scenes,
        config,
        run_attrs=run_attributes(bundle, run_id, config),
        stored=stored,
        bundle=bundle,
        sink=sink,
        claims=claims,
    )
    sink.on_scenes_created()
    progress = RunProgress(plan.tiles, started=t0)
    if conversion is not None and plan.rows:
        conversion.join()
    for summary in execute(plan, config, write_kwargs=sink.write_kwargs()):
        claims.renew_due()
        last = progress.add(summary)
        if last is not None:
            sink.on_scene_complete(*last)
    result.tiles, result.pixels = progress.tiles, progress.pixels
    result.first_tile_s, result.last_tile_s = progress.first_tile_s, progress.last_tile_s
    result.first_tile_pixels = progress.first_tile_pixels
    sink.on_write_complete(
        started=started, finished=datetime.now(UTC), regions=regions, model_sha256=bundle.sha256
    )
    result.seconds = time.perf_counter() - t0
    return result
