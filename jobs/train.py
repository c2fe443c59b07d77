"""Train oceanscan's attention U-Net on a Ray cluster, or on a local Ray when there is none.

    ray job submit --working-dir . -- python jobs/train.py --config configs/train.yaml
    python jobs/train.py --config configs/train.yaml --workers 2

Under ``ray job submit`` RAY_ADDRESS points at the cluster and ``ray.init()`` connects to it;
run directly, ``ray.init()`` starts a local Ray. The flags are those of ``oceanscan train``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from oceanscan.cli.train import add_train_arguments, config_from_args
from oceanscan.errors import OceanscanError
from oceanscan.train import run_training


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, train (connecting to or starting Ray), print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        # with workers, run_training connects to RAY_ADDRESS (set by `ray job submit`) or
        # starts a local Ray
        result = run_training(config_from_args(args))
    except OceanscanError as err:
        print(f"jobs/train.py: error: {err}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "bundle": str(result.bundle_dir),
                "best_epoch": result.best_epoch,
                "epochs_run": len(result.history),
                "val_f1": result.metrics.get("val_f1"),
                "threshold": result.metrics.get("threshold"),
                "run_path": result.run_path,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
