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
    """The options of ``oceanscan scan`` (shared with ``jobs/scan.py``), in ``--help`` order."""
    parser.add_argument("--config", help="scan YAML (configs/scan.yaml); options below override it")
    _add_region_arguments(parser)
    parser.add_argument("--stac-url", help="STAC API to search")
    parser.add_argument("--catalog", help="local static STAC catalog directory instead of an API")
    _add_source_arguments(parser)
    parser.add_argument(
        "--model", help="model bundle directory (default: the model shipped with oceanscan)"
    )
    parser.add_argument("--root", help="output root: a path or an fsspec URL (s3://...)")
    _add_run_arguments(parser)


def _add_region_arguments(parser: argparse.ArgumentParser) -> None:
    """Which regions and time windows are searched: configured, ad hoc, or since the last run."""
    parser.add_argument(
        "--region",
        action="append",
        help="scan only this configured region "
        "(repeatable); with --bbox, the name of the ad-hoc region",
    )
    parser.add_argument(
        "--since-last",
        action="store_true",
        help="search each region from an overlap (--overlap-days) before the end of its last "
        "finished run, and retry its failed scenes; complete scenes are skipped",
    )
    parser.add_argument(
        "--overlap-days",
        type=number(0.0, 366.0),
        dest="since_last_overlap_days",
        metavar="DAYS",
        help="how far --since-last searches back before the last run's end, for items "
        "published late (default 7)",
    )
    parser.add_argument(
        "--max-attempts",
        type=integer(1),
        help="runs that may fail a scene before it is given up and no longer retried "
        "(default 3; raise it to retry given-up scenes)",
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


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """How the scan runs: tiles, Ray workers and batches, device, test-time views, progress."""
    parser.add_argument(
        "--tile-size",
        type=integer(16),
        dest="tile_size_px",
        help="tile core, pixels (a multiple of 16)",
    )
    parser.add_argument(
        "--margin", type=integer(0), dest="margin_px", help="context margin, pixels"
    )
    parser.add_argument(
        "--workers",
        type=integer(1),
        help="predictor actors (default: one per GPU, or one per CPU without GPUs)",
    )
    parser.add_argument(
        "--threads",
        type=integer(1),
        dest="predictor_threads",
        help="torch threads per predictor actor on CPU (default: the node's CPUs / workers)",
    )
    parser.add_argument("--batch-size", type=integer(1), help="tiles per predictor batch")
    parser.add_argument(
        "--cpu-bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 on CPUs with bf16 instructions (default on; --no-cpu-bf16 runs float32)",
    )
    parser.add_argument(
        "--cpu-runtime",
        choices=("auto", "torch", "openvino"),
        help="what runs the network on CPUs (default auto: OpenVINO where installed, else torch)",
    )
    parser.add_argument(
        "--tile-io",
        choices=("auto", "actors", "tasks"),
        help="who reads and writes tiles: the predictor actors, Ray tasks of their own, or "
        "auto (default: tasks with GPUs, actors without)",
    )
    parser.add_argument("--limit", type=integer(1), help="at most this many scenes per region")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--tta",
        nargs="?",
        const="dihedral",
        choices=("bundle", "none", "rot180", "dihedral"),
        default=None,
        help="views of each tile averaged: bundle (default: as the model's threshold was tuned), "
        "none, rot180 (2x compute) or dihedral (8x; a bare --tta)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_false",
        dest="progress_bars",
        default=None,
        help="no tile progress bars",
    )


