"""One scheduled scan: regions -> search windows -> scenes -> :func:`scan_scenes`.

The console script (``oceanscan scan``) and ``jobs/scan.py`` (under ``ray job submit``) are thin
layers over :func:`scan_regions`; :func:`init_ray` starts a local Ray or joins the cluster the job
runs on.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from oceanscan.errors import ConfigError
from oceanscan.scan.cluster import check_root_reachable
from oceanscan.scan.config import Region, ScanConfig
from oceanscan.scan.pipeline import ScanResult, scan_scenes
from oceanscan.scan.sources import (
    SearchWindow,
    catalog_scenes,
    search_window,
    source_options,
    stac_scenes,
)
from oceanscan.scan.store import open_root, read_runs, read_scene_attrs
from oceanscan.scene import SceneSpec
from oceanscan.stac import Rejected

if TYPE_CHECKING:
    from oceanscan.model import ModelBundle

__all__ = ["init_ray", "scan_regions"]

log = logging.getLogger(__name__)


def init_ray(*, verbose: bool = False) -> None:
    """Start Ray quietly, or join the cluster named by ``RAY_ADDRESS`` (as ``ray job submit`` sets).

    Does nothing when Ray is already initialised (tests, notebooks).
    """
    import ray

    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {
        "logging_level": logging.INFO if verbose else logging.WARNING,
        "log_to_driver": verbose,
    }
    if not os.environ.get("RAY_ADDRESS"):
        kwargs["include_dashboard"] = False
    ray.init(**kwargs)


def scan_regions(
    config: ScanConfig,
    *,
    regions: Sequence[Region] | None = None,
    since_last: bool = False,
    bundle: ModelBundle | None = None,
) -> ScanResult:
    """Scan the given regions (default: every configured region) into ``config.root``.

    With ``config.catalog`` and no regions at all, every item of the catalog is scanned. The
    model bundle is loaded and verified first: a missing or bad bundle leaves no store behind.

    Args:
        config: the scan configuration; needs ``stac_url`` or ``catalog``.
        regions: regions to scan; defaults to ``config.regions``.
        since_last: search each region from ``config.since_last_overlap_days`` before the end
            of its last finished run, or from the acquisition time of a failed scene still to
            be retried (see :mod:`oceanscan.scan.ledger`).
        bundle: the bundle at ``config.model``, already loaded (the console script loads it
            before starting Ray); defaults to loading it here.

    Returns:
        The run's result (see :func:`oceanscan.scan.ledger.exit_code`).

    Raises:
        ConfigError: with neither or both of ``stac_url`` and ``catalog``, or with no region
            to search a STAC API for, or a local ``root`` on a Ray cluster of several nodes.
        BundleError: when the bundle at ``config.model`` is missing or malformed.
    """
    if (config.stac_url is None) == (config.catalog is None):
        raise ConfigError(
            "give exactly one scene source: stac_url (a STAC API) or catalog (a static catalog "
            f"directory); got stac_url={config.stac_url!r}, catalog={config.catalog!r}"
        )
    if bundle is None:
        from oceanscan.model import load_bundle

        bundle = load_bundle(config.model)
    check_root_reachable(config.root)  # before the store is created
    chosen = list(config.regions if regions is None else regions)
    windows = _search_windows(config, chosen, since_last=since_last)
    sources: list[Iterable[SceneSpec | Rejected]] = []
    if config.catalog is not None and not chosen:
        if since_last:
            raise ConfigError("--since-last needs at least one region (name, area, time window)")
        sources.append(catalog_scenes(config.catalog, limit=config.limit, **source_options(config)))
    for region, window in zip(chosen, windows, strict=True):
        log.info("region %s: searching %s", region.name, window.interval)
        sources.append(_scenes(config, region, window))
    if not sources:
        raise ConfigError("no region to scan: configure regions, pass --region or --bbox")
    return scan_scenes(itertools.chain(*sources), config, regions=windows, bundle=bundle)


def _search_windows(
    config: ScanConfig, regions: Sequence[Region], *, since_last: bool
) -> list[SearchWindow]:
    """Each region's search window, from the store's run records and failed scenes.

    Opens (and creates) the store, in ``config.zarr_format``, even without ``since_last``.
    """
    root = open_root(
        config.root, storage_options=config.storage_options, zarr_format=config.zarr_format
    )
    runs = read_runs(root)
    stored = read_scene_attrs(root) if since_last else {}
    return [
        search_window(
            r,
            runs=runs,
            since_last=since_last,
            overlap=timedelta(days=config.since_last_overlap_days),
            stored=stored,
            max_attempts=config.max_attempts,
        )
        for r in regions
    ]


def _scenes(
    config: ScanConfig, region: Region, window: SearchWindow
) -> Iterable[SceneSpec | Rejected]:
    options = source_options(config)  # profile and signer (--profile, --sign)
    if config.catalog is not None:
        return catalog_scenes(
            config.catalog, region=region, window=window, limit=config.limit, **options
        )
    return stac_scenes(
        str(config.stac_url),
        region,
        window,
        collections=config.collections,
        limit=config.limit,
        **options,
    )
