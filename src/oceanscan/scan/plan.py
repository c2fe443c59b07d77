"""What a run scans, decided on the driver before any tile is read: the frozen :class:`ScanPlan`.

Planning takes the candidate scenes (SceneSpecs, and items rejected by the search) through the
ledger and the claims:

1. rejected items are recorded failed (unless given up before, or being recorded by another run);
2. the ledger drops scenes the store already has as ``complete`` or ``given_up``
   (:func:`oceanscan.scan.ledger.select_scenes`);
3. each remaining scene is claimed for this run (:mod:`oceanscan.scan.claim`), its bands checked
   against the bundle, its land worked out (coastline polygons, :mod:`oceanscan.land`), its group
   created through the sink (status ``created``) and its tiles cut (:mod:`oceanscan.scan.tiling`).

A scene that fails any of these is recorded failed and left out; the others go on. The plan keeps
only what the workers need: each scene stripped of its footprint and properties, like odc-stac's
``RasterSource.strip()``, and one flat row of scalars per tile.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from oceanscan import __version__
from oceanscan.land import Coastline, attach_land
from oceanscan.scan.claim import ClaimStore
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.ledger import is_given_up, scored_differently, select_scenes
from oceanscan.scan.sink import ScanSink
from oceanscan.scan.tiling import plan_tiles
from oceanscan.scene import SceneSpec, scene_key
from oceanscan.stac import Rejected

if TYPE_CHECKING:
    from oceanscan.model import ModelBundle

__all__ = ["ScanPlan", "plan_scan", "run_attributes"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanPlan:
    """The scenes and tiles of one run, fixed before the stream starts.

    Attributes:
        run_attrs: attributes every scene group of the run gets (model id and sha256,
            threshold, run id, software version, margin, test-time augmentation, whether the
            bundle's spectral check ran).
        scenes: the planned scenes by key, with their land, stripped of what workers do not
            read (footprint, properties).
        tiles: tiles per planned scene.
        rows: one :meth:`~oceanscan.scan.tiling.TileSpec.to_row` per tile, scene after scene.
    """

    run_attrs: Mapping[str, Any]
    scenes: Mapping[str, SceneSpec]
    tiles: Mapping[str, int]
    rows: tuple[Mapping[str, Any], ...]


def run_attributes(bundle: ModelBundle, run_id: str, config: ScanConfig) -> dict[str, Any]:
    """The attributes every scene group of a run gets, saying what scored it and how."""
    return {
        "model_id": bundle.model_id,
        "model_sha256": bundle.sha256,
        "threshold": float(bundle.threshold),
        "run_id": run_id,
        "software_version": __version__,
        "margin": config.margin_px,
        "tta": config.views(bundle.tta),
        "spectral_check": bundle.spectral_check is not None,
    }


def _for_workers(spec: SceneSpec) -> SceneSpec:
    """A scene with only what the read tasks use (assets, grid, scale, offset, land)."""
    return dataclasses.replace(spec, footprint=None, properties={})


def plan_scan(
    candidates: Iterable[SceneSpec | Rejected],
    config: ScanConfig,
    *,
    run_attrs: Mapping[str, Any],
    stored: Mapping[str, Mapping[str, Any]],
    bundle: ModelBundle,
    sink: ScanSink,
    claims: ClaimStore,
) -> ScanPlan:
    """Plan a run: record rejected items, skip what the ledger says, claim and create the rest.

    Args:
        candidates: the run's scenes, and the items the search rejected.
        config: the scan configuration.
        run_attrs: :func:`run_attributes` of the run.
        stored: the ledger (:meth:`ScanSink.on_write_start`).
        bundle: the verified model bundle, whose bands every scene must have.
        sink: where scene groups and failures are recorded; its counts are updated.
        claims: the run's claims; each planned scene is claimed for the run.

    Returns:
        The plan; the scenes skipped, failed and left to other runs are in ``sink.counts``.
    """
    candidates = list(candidates)
    specs = [c for c in candidates if isinstance(c, SceneSpec)]
    rejected = [c for c in candidates if not isinstance(c, SceneSpec)]
    given_up_before = _record_rejected(rejected, config, stored=stored, sink=sink, claims=claims)
    todo, skipped = select_scenes(specs, stored, max_attempts=config.max_attempts)
    _skip([*skipped, *given_up_before], stored=stored, run_attrs=run_attrs, sink=sink)
    scenes: dict[str, SceneSpec] = {}
    tiles: dict[str, int] = {}
    rows: list[Mapping[str, Any]] = []
    coastline = Coastline()  # the world's land, loaded once if some scene needs it
    for spec in todo:
        if not _claim(spec.key, claims=claims, sink=sink):
            continue
        planned = _plan_scene(
            spec,
            config,
            run_attrs=run_attrs,
            stored=stored,
            bundle=bundle,
            sink=sink,
            coastline=coastline,
        )
        if planned is None:
            continue
        spec, scene_rows = planned
        scenes[spec.key] = _for_workers(spec)
        tiles[spec.key] = len(scene_rows)
        rows.extend(scene_rows)
        log.info("scene %s: %d tiles", spec.key, len(scene_rows))
    coastline.release()
    return ScanPlan(
        run_attrs=MappingProxyType(dict(run_attrs)),
        scenes=MappingProxyType(scenes),
        tiles=MappingProxyType(tiles),
        rows=tuple(rows),
    )


def _skip(
    keys: list[str],
    *,
    stored: Mapping[str, Mapping[str, Any]],
    run_attrs: Mapping[str, Any],
    sink: ScanSink,
) -> None:
    """Count the scenes the ledger skips: complete, or given up by an earlier run.

    A complete scene scored with another model, view set, spectral check or threshold is still
    skipped, with a warning naming what differs: its results stay those of the earlier run.
    """
    sink.counts.skipped.extend(keys)
    for key in keys:
        attrs = stored.get(key, {})
        if attrs.get("status") != "complete":
            log.info("scene %s was given up by an earlier run; skipped", key)
            continue
        differs = scored_differently(attrs, run_attrs)
        if differs:
            detail = ", ".join(
                f"{k} {was!r} (this run: {now!r})" for k, (was, now) in differs.items()
            )
            log.warning(
                "scene %s is complete, scored with %s; skipped, its results are the earlier "
                "run's: scan into another --root to score it with this run's settings",
                key,
                detail,
            )
        else:
            log.info("scene %s already complete; skipped", key)


def _record_rejected(
    rejected: Iterable[Rejected],
    config: ScanConfig,
    *,
    stored: Mapping[str, Mapping[str, Any]],
    sink: ScanSink,
    claims: ClaimStore,
) -> list[str]:
    """Record each rejected item failed; returns the keys of those given up by earlier runs."""
    given_up_before: list[str] = []
    for item in rejected:
        key = scene_key(item.item_id or "_")
        if is_given_up(stored.get(key), config.max_attempts):
            given_up_before.append(key)
            continue
        if claims.acquire(key) is None:
            continue  # another run is recording it
        sink.on_scene_failed(item, item.reason)
    return given_up_before


def _claim(key: str, *, claims: ClaimStore, sink: ScanSink) -> bool:
    """Claim a scene for this run (see :mod:`oceanscan.scan.claim`).

    False, and the scene counted as skipped, when another live run holds it or has completed it
    since this run read the ledger: two scans of one root never write the same scene.
    """
    lease = claims.acquire(key)
    if lease is None:
        holder = claims.holder(key) or {}
        log.info("scene %s is being scanned by run %s; left to it", key, holder.get("owner"))
        sink.counts.skipped.append(key)
        return False
    if sink.stored_status(key) == "complete":
        claims.release(lease)
        log.info("scene %s was completed by another run meanwhile; skipped", key)
        sink.counts.skipped.append(key)
        return False
    return True


def _plan_scene(
    spec: SceneSpec,
    config: ScanConfig,
    *,
    run_attrs: Mapping[str, Any],
    stored: Mapping[str, Mapping[str, Any]],
    bundle: ModelBundle,
    sink: ScanSink,
    coastline: Coastline,
) -> tuple[SceneSpec, list[dict[str, Any]]] | None:
    """A claimed scene with its land, its group created and its tiles cut; None when it failed.

    Any error is recorded as the scene's failure: one bad scene must not stop the others.
    """
    try:
        bundle.check_bands(tuple(b.band for b in spec.bands))
        spec = attach_land(  # the planned scene carries its land mask
            spec, source=config.land, buffer_m=config.land_buffer_m, coastline=coastline
        )
        failures = stored.get(spec.key, {}).get("failures", 0)  # carried over to a retry
        sink.create_scene(spec, {**run_attrs, "failures": failures})
        rows = [
            t.to_row()
            for t in plan_tiles(
                spec.key, spec.grid.shape, tile_size=config.tile_size_px, margin=config.margin_px
            )
        ]
    except Exception as err:  # noqa: BLE001  (one bad scene must not stop the others)
        sink.on_scene_failed(spec, f"{type(err).__name__}: {err}")
        return None
    return spec, rows
