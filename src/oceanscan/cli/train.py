"""``oceanscan train``: train the attention U-Net (Ray Train) and export the best epoch as a bundle.

The configuration is built in three layers: TrainConfig defaults, then ``--config FILE`` (YAML),
then the flags given on the command line. ``jobs/train.py`` uses the same parser and builder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from oceanscan.config import validate_config
from oceanscan.train.config import TrainConfig

__all__ = ["add_train_arguments", "config_from_args", "load_config_dict", "register"]

#: flag destination -> TrainConfig field, for the flags that override the configuration file.
_FLAG_FIELDS: dict[str, str] = {
    "data": "data_root",
    "out": "out_dir",
    "class_mapping": "class_mapping",
    "epochs": "epochs",
    "width": "base_width",
    "patch_size": "patch_size_px",
    "batch_size": "batch_size",
    "lr": "lr",
    "warmup_epochs": "warmup_epochs",
    "patience": "patience_epochs",
    "seed": "seed",
    "workers": "num_workers",
    "gpu": "use_gpu",
    "dataloader_workers": "dataloader_workers",
    "storage_path": "storage_path",
    "run_name": "run_name",
    "max_failures": "max_failures",
    "keep_checkpoints": "checkpoints_to_keep",
    "input_method": "input_method",
    "atmosphere": "atmosphere_augment",
    "real_materials": "real_materials",
    "threshold_debris_fraction": "threshold_debris_fraction",
}


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training flags; every flag defaults to "not given" so the file's value stands."""
    parser.add_argument("--config", help="YAML file with TrainConfig fields (configs/train.yaml)")
    parser.add_argument("--data", help="MARIDA-layout directory")
    parser.add_argument("--out", help="model bundle directory to write")
    parser.add_argument("--class-mapping", choices=("binary", "marida11", "floating"))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--width", type=int, help="base width of the U-Net")
    parser.add_argument("--patch-size", type=int, help="random training crop in pixels")
    parser.add_argument("--batch-size", type=int, help="samples per worker per step")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--warmup-epochs", type=int)
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--workers", type=int, help="Ray Train workers (0: in-process, no Ray)")
    parser.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--dataloader-workers", type=int)
    parser.add_argument("--storage-path", help="local directory or URL for checkpoints")
    parser.add_argument("--run-name", help="reuse a run name to resume that run")
    parser.add_argument("--max-failures", type=int)
    parser.add_argument("--keep-checkpoints", type=int)
    parser.add_argument(
        "--input-method",
        choices=("standardize", "local_contrast"),
        help="model input: MARIDA standardization or local contrast (default local_contrast)",
    )
    parser.add_argument(
        "--atmosphere",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random gain, haze, glint and noise on train (default on)",
    )
    parser.add_argument(
        "--real-materials",
        metavar="CSV",
        help="Duarte & Azevedo 2023 pixel table: paste its training plastic and look-alikes",
    )
    parser.add_argument(
        "--threshold-debris-fraction",
        type=float,
        help="tune the threshold as if this fraction of pixels were debris (default 0.001)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="set any TrainConfig field, value parsed as JSON when it parses (repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then ``--config``, then flags and ``--set`` overrides, validated together.

    Raises:
        oceanscan.errors.ConfigError: naming the bad field, file or ``--set`` item.
    """
    from oceanscan.errors import ConfigError

    data: dict[str, Any] = {}
    if args.config:
        data = load_config_dict(args.config)
    for flag, field in _FLAG_FIELDS.items():
        value = getattr(args, flag, None)
        if value is not None:
            data[field] = value
    for item in args.set:
        field, sep, raw = item.partition("=")
        if not sep or not field:
            raise ConfigError(f"--set expects FIELD=VALUE, got {item!r}")
        try:
            data[field] = json.loads(raw)
        except json.JSONDecodeError:
            data[field] = raw
    config = validate_config(data, TrainConfig, source=args.config or "command line")
    # Ray Train's workers run in working directories of their own, not this process's: a relative
    # --data would be looked up there (README's `oceanscan train --data data/synth --workers 2`
    # failed with "no MARIDA-layout dataset at 'data/synth'"), and so would the pixel table of
    # --real-materials, or the bundle of init_from. The storage path is made absolute
    # for the same reason (oceanscan.train.resolve_storage_path).
    local = {
        field: str(Path(value).expanduser().resolve())
        for field in ("data_root", "real_materials", "init_from")
        if (value := getattr(config, field)) is not None and "://" not in value
    }
    return config.model_copy(update=local) if local else config


def load_config_dict(path: str) -> dict[str, Any]:
    """The YAML file as a dict, checked field by field first so typos fail with the file name."""
    import yaml

    from oceanscan.errors import ConfigError

    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read training configuration {path!r}: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    unknown = set(raw) - set(TrainConfig.model_fields)
    if unknown:
        raise ConfigError(
            f"{path}: unknown field(s) {sorted(unknown)}; allowed: {sorted(TrainConfig.model_fields)}"
        )
    return raw


def _run(args: argparse.Namespace) -> int:
    from oceanscan.train import run_training

    cfg = config_from_args(args)
    result = run_training(cfg)
    print(
        json.dumps(
            {
                "bundle": str(result.bundle_dir),
                "best_epoch": result.best_epoch,
                "epochs_run": len(result.history),
                "run_path": result.run_path,
                **{k: result.metrics.get(k) for k in ("val_f1", "val_f1_argmax", "threshold")},
            },
            indent=1,
        )
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``train`` to the ``oceanscan`` parser."""
    parser = subparsers.add_parser(
        "train",
        help="train the attention U-Net and export a model bundle",
        description="Train on a MARIDA-layout directory with Ray Train; flags override --config.",
    )
    add_train_arguments(parser)
    parser.set_defaults(func=_run)
