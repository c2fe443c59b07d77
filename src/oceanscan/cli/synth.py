"""``oceanscan synth``: write synthetic training patches or a synthetic STAC catalog of scenes."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from oceanscan.cli._args import integer

__all__ = ["register"]


def _patches(args: argparse.Namespace) -> int:
    from oceanscan.synth.patches import write_patches

    start = time.perf_counter()
    out = write_patches(
        Path(args.out), args.n, size=args.size, seed=args.seed, sparse_labels=args.sparse_labels
    )
    print(f"wrote {args.n} patches of {args.size}x{args.size} to {out} "
          f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from oceanscan.synth.catalog import write_catalog

    out = write_catalog(
        Path(args.out), scenes=args.scenes, size=args.size, seed=args.seed, profile=args.profile
    )
    print(f"wrote a synthetic STAC catalog of {args.scenes} scenes to {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``synth`` and its ``patches`` and ``catalog`` subcommands to the ``oceanscan`` parser."""
    parser = subparsers.add_parser(
        "synth",
        help="write synthetic Sentinel-2 data: MARIDA-layout patches or a STAC catalog",
        description=(
            "Synthetic Sentinel-2 L2A data built from MARIDA's published class spectra: training "
            "patches in MARIDA's layout, or whole scenes as a static STAC catalog of COGs."
        ),
    )
    sub = parser.add_subparsers(dest="synth_command", metavar="KIND", required=True)
    _add_patches_parser(sub)
    _add_catalog_parser(sub)


def _add_patches_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``synth patches``: MARIDA-layout training patches."""
    patches = sub.add_parser(
        "patches",
        help="write N patches in MARIDA's layout (patches/, splits/)",
        description=(
            "Write N synthetic patches as MARIDA does: patches/S2_<d-m-yy>_<TILE>/"
            "S2_<d-m-yy>_<TILE>_<crop>{,_cl,_conf}.tif and splits/{train,val,test}_X.txt, "
            "split by acquisition in MARIDA's 694/328/350 proportions."
        ),
    )
    patches.add_argument("--out", required=True, help="output directory (created)")
    patches.add_argument(
        "--n", type=integer(3), default=600, help="number of patches, >= 3 (default 600)"
    )
    patches.add_argument(
        "--size", type=integer(16), default=256, help="patch side in pixels, >= 16 (default 256)"
    )
    patches.add_argument("--seed", type=integer(0), default=0, help="random seed (default 0)")
    patches.add_argument(
        "--sparse-labels",
        action="store_true",
        help="label objects and a few background polygons only, the rest 0 (unlabelled), "
        "as MARIDA's annotators did (default: every pixel labelled)",
    )
    patches.set_defaults(func=_patches)


def _add_catalog_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``synth catalog``: whole scenes as a static STAC catalog of COGs."""
    catalog = sub.add_parser(
        "catalog",
        help="write a static STAC catalog of synthetic scenes as Cloud-Optimized GeoTIFFs",
        description=(
            "Write whole synthetic Sentinel-2 L2A scenes as COGs with a static STAC catalog "
            "that imitates a provider's item layout, for scans without network access."
        ),
    )
    catalog.add_argument("--out", required=True, help="output directory (created)")
    catalog.add_argument(
        "--scenes", type=integer(1), default=2, help="number of scenes (default 2)"
    )
    catalog.add_argument(
        "--size",
        type=integer(16),
        default=1024,
        help="scene side in 10 m pixels, >= 16 (default 1024)",
    )
    catalog.add_argument("--seed", type=integer(0), default=0, help="random seed (default 0)")
    catalog.add_argument(
        "--profile",
        default="earthsearch",
        choices=("earthsearch", "planetarycomputer"),
        help="provider whose asset keys and DN offsets the items imitate (default earthsearch)",
    )
    catalog.set_defaults(func=_catalog)
