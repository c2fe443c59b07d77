"""``oceanscan catalog``: search a STAC API for scenes, or serve a static catalog as one.

``oceanscan catalog search URL [--bbox W S E N] [--datetime A/B] [--max-cloud PCT] [--limit N]
[--collection ID]`` prints one tab-separated line per scene (id, datetime, cloud cover, offset,
provider) and one ``REJECTED`` line per item that cannot be scanned, with the reason.
``oceanscan catalog serve DIR`` serves a catalog written by ``oceanscan synth catalog``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from oceanscan.cli._args import integer, number, stac_datetime
from oceanscan.stac import DEFAULT_COLLECTIONS, PROFILES, Rejected, search_scenes

__all__ = ["register"]


def _bbox(text: str) -> list[float]:
    parts = text.replace(",", " ").split()
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bbox {text!r} must be four numbers W,S,E,N") from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"bbox {text!r} must be four numbers W,S,E,N")
    return values


def _search(args: argparse.Namespace) -> int:
    results = search_scenes(
        args.url,
        bbox=args.bbox,
        datetime=args.datetime,
        max_cloud_cover=args.max_cloud,
        collections=args.collection or DEFAULT_COLLECTIONS,
        max_items=args.limit,
        limit=min(args.limit, 100) if args.limit else None,
        sortby=args.sortby,
        profile=args.profile,
        timeout_s=args.timeout,
    )
    scenes = rejected = 0
    for result in results:
        if isinstance(result, Rejected):
            rejected += 1
            print(f"REJECTED\t{result.item_id}\t{result.reason}")
            continue
        scenes += 1
        cloud = result.properties.get("eo:cloud_cover")
        cloud_text = f"{cloud:.1f}" if isinstance(cloud, int | float) else "-"
        print(
            f"{result.id}\t{result.datetime}\t{cloud_text}\t{result.offset:+.1f}\t{result.provider}"
        )
    print(f"{scenes} scene(s), {rejected} rejected", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from oceanscan.stac_server import serve

    # SIGTERM (a scheduler, `timeout`, `kill`) must stop the server too, not orphan it.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    catalog_json = Path(args.dir) / "catalog.json"
    with serve(catalog_json, host=args.host, port=args.port) as url:
        print(f"serving {catalog_json} as a STAC API at {url} (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def register(subparsers: Any) -> None:
    """Add ``catalog search`` and ``catalog serve`` to the ``oceanscan`` parser."""
    parser = subparsers.add_parser("catalog", help="search a STAC API for Sentinel-2 L2A scenes")
    sub = parser.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)

    search = sub.add_parser(
        "search", help="list the scenes a search finds, or why items are rejected"
    )
    search.add_argument("url", help="STAC API root URL")
    search.add_argument("--bbox", type=_bbox, help="W,S,E,N in degrees")
    search.add_argument(
        "--datetime",
        type=stac_datetime,
        help="RFC 3339 instant or interval, e.g. 2025-01-01/2025-02-01 ('..' for an open end)",
    )
    search.add_argument(
        "--max-cloud", type=number(0.0, 100.0), help="maximum eo:cloud_cover in percent"
    )
    search.add_argument("--limit", type=integer(1), help="stop after this many results")
    search.add_argument(
        "--collection",
        action="append",
        help=f"collection id (repeatable); default {', '.join(DEFAULT_COLLECTIONS)}",
    )
    search.add_argument(
        "--sortby", default="datetime", help="sort field, '-' prefix for descending"
    )
    search.add_argument(
        "--profile", choices=sorted(PROFILES), help="provider profile (default: detect)"
    )
    search.add_argument(
        "--timeout",
        type=number(0.0, exclusive_minimum=True),
        default=30.0,
        help="per-request timeout in seconds (default 30)",
    )
    search.set_defaults(func=_search)

    serve = sub.add_parser("serve", help="serve a static catalog directory as a STAC API")
    serve.add_argument("dir", help="directory holding catalog.json")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=integer(0, 65535), default=0, help="TCP port; 0 picks a free one"
    )
    serve.set_defaults(func=_serve)
