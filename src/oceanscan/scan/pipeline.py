"""Scene-wide inference as one Ray Data stream, from SceneSpecs to a Zarr store.

The driver plans, the workers compute and write, the driver records:

1. the ledger drops scenes the store already has as ``complete``;
2. the driver works out each remaining scene's land (coastline polygons, :mod:`oceanscan.land`)
   and creates its group, arrays and attributes (status ``created``);
3. ``ray.data.from_items(tile rows)`` -> ``map`` read tasks (windowed read with margin, reflection
   padding) -> ``map_batches(Predictor)`` actors (bundle loaded once per actor, one GPU each when
   there are GPUs) -> ``map`` write tasks that put each tile core, one Zarr chunk, into the store;
4. the driver consumes the small per-tile summaries as they stream out; when a scene's last tile
   arrives it extracts the scene's detections and marks it ``complete`` (or ``failed`` with the
   first tile error);
5. the driver writes ``index.parquet``, ``detections.parquet``, the run record and consolidated
   metadata.

Memory stays bounded because nothing but per-tile scalars reaches the driver: pixels flow from
read task to actor to write task through Ray's object store, under Ray Data's backpressure.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oceanscan import __version__
from oceanscan.land import Coastline, attach_land
from oceanscan.scan import detections as _detections
from oceanscan.scan import index as _index
from oceanscan.scan.claim import ClaimStore
from oceanscan.scan.cluster import check_root_reachable
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.ledger import RunCounts, failure_attrs, is_given_up, select_scenes
from oceanscan.scan.predictor import Predictor
from oceanscan.scan.store import (
    consolidate,
    create_scene,
    open_root,
    read_scene_attrs,
    scene_attrs_from_spec,
    scenes_group,
    threshold_step,
    update_scene_attrs,
)
from oceanscan.scan.tasks import read_tile, write_tile
from oceanscan.scan.tiling import plan_tiles
from oceanscan.scene import SceneSpec, scene_key

if TYPE_CHECKING:
    from oceanscan.model import ModelBundle

__all__ = ["ScanResult", "scan_scenes"]

#: Longest wait, in seconds, for another run's store-wide update (run record, consolidation,
#: index and detections files) to finish.
_ROOT_WAIT_S = 600.0

log = logging.getLogger(__name__)


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


@dataclass
class _SceneProgress:
    total: int
    done: int = 0
    scored: int = 0
    debris: int = 0
    max_step: int = -1
    errors: list[str] = field(default_factory=list)


def _configure_ray_data(config: ScanConfig) -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = False
    ctx.enable_progress_bars = config.progress_bars
    ctx.enable_operator_progress_bars = config.progress_bars
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _ensure_ray() -> None:
    """Start Ray when the caller has not (a notebook, a script calling this module directly)."""
    from oceanscan.scan.runner import init_ray

    init_ray()


def _gpus_available() -> bool:
    import ray

    return float(ray.cluster_resources().get("GPU", 0)) >= 1


def _record_failure(
    root_group: Any, spec: Any, reason: str, *, max_attempts: int, result: ScanResult
) -> None:
    """Mark a scene failed (or given up, at its ``max_attempts``-th failure) and count it.

    Creates a bare group when the scene has none yet; the ``failures`` count comes from the
    group (``create_scene`` carries it over from the previous attempt).
    """
    item_id = getattr(spec, "id", None) or getattr(spec, "item_id", "")
    key = scene_key(item_id)
    scenes = scenes_group(root_group)
    group = scenes[key] if key in scenes else scenes.create_group(key)
    attrs: dict[str, Any] = {"item_id": item_id}
    if isinstance(spec, SceneSpec):
        attrs.update(scene_attrs_from_spec(spec))
    failure = failure_attrs(dict(group.attrs), reason, max_attempts=max_attempts)
    group.update_attributes({**attrs, **failure})
    result.counts.failed[key if isinstance(spec, SceneSpec) else str(item_id)] = reason
    if failure["status"] == "given_up":
        result.counts.given_up.append(key)
        log.warning(
            "scene %s failed for the %d-th time, given up: %s", key, failure["failures"], reason
        )
    else:
        log.warning("scene %s failed (attempt %d): %s", key, failure["failures"], reason)


def _finish_scene(
    root_group: Any,
    spec: SceneSpec,
    progress: _SceneProgress,
    *,
    config: ScanConfig,
    threshold: float,
    result: ScanResult,
) -> None:
    key = spec.key
    if progress.errors:
        reason = progress.errors[0]
        if len(progress.errors) > 1:
            reason += f" (and {len(progress.errors) - 1} more tile errors)"
        _record_failure(root_group, spec, reason, max_attempts=config.max_attempts, result=result)
        return
    try:
        found = _detections.write_scene_detections(
            config.root, key, storage_options=config.storage_options
        )
    except Exception as err:  # noqa: BLE001  (detections are part of completing a scene)
        _record_failure(
            root_group,
            spec,
            f"detections: {type(err).__name__}: {err}",
            max_attempts=config.max_attempts,
            result=result,
        )
        return
    update_scene_attrs(
        root_group,
        key,
        status="complete",
        reason=None,
        scored_pixels=progress.scored,
        debris_pixels=progress.debris,
        max_probability=(progress.max_step / 254.0) if progress.max_step >= 0 else None,
        detections=found,
        threshold=threshold,
    )
    result.counts.complete.append(key)
    log.info(
        "scene %s complete: %d tiles, %d scored px, %d debris px, %d detections",
        key,
        progress.total,
        progress.scored,
        progress.debris,
        found,
    )


def _as_scene(candidate: Any) -> SceneSpec | None:
    return candidate if isinstance(candidate, SceneSpec) else None


def _stored_status(config: ScanConfig, key: str) -> str | None:
    """A scene's status as the store has it now (not as read at the start of the run)."""
    import zarr

    from oceanscan.scan.store import store_url, zarr_store

    store = zarr_store(store_url(config.root), storage_options=config.storage_options)
    try:
        group = zarr.open_group(store, path=f"scenes/{key}", mode="r", use_consolidated=False)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        return None
    status = group.attrs.get("status")
    return None if status is None else str(status)


