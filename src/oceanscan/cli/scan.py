"""``oceanscan scan`` (scene-wide inference into Zarr) and ``oceanscan evaluate-scan``."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from oceanscan.cli._args import integer, number, time_window
from oceanscan.cli._table import METRICS_HEADER, metrics_columns
from oceanscan.errors import ConfigError

__all__ = ["add_scan_arguments", "config_from_args", "register", "run_scan"]

log = logging.getLogger("oceanscan.scan")


def add_scan_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``oceanscan scan`` (shared with ``jobs/scan.py``)."""
    parser.add_argument("--config", help="scan YAML (configs/scan.yaml); options below override it")
    parser.add_argument(
        "--region",
        action="append",
        help="scan only this configured region "
        "(repeatable); with --bbox, the name of the ad-hoc region",
    )
    parser.add_argument(
        "--since-last",
        action="store_true",
        help="search each region from the end of its last successful run",
    )
    parser.add_argument(
        "--bbox",
        type=float,
        nargs=4,
        metavar=("WEST", "SOUTH", "EAST", "NORTH"),
        help="ad-hoc region in degrees (needs --datetime)",
    )
    parser.add_argument(
        "--datetime",
        type=time_window,
        metavar="START/END",
        help="time window of the --bbox region (ISO 8601, UTC unless an offset is given; "
        "START/.. for a window up to now)",
    )
    parser.add_argument(
        "--max-cloud-cover",
        type=number(0.0, 100.0),
        help="cloud limit of the --bbox region, %% (default 30)",
    )
    parser.add_argument("--stac-url", help="STAC API to search")
    parser.add_argument("--catalog", help="local static STAC catalog directory instead of an API")
    parser.add_argument(
        "--model", help="model bundle directory (default: the model shipped with oceanscan)"
    )
    parser.add_argument("--root", help="output root: a path or an fsspec URL (s3://...)")
    parser.add_argument(
        "--tile-size",
        type=integer(16),
        dest="tile_size_px",
        help="tile core, pixels (a multiple of 16)",
    )
    parser.add_argument(
        "--margin", type=integer(0), dest="margin_px", help="context margin, pixels"
    )
    parser.add_argument("--workers", type=integer(1), help="predictor actors (one GPU each)")
    parser.add_argument("--batch-size", type=integer(1), help="tiles per predictor batch")
    parser.add_argument("--limit", type=integer(1), help="at most this many scenes per region")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--tta",
        action="store_true",
        default=None,
        help="average the 8 rotations/mirrors of each tile",
    )
    parser.add_argument(
        "--no-progress",
        action="store_false",
        dest="progress_bars",
        default=None,
        help="no tile progress bars",
    )


_OVERRIDES = (
    "stac_url",
    "catalog",
    "model",
    "root",
    "tile_size_px",
    "margin_px",
    "workers",
    "batch_size",
    "limit",
    "device",
    "tta",
    "progress_bars",
)


def config_from_args(args: argparse.Namespace) -> tuple[Any, list[Any] | None]:
    """Build the ScanConfig and the regions to scan from parsed arguments.

    Raises:
        ConfigError: for a bad field, an unknown region, ``--bbox`` without ``--datetime``, or
            ``--datetime`` or ``--max-cloud-cover`` without ``--bbox``.
    """
    from oceanscan.config import validate_config
    from oceanscan.scan.config import Region, ScanConfig, load_scan_config

    overrides = {k: getattr(args, k) for k in _OVERRIDES}
    if overrides.get("catalog"):
        overrides["stac_url"] = None
    if args.config:
        config = load_scan_config(args.config, **overrides)
        if overrides.get("catalog"):
            config = config.model_copy(update={"stac_url": None})
    else:
        data = {k: v for k, v in overrides.items() if v is not None}
        config = validate_config(data, ScanConfig, source="command line")
    regions: list[Any] | None = None
    if not args.bbox and (args.datetime is not None or args.max_cloud_cover is not None):
        raise ConfigError(
            "--datetime and --max-cloud-cover describe the ad-hoc region of --bbox: add --bbox "
            "WEST SOUTH EAST NORTH, or set the time window and cloud limit of a configured "
            "region in its regions file"
        )
    if args.bbox:
        if args.datetime is None:
            raise ConfigError("--bbox needs --datetime START/END (e.g. 2025-06-01/2025-06-30)")
        start, end = args.datetime
        fields: dict[str, Any] = {
            "name": (args.region or ["adhoc"])[0],
            "bbox": tuple(args.bbox),
            "start": start,
            "end": end,
        }
        if args.max_cloud_cover is not None:
            fields["max_cloud_cover"] = args.max_cloud_cover
        regions = [validate_config(fields, Region, source="--bbox/--datetime")]
    elif args.region:
        regions = [config.region(name) for name in args.region]
    return config, regions


def run_scan(args: argparse.Namespace) -> int:
    """Run ``oceanscan scan``; exit code 1 when some scene failed.

    The configuration and the model bundle are checked before Ray starts or the store is
    touched: bad input leaves nothing behind.

    Raises:
        ConfigError: for a bad option or configuration field (exit code 2).
        BundleError: for a missing or malformed bundle (exit code 2).
    """
    from oceanscan.model import load_bundle
    from oceanscan.scan.ledger import exit_code
    from oceanscan.scan.runner import init_ray, scan_regions

    config, regions = config_from_args(args)
    bundle = load_bundle(config.model)
    init_ray(verbose=getattr(args, "verbose", 0) > 0)
    result = scan_regions(config, regions=regions, since_last=args.since_last, bundle=bundle)
    summary = {
        "run_id": result.run_id,
        "root": config.root,
        **result.counts.as_dict(),
        "failed_scenes": result.counts.failed,
        "tiles": result.tiles,
        "seconds": round(result.seconds, 2),
    }
    print(json.dumps(summary))
    return exit_code(result.counts)


def _run_evaluate(args: argparse.Namespace) -> int:
    from oceanscan.scan.evaluate import evaluate_scan

    try:
        result = evaluate_scan(args.root, args.truth)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(str(err)) from err
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{'scene':48s} {METRICS_HEADER}")
    for key, row in [*result["scenes"].items(), ("total", result["total"])]:
        print(f"{key:48s} {metrics_columns(row)}")
    print(
        "FD/km2: false detections (flagged 8-connected components with no debris pixel) per km2 "
        f"of debris-free water ({result['total']['debris_free_km2']:.4g} km2 scored in all)"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``scan`` and ``evaluate-scan`` to the ``oceanscan`` parser."""
    scan = subparsers.add_parser(
        "scan",
        help="scan Sentinel-2 scenes for floating debris into a Zarr store",
        description=(
            "Search scenes per region (STAC API or a local static catalog), score them tile by "
            "tile on Ray Data, and write probabilities, masks, index.parquet and "
            "detections.parquet under --root. Exit code 1 when some scene failed."
        ),
    )
    add_scan_arguments(scan)
    scan.set_defaults(func=run_scan)
    evaluate = subparsers.add_parser(
        "evaluate-scan",
        help="score a finished scan against the truth rasters of a synthetic catalog",
        description=(
            "Precision, recall, F1 and IoU of debris (MARIDA class 1) over scored, labeled "
            "pixels, and false detections per km2 of debris-free water (8-connected components "
            "of flagged pixels with no debris pixel), at the threshold recorded in each scene."
        ),
    )
    evaluate.add_argument("--root", required=True, help="scan output root")
    evaluate.add_argument("--truth", required=True, help="static catalog with 'truth' assets")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(func=_run_evaluate)
