"""``oceanscan demo``: the whole chain on synthetic data, on this machine."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole chain on synthetic scenes (train, serve STAC, scan, pictures)",
        description=(
            "Write synthetic training patches, train a small attention U-Net through Ray Train, "
            "write a synthetic STAC catalog of COG scenes, serve it through the embedded STAC API, "
            "scan it on Ray Data into Zarr, and draw quicklooks, training curves and the PR curve. "
            "Steps already done in --out are reused."
        ),
    )
    parser.add_argument(
        "--out", default="oceanscan-demo", help="output directory (default: ./oceanscan-demo)"
    )
    parser.add_argument(
        "--size",
        choices=("default", "small"),
        default="default",
        help="'default' takes a few minutes on 2 cores; 'small' is a quick smoke run",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from oceanscan.demo import format_summary, run_demo

    summary = run_demo(args.out, preset=args.size)
    print(format_summary(summary))
    return 1 if summary.scan.get("failed") else 0
