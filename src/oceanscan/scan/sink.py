"""The store side of a run: a sink with a lifecycle, in the spirit of Ray Data's ``Datasink``.

:class:`ScanSink` is how a scan writes its store, and the only way it does:

1. :meth:`~ScanSink.on_write_start` opens (or creates) ``<root>/scenes.zarr`` and reads the
   ledger, the stored attributes of every scene;
2. while the run is planned, :meth:`~ScanSink.create_scene` makes each planned scene's group,
   arrays and attributes (status ``created``) and :meth:`~ScanSink.on_scene_failed` records the
   scenes that cannot be scanned; :meth:`~ScanSink.on_scenes_created` then consolidates the
   metadata;
3. the write tasks (:func:`oceanscan.scan.tasks.write_tile` with :meth:`~ScanSink.write_kwargs`)
   write each tile core, one chunk, on the workers;
4. :meth:`~ScanSink.on_scene_complete` extracts a scene's detections and marks it ``complete``
   with its summary (or ``failed`` with its first tile error) as soon as its last tile is in;
5. :meth:`~ScanSink.on_write_complete` appends the run record and writes the consolidated
   metadata, ``index.parquet`` and ``detections.parquet``.

Store-wide updates (consolidation, the run record, the index and detections files) are made
under the ``_root`` claim, so two runs on one root never interleave them. The Zarr work itself is
:mod:`oceanscan.scan.store`'s; this module decides when and what.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from oceanscan import __version__
from oceanscan.scan import detections as _detections
from oceanscan.scan import index as _index
from oceanscan.scan import store
from oceanscan.scan.claim import ClaimStore
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.ledger import RunCounts, failure_attrs
from oceanscan.scan.progress import SceneTally
from oceanscan.scene import SceneSpec, scene_key
from oceanscan.stac import Rejected

__all__ = ["ScanSink"]

#: The claim held for store-wide updates (run record, consolidation, index and detections files).
_ROOT_CLAIM = "_root"
#: Longest wait, in seconds, for another run's store-wide update (run record, consolidation,
#: index and detections files) to finish.
_ROOT_WAIT_S = 600.0

log = logging.getLogger(__name__)


class ScanSink:
    """Writes one run's scenes, statuses and run record into ``config.root``.

    Args:
        config: the scan configuration (root, storage options, Zarr format, tile size,
            ``max_attempts``).
        run_id: the run's identifier, recorded in the run record.
        threshold: the bundle's decision threshold, for the summaries and detections.
        claims: the run's claims; store-wide updates hold its ``_root`` claim.
        counts: the run's counts, which the sink updates as it records scenes.

    Raises:
        ValueError: for a threshold outside [0, 1].
    """

    def __init__(
        self,
        config: ScanConfig,
        *,
        run_id: str,
        threshold: float,
        claims: ClaimStore,
        counts: RunCounts,
    ) -> None:
        self.config = config
        self.run_id = run_id
        self.threshold = threshold
        self.step = store.threshold_step(threshold)
        self.claims = claims
        self.counts = counts
        self._root: Any = None
        self._specs: dict[str, SceneSpec] = {}

    # --- before the stream ------------------------------------------------------------------

    def on_write_start(self) -> dict[str, dict[str, Any]]:
        """Open the store, creating it in ``config.zarr_format`` when there is none.

        Returns:
            The ledger: every stored scene's attributes, by scene key.
        """
        self._root = store.open_root(
            self.config.root,
            storage_options=self.config.storage_options,
            zarr_format=self.config.zarr_format,
        )
        return store.read_scene_attrs(self._root)

    def stored_status(self, key: str) -> str | None:
        """A scene's status in the store now (another run may have completed it meanwhile)."""
        return store.scene_status(
            self.config.root, key, storage_options=self.config.storage_options
        )

    def create_scene(self, spec: SceneSpec, attrs: Mapping[str, Any]) -> None:
        """Create a planned scene's group and arrays, status ``created``, with ``attrs``."""
        store.create_scene(self._root, spec, tile_size=self.config.tile_size_px, attrs=attrs)
        self._specs[spec.key] = spec

    def on_scene_failed(self, scene: SceneSpec | Rejected, reason: str) -> None:
        """Record a scene failed (or given up, at its ``max_attempts``-th failure) and count it.

        A scene without a group yet (a rejected item, a scene whose planning failed) gets a
        bare one; the ``failures`` count comes from the group (:func:`store.create_scene`
        carries it over from the previous attempt).
        """
        item_id = scene.id if isinstance(scene, SceneSpec) else scene.item_id
        key = scene_key(item_id)
        attrs: dict[str, Any] = {"item_id": item_id}
        if isinstance(scene, SceneSpec):
            attrs.update(store.scene_attrs_from_spec(scene))
        previous = store.open_scene_attrs(self._root, key)
        failure = failure_attrs(previous, reason, max_attempts=self.config.max_attempts)
        store.update_scene_attrs(self._root, key, **attrs, **failure)
        self.counts.failed[key if isinstance(scene, SceneSpec) else item_id] = reason
        if failure["status"] == "given_up":
            self.counts.given_up.append(key)
            log.warning(
                "scene %s failed for the %d-th time, given up: %s", key, failure["failures"], reason
            )
        else:
            log.warning("scene %s failed (attempt %d): %s", key, failure["failures"], reason)

    def on_scenes_created(self) -> None:
        """Consolidate the metadata once every planned scene has its group."""
        with self.claims.hold(_ROOT_CLAIM, wait_s=_ROOT_WAIT_S):  # rewrites the root metadata
            store.consolidate(self.config.root, storage_options=self.config.storage_options)

    # --- on the workers -----------------------------------------------------------------------

    def write_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`oceanscan.scan.tasks.write_tile` for this store."""
        return {
            "root": self.config.root,
            "storage_options": dict(self.config.storage_options),
            "step": self.step,
        }

    # --- as the stream runs -----------------------------------------------------------------

    def on_scene_complete(self, key: str, tally: SceneTally) -> None:
        """A scene's last tile is in: record its detections and summary, or its failure."""
        spec = self._specs[key]
        if tally.failure is not None:
            self.on_scene_failed(spec, tally.failure)
            return
        try:
            found = _detections.write_scene_detections(
                self.config.root, key, storage_options=self.config.storage_options
            )
        except Exception as err:  # noqa: BLE001  (detections are part of completing a scene)
            self.on_scene_failed(spec, f"detections: {type(err).__name__}: {err}")
            return
        store.update_scene_attrs(
            self._root,
            key,
            status="complete",
            reason=None,
            scored_pixels=tally.scored,
            debris_pixels=tally.debris,
            max_probability=store.step_probability(tally.max_step) if tally.max_step >= 0 else None,
            detections=found,
            threshold=self.threshold,
        )
        self.counts.complete.append(key)
        log.info(
            "scene %s complete: %d tiles, %d scored px, %d debris px, %d detections",
            key,
            tally.total,
            tally.scored,
            tally.debris,
            found,
        )

    # --- at the end ---------------------------------------------------------------------------

    def on_write_complete(
        self,
        *,
        started: datetime,
        finished: datetime,
        regions: Sequence[Any],
        model_sha256: str,
    ) -> None:
        """Append the run record; write consolidated metadata, the index and the detections.

        Args:
            started: when the run started (UTC).
            finished: when its last scene was recorded (UTC).
            regions: the search windows the run covered (``{name, start, end}`` mappings or
                :class:`~oceanscan.scan.sources.SearchWindow` values), for ``--since-last``.
            model_sha256: the bundle's weights checksum.
        """
        record = {
            "id": self.run_id,
            "started": started.isoformat(),
            "finished": finished.isoformat(),
            "regions": [_window_record(r) for r in regions],
            "model_sha256": model_sha256,
            "software_version": __version__,
            "counts": self.counts.as_dict(),
        }
        root, options = self.config.root, self.config.storage_options
        with self.claims.hold(_ROOT_CLAIM, wait_s=_ROOT_WAIT_S):
            store.append_run(root, record, storage_options=options)
            store.consolidate(root, storage_options=options)
            _index.write_index(root, storage_options=options)
            _detections.write_detections(root, storage_options=options)


def _window_record(window: Any) -> dict[str, Any]:
    """A search window as the run record keeps it: ``{name, start, end}``."""
    if dataclasses.is_dataclass(window) and not isinstance(window, type):
        return dataclasses.asdict(window)
    return dict(window)
