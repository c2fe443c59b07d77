"""Scan files given as ``input``: no search, no region, the same outputs as a catalog scene.

A GeoTIFF stack, a folder of band files, a Sentinel-2 L2A ``.SAFE`` or a STAC Item becomes a
:class:`~oceanscan.scene.SceneSpec` (:mod:`oceanscan.inputs`) and goes through
:func:`~oceanscan.scan.pipeline.scan_scenes` like a searched scene: same Zarr group, ledger entry,
``index.parquet`` row and detections. A rerun skips the scenes already complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from oceanscan.errors import ConfigError
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.pipeline import ScanResult, scan_scenes
from oceanscan.scan.sources import input_scenes
from oceanscan.scene import SceneSpec

if TYPE_CHECKING:
    from oceanscan.model import ModelBundle

__all__ = ["scan_inputs"]


def scan_inputs(
    config: ScanConfig,
    *,
    bundle: ModelBundle | None = None,
    scenes: Sequence[SceneSpec] | None = None,
) -> ScanResult:
    """Scan the files of ``config.input`` into ``config.root``.

    The bundle is loaded and every input read before Ray starts or the store is touched, so a
    bad bundle or a bad input leaves nothing behind. Ray is started when it is not running.

    Args:
        config: the scan configuration, with ``input`` set and neither ``stac_url`` nor
            ``catalog``.
        bundle: the bundle at ``config.model``, already loaded; defaults to loading it here.
        scenes: the inputs already read with :func:`oceanscan.scan.sources.input_scenes`;
            defaults to reading them here.

    Returns:
        The run's result (see :func:`oceanscan.scan.ledger.exit_code`).

    Raises:
        ConfigError: without ``input``, or with ``stac_url`` or ``catalog`` as well.
        SceneError: for an input that cannot become a scene.
        BundleError: when the bundle at ``config.model`` is missing or malformed.
    """
    if not config.input:
        raise ConfigError("no input to scan: give input (files, .SAFE, STAC Items)")
    if config.stac_url is not None or config.catalog is not None:
        raise ConfigError(
            "give one scene source: input (files) or stac_url (a STAC API) or catalog (a static "
            f"catalog); got input={config.input!r}, stac_url={config.stac_url!r}, "
            f"catalog={config.catalog!r}"
        )
    if bundle is None:
        from oceanscan.model import load_bundle

        bundle = load_bundle(config.model)
    specs = list(scenes) if scenes is not None else input_scenes(config)
    return scan_scenes(specs, config, bundle=bundle)
