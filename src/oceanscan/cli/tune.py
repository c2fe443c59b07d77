"""``oceanscan tune-threshold``: choose a bundle's threshold again, for test-time augmentation or a sea."""

from __future__ import annotations

import argparse
import json

from oceanscan.cli._args import integer
from oceanscan.model.tta import TTA_VIEWS

__all__ = ["register"]


def _fraction(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction in (0, 1) or 'none', got {text!r}"
        ) from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1) or 'none', got {text!r}")
    return value


def _run(args: argparse.Namespace) -> int:
    from oceanscan.model.tuning import retune_bundle

    transform = None
    if args.config:
        from oceanscan.cli.train import load_config_dict
        from oceanscan.config import validate_config
        from oceanscan.train.config import TrainConfig
        from oceanscan.train.datasets import validation_transform

        raw = {"data_root": args.data, **load_config_dict(args.config)}
        transform = validation_transform(validate_config(raw, TrainConfig, source=args.config))
    out, choice = retune_bundle(
        args.model,
        args.out or args.model,
        args.data,
        args.split,
        debris_fraction=args.debris_fraction,
        tta=args.tta,
        batch_size=args.batch_size,
        transform=transform,
    )
    if args.json:
        print(json.dumps({"bundle": str(out), **choice.as_dict()}, indent=1))
        return 0
    fraction = "as labelled" if choice.debris_fraction is None else f"{choice.debris_fraction:g}"
    print(
        f"threshold {choice.threshold:.4g} (F1 {choice.f1:.3f} at debris fraction {fraction}, "
        f"test-time augmentation {choice.tta}, {choice.patches} "
        f"{'augmented ' if choice.augmented else ''}{choice.split} patches) -> {out}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tune-threshold`` to the ``oceanscan`` parser."""
    parser = subparsers.add_parser(
        "tune-threshold",
        help="choose a model bundle's threshold again on labelled patches",
        description=(
            "Re-tune the decision threshold of a model bundle on a MARIDA-layout split for a "
            "test-time augmentation and a debris fraction, and write the bundle with the same "
            "weights, the new threshold and the view set it was tuned with (scans then use both)."
        ),
    )
    parser.add_argument("--model", required=True, help="model bundle directory")
    parser.add_argument("--data", required=True, help="MARIDA-layout directory")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument(
        "--tta",
        default="none",
        choices=sorted(TTA_VIEWS),
        help="views averaged at inference (default none; rot180 = 2 passes, dihedral = 8)",
    )
    parser.add_argument(
        "--debris-fraction",
        type=_fraction,
        default=1e-3,
        help="tune for F1 as if this fraction of pixels were debris (default 0.001; 'none': as "
        "labelled)",
    )
    parser.add_argument(
        "--config",
        help="training configuration (YAML) the bundle was trained with: with "
        "validate_augmented, the split gets that run's fixed validation draws, as it did in "
        "training",
    )
    parser.add_argument("--out", help="write the bundle here (default: replace --model in place)")
    parser.add_argument(
        "--batch-size", type=integer(1), default=16, help="patches per forward pass (default 16)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_run)