def _claim(claims: ClaimStore, config: ScanConfig, key: str, result: ScanResult) -> bool:
    """Claim a scene for this run (see :mod:`oceanscan.scan.claim`).

    False, and the scene counted as skipped, when another live run holds it or has completed it
    since this run read the ledger: two scans of one root never write the same scene.
    """
    lease = claims.acquire(key)
    if lease is None:
        holder = claims.holder(key) or {}
        log.info("scene %s is being scanned by run %s; left to it", key, holder.get("owner"))
        result.counts.skipped.append(key)
        return False
    if _stored_status(config, key) == "complete":
        claims.release(lease)
        log.info("scene %s was completed by another run meanwhile; skipped", key)
        result.counts.skipped.append(key)
        return False
    return True


def scan_scenes(
    scenes: Iterable[Any],
    config: ScanConfig,
    *,
    regions: Sequence[Mapping[str, Any]] = (),
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
    of ``RAY_ADDRESS``) when it is not running, after the bundle is verified.

    Args:
        scenes: :class:`SceneSpec` values, or rejected items (objects with ``item_id`` and
            ``reason``, as :func:`oceanscan.stac.search_scenes` yields), recorded as failed.
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
    _ensure_ray()
    check_root_reachable(config.root)  # a local root on a multi-node cluster: before any write
    config = _absolute_paths(config)
    run_id = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    claims = ClaimStore(config.root, owner=run_id, storage_options=config.storage_options)
    try:
        return _scan_scenes(
            scenes, config, regions=regions, run_id=run_id, claims=claims, bundle=bundle
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


def _scan_scenes(
    scenes: Iterable[Any],
    config: ScanConfig,
    *,
    regions: Sequence[Mapping[str, Any]],
    run_id: str,
    claims: ClaimStore,
    bundle: ModelBundle,
) -> ScanResult:
    """The body of :func:`scan_scenes`, holding ``claims`` for the run."""
    import ray.data

    from oceanscan.scan.reader import capture_rio_env

    started = datetime.now(UTC)
    result = ScanResult(run_id=run_id)
    t0 = time.perf_counter()

    threshold = float(bundle.threshold)
    step = threshold_step(threshold)
    root_group = open_root(
        config.root, storage_options=config.storage_options, zarr_format=config.zarr_format
    )
    stored = read_scene_attrs(root_group)

    candidates = list(scenes)
    given_up_before: list[str] = []
    for rejected in (c for c in candidates if _as_scene(c) is None):
        reason = str(getattr(rejected, "reason", rejected))
        key = scene_key(str(getattr(rejected, "item_id", "")) or "_")
        if is_given_up(stored.get(key), config.max_attempts):
            given_up_before.append(key)
            continue
        if claims.acquire(key) is None:
            continue  # another run is recording it
        _record_failure(
            root_group, rejected, reason, max_attempts=config.max_attempts, result=result
        )
    todo, result.counts.skipped = select_scenes(
        (c for c in candidates if isinstance(c, SceneSpec)),
        stored,
        max_attempts=config.max_attempts,
    )
    result.counts.skipped.extend(given_up_before)
    for key in result.counts.skipped:
        if stored.get(key, {}).get("status") == "complete":
            log.info("scene %s already complete; skipped", key)
        else:
            log.info("scene %s was given up by an earlier run; skipped", key)

    run_attrs = {
        "model_id": bundle.model_id,
        "model_sha256": bundle.sha256,
        "threshold": threshold,
        "run_id": run_id,
        "software_version": __version__,
        "margin": config.margin_px,
        "tta": config.tta,
    }
    planned: dict[str, SceneSpec] = {}
    progress: dict[str, _SceneProgress] = {}
    rows: list[dict[str, Any]] = []
    coastline = Coastline()  # the world's land, loaded once if some scene needs it
    for spec in todo:
        if not _claim(claims, config, spec.key, result):
            continue
        try:
            bundle.check_bands(tuple(b.band for b in spec.bands))
            spec = attach_land(  # the planned scene carries its land mask
                spec, source=config.land, buffer_m=config.land_buffer_m, coastline=coastline
            )
            failures = stored.get(spec.key, {}).get("failures", 0)  # carried over to a retry
            create_scene(
                root_group,
                spec,
                tile_size=config.tile_size_px,
                attrs={**run_attrs, "failures": failures},
            )
            tiles = [
                t.to_row()
                for t in plan_tiles(
                    spec.key,
                    spec.grid.shape,
                    tile_size=config.tile_size_px,
                    margin=config.margin_px,
                )
            ]
        except Exception as err:  # noqa: BLE001  (one bad scene must not stop the others)
            _record_failure(
                root_group,
                spec,
                f"{type(err).__name__}: {err}",
                max_attempts=config.max_attempts,
                result=result,
            )
            continue
        planned[spec.key] = spec
        progress[spec.key] = _SceneProgress(total=len(tiles))
        rows.extend(tiles)
        log.info("scene %s: %d tiles", spec.key, len(tiles))
    coastline.release()
    with claims.hold("_root", wait_s=_ROOT_WAIT_S):  # consolidation rewrites the root metadata
        consolidate(config.root, storage_options=config.storage_options)

    if rows:
        _configure_ray_data(config)
        gpu = config.device != "cpu" and _gpus_available()
        # One block (one read task) per predictor batch: fewer, larger tasks cost less to
        # schedule than one task per tile, and still stream (a batch is in flight at a time).
        ds = ray.data.from_items(rows, override_num_blocks=-(-len(rows) // config.batch_size))
        ds = ds.map(
            read_tile,
            fn_kwargs={
                "scenes": planned,
                "fail_on_error": config.fail_on_error,
                "rio_env": capture_rio_env(),
            },
            num_cpus=0.5,
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
                "tta": config.tta,
            },
            batch_size=config.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=config.workers),
            num_gpus=1 if gpu else 0,
            num_cpus=config.predictor_cpus,
        )
        ds = ds.map(
            write_tile,
            fn_kwargs={
                "root": config.root,
                "storage_options": dict(config.storage_options),
                "step": step,
            },
            num_cpus=0.25,
        )
        for row in ds.iter_rows():
            claims.renew_due()
            key = str(row["scene_key"])
            p = progress[key]
            p.done += 1
            result.tiles += 1
            result.pixels += int(row["pixels"])
            result.last_tile_s = time.perf_counter() - t0
            if result.first_tile_s is None:
                result.first_tile_s, result.first_tile_pixels = result.last_tile_s, result.pixels
            if row["error"]:
                p.errors.append(str(row["error"]))
            else:
                p.scored += int(row["scored"])
                p.debris += int(row["debris"])
                p.max_step = max(p.max_step, int(row["max_step"]))
            if p.done == p.total:
                _finish_scene(
                    root_group,
                    planned[key],
                    p,
                    config=config,
                    threshold=threshold,
                    result=result,
                )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("Ray Data execution statistics:\n%s", ds.stats())

    finished = datetime.now(UTC)
    # Store-wide updates under the _root claim, from freshly read metadata: another run on this
    # root may have appended its own record since this run opened the store.
    with claims.hold("_root", wait_s=_ROOT_WAIT_S):
        fresh = open_root(config.root, storage_options=config.storage_options)
        runs = list(fresh.attrs.get("runs", []))
        runs.append(
            {
                "id": run_id,
                "started": started.isoformat(),
                "finished": finished.isoformat(),
                "regions": [dict(r) for r in regions],
                "model_sha256": bundle.sha256,
                "software_version": __version__,
                "counts": result.counts.as_dict(),
            }
        )
        fresh.attrs["runs"] = runs
        consolidate(config.root, storage_options=config.storage_options)
        _index.write_index(config.root, storage_options=config.storage_options)
        _detections.write_detections(config.root, storage_options=config.storage_options)
    result.seconds = time.perf_counter() - t0
    return result
