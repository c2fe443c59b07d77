"""Scan Sentinel-2 scenes for floating debris on a Ray cluster, or on a local Ray when there is none.

    ray job submit --working-dir . -- \
        python jobs/scan.py --config configs/scan.yaml --since-last --root s3://oceanscan-scans/scans
    python jobs/scan.py --config configs/scan.yaml --region bay-of-honduras

Under ``ray job submit`` RAY_ADDRESS points at the cluster and Ray joins it; run directly, a
local Ray starts. On a cluster of several nodes the root must be a URL every node reaches
(``s3://``, ``gs://``...): a local path is refused. The flags are those of ``oceanscan scan``;
the exit code is 1 when some scene failed in this run (so a scheduler such as a Kubernetes
CronJob or a KubeRay RayJob flags the run; a scene given up by an earlier run no longer counts),
2 for bad input. deploy/kuberay holds a RayJob and a CronJob that run it on Kubernetes.
"""

from __future__ import annotations

import argparse
import logging
import sys

from oceanscan.cli.scan import add_scan_arguments, run_scan
from oceanscan.errors import OceanscanError


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, join (or start) Ray, scan, print the run summary as JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_scan_arguments(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("oceanscan").setLevel(logging.INFO)
    try:
        return run_scan(args)
    except OceanscanError as err:
        print(f"jobs/scan.py: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