def _band_list(text: str) -> list[str]:
    """``--bands``: comma-separated Sentinel-2 band names, each checked."""
    from oceanscan.inputs import parse_bands

    try:
        return list(parse_bands(text.split(",")))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Files as input, provider profile and signing, land mask (``oceanscan scan`` options)."""
    from oceanscan.stac.profiles import PROFILES
    from oceanscan.stac.signing import SIGNERS

    parser.add_argument(
        "--input",
        action="append",
        metavar="PATH",
        help="scan this file instead of searching (repeatable): a multi-band GeoTIFF, a folder "
        "of band files (*_B02.tif, B02.jp2...), a Sentinel-2 L2A .SAFE directory, or a STAC "
        "Item JSON file or URL",
    )
    parser.add_argument(
        "--bands",
        type=_band_list,
        metavar="B01,B02,...",
        help="band names of an --input GeoTIFF in file order (SCL allowed); default: its band "
        "descriptions",
    )
    parser.add_argument(
        "--reflectance-offset",
        type=number(-1.0, 1.0),
        metavar="OFFSET",
        help="reflectance offset of an --input GeoTIFF's or band folder's DN (-0.1 for "
        "unharmonised L2A from baseline 04.00 on; default: GDAL metadata, else 0)",
    )
    parser.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        help="STAC provider profile for every item (default: detected per item)",
    )
    parser.add_argument(
        "--sign",
        metavar="NAME",
        help=f"sign asset hrefs: {' or '.join(SIGNERS)} (pip install planetary-computer) or "
        "module:function",
    )
    parser.add_argument(
        "--land",
        choices=("auto", "coastline", "scl"),
        help="land mask: coastline (OpenStreetMap, buffered), scl (Sen2Cor land classes), or "
        "auto (scl for synthetic scenes, else coastline; the default)",
    )
    parser.add_argument(
        "--land-buffer",
        type=number(0.0, 10_000.0),
        dest="land_buffer_m",
        metavar="METRES",
        help="seaward buffer of coastline land (default 100)",
    )


_OVERRIDES = (
    "stac_url",
    "catalog",
    "input",
    "bands",
    "reflectance_offset",
    "profile",
    "sign",
    "land",
    "land_buffer_m",
    "model",
    "root",
    "tile_size_px",
    "margin_px",
    "workers",
    "predictor_threads",
    "batch_size",
    "tile_io",
    "cpu_bf16",
    "cpu_runtime",
    "limit",
    "device",
    "tta",
    "progress_bars",
    "since_last_overlap_days",
    "max_attempts",
)


def config_from_args(args: argparse.Namespace) -> tuple[Any, list[Any] | None]:
    """Build the ScanConfig and the regions to scan from parsed arguments.

    Raises:
        ConfigError: for a bad field, an unknown region, ``--bbox`` without ``--datetime``,
            ``--datetime`` or ``--max-cloud-cover`` without ``--bbox``, or ``--input`` with
            ``--region``, ``--bbox`` or ``--since-last``.
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
        if overrides.get("input"):  # files on the command line replace the config's search
            config = config.model_copy(update={"stac_url": None, "catalog": None})
    else:
        data = {k: v for k, v in overrides.items() if v is not None}
        config = validate_config(data, ScanConfig, source="command line")
    if config.input and (args.bbox or args.region or args.since_last):
        raise ConfigError(
            "--input scans the given files; --region, --bbox and --since-last select scenes of "
            "a STAC API or catalog and do not apply to it"
        )
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
        ConfigError: for a bad option or configuration field, or a signer whose package is
            missing (exit code 2).
        SceneError: for an ``--input`` that cannot be scanned (exit code 2).
        BundleError: for a missing or malformed bundle (exit code 2).
    """
    from oceanscan.model import load_bundle
    from oceanscan.scan.files import scan_inputs
    from oceanscan.scan.ledger import exit_code
    from oceanscan.scan.predictor import convert_ahead
    from oceanscan.scan.runner import init_ray, scan_regions
    from oceanscan.scan.sources import input_scenes

    config, regions = config_from_args(args)
    bundle = load_bundle(config.model)
    # Inputs are read, and the signer imported, before Ray starts or the store is touched.
    scenes = input_scenes(config) if config.input else None
    config.href_modifier()
    # The CPU actors' network is converted while Ray starts (the scan waits for it).
    convert_ahead(bundle, device=config.device, cpu_runtime=config.cpu_runtime)
    init_ray(verbose=getattr(args, "verbose", 0) > 0)
    if scenes is not None:
        result = scan_inputs(config, bundle=bundle, scenes=scenes)
    else:
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
    from oceanscan.evaluate import evaluate_scan

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
            "Search scenes per region (STAC API or a local static catalog), or take the files "
            "given with --input, score them tile by tile on Ray Data, and write probabilities, "
            "masks, index.parquet and detections.parquet under --root. Exit code 1 when some "
            "scene failed, 2 for bad input."
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
