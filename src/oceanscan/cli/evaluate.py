"""``oceanscan evaluate``: score a model bundle on a split, next to the FDI baseline."""

from __future__ import annotations

import argparse
import json

from oceanscan.cli._args import integer
from oceanscan.cli._table import METRICS_HEADER, metrics_columns

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from oceanscan.evaluate import evaluate_bundle

    result = evaluate_bundle(args.data, args.model, args.split, batch_size=args.batch_size)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    base = result["baseline"]
    print(f"{'':10s} {METRICS_HEADER} {'threshold':>10s}")
    for name, row in (("model", result), (base["name"], base)):
        print(f"{name:10s} {metrics_columns(row)} {row['threshold']:10.4g}")
    print(
        f"{result['split']} split: {result['patches']} patches, {result['labelled_pixels']} "
        f"labelled pixels ({result['debris_free_km2']:.4g} km2 debris-free)"
    )
    print(
        "FD/km2: false detections (flagged 8-connected components with no debris pixel) per km2 "
        "of debris-free water"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``evaluate`` to the ``oceanscan`` parser."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score a model bundle on a MARIDA-layout split against an FDI baseline",
        description=(
            "Precision, recall, F1, IoU and false detections per km2 of debris-free water "
            "(8-connected flagged components in a patch with no labelled debris pixel, per km2 of "
            "labelled non-debris pixels) of the positive class at the bundle's threshold, and of "
            "the Floating Debris Index above a threshold tuned on the val split."
        ),
    )
    parser.add_argument("--data", required=True, help="MARIDA-layout directory")
    parser.add_argument("--model", required=True, help="model bundle directory")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument(
        "--batch-size", type=integer(1), default=8, help="patches per forward pass (default 8)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=_run)
