"""The ``oceanscan`` console script.

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``;
this module only assembles them, sets up logging and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from oceanscan import __version__
from oceanscan.errors import OceanscanError

__all__ = ["build_parser", "main"]

#: Subcommand modules, in the order ``--help`` lists them.
_COMMAND_MODULES = (
    "demo",
    "synth",
    "train",
    "tune",
    "spectral_check",
    "evaluate",
    "catalog",
    "scan",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="oceanscan",
        description="Find floating marine debris in Sentinel-2 imagery: train, scan, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"oceanscan {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"oceanscan.cli.{name}")
        module.register(sub)
    return parser


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("oceanscan").setLevel(logging.INFO if verbosity == 0 else level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script; returns the process exit code (2 for bad input, 1 for failures)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except OceanscanError as err:
        print(f"oceanscan {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
