"""``oceanscan spectral-check``: put a per-pixel plastic-or-look-alike check behind a bundle."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from oceanscan.model.tuning import add_spectral_check

    out, check = add_spectral_check(args.model, args.out or args.model, args.pixels)
    print(f"spectral check fitted on {check.source} -> {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``spectral-check`` to the ``oceanscan`` parser."""
    parser = subparsers.add_parser(
        "spectral-check",
        help="fit the plastic-or-look-alike spectral check into a model bundle",
        description=(
            "Fit a logistic regression of plastic against its look-alikes (driftwood, seaweed, "
            "pumice, sea snot, foam) on the training split of Duarte and Azevedo's (2023) "
            "labelled pixels, and write the bundle with it: its scans then damp candidate "
            "detections whose spectrum looks more like a look-alike than like plastic. Tune "
            "the threshold again afterwards (oceanscan tune-threshold)."
        ),
    )
    parser.add_argument("--model", required=True, help="model bundle directory")
    parser.add_argument(
        "--pixels",
        required=True,
        help="Duarte and Azevedo (2023) pixel table (../shared/real/duarte2023_train_pixels.csv)",
    )
    parser.add_argument("--out", help="write the bundle here (default: replace --model in place)")
    parser.set_defaults(func=_run)
