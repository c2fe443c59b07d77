"""Real-sea measurement of a model bundle: real Sentinel-2 sea next to the FDI baseline.

Scores the bundle on Durban 2019-04-24 (recall of the hand-traced debris filaments, flags on the
other water), on three scenes without known debris (Manila open sea, Manila port, Mariveles:
flagged fraction of water and detections per km2), on Duarte and Azevedo's (2023) held-out pixels
implanted as 3 x 3 blobs into real clear water (ROC AUC of plastic against each look-alike and
water, fraction flagged per class), and on a fixed synthetic set (test F1, false detections per
km2 of debris-free sea); every figure also for FDI (Biermann et al. 2020) at a threshold tuned on
the synthetic val split. Ends with the goals, each with its value, target and whether it is met.
See ``docs/realsea.md``. Prints one JSON object (also written to ``--out``).

    python benchmarks/real_sea.py --bundle runs/bundle --shared ../shared --out real_sea.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

#: ``../shared`` next to the repository, where the real data lives.
_DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True, help="model bundle directory (or URL)")
    parser.add_argument(
        "--shared",
        default=str(_DEFAULT_SHARED),
        help=f"shared data directory holding real/ (default {_DEFAULT_SHARED})",
    )
    parser.add_argument("--out", help="also write the JSON to this file")
    parser.add_argument("--figure", help="also draw the Durban quicklook to this .png")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch intra-op threads (default 0: torch's own)"
    )
    parser.add_argument(
        "--runtime",
        choices=("torch", "openvino"),
        default="torch",
        help="what runs the network (default torch; scans on CPUs run openvino)",
    )
    parser.add_argument(
        "--bf16", action="store_true", help="run the network in bfloat16, as --cpu-bf16 scans do"
    )
    parser.add_argument(
        "--without-spectral-check",
        action="store_true",
        help="leave out the bundle's spectral check, to measure what it does",
    )
    args = parser.parse_args()

    import torch

    from oceanscan.model import load_bundle
    from oceanscan.realsea.measure import measure_real_sea

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    real = Path(args.shared) / "real"
    if not real.is_dir():
        sys.exit(f"real data directory not found: {real} (pass --shared)")
    start = time.perf_counter()
    bundle = load_bundle(args.bundle).with_runtime(args.runtime, bf16=args.bf16)
    if args.without_spectral_check:
        bundle = dataclasses.replace(bundle, spectral_check=None)
    report = measure_real_sea(bundle, real)
    if args.figure:
        from oceanscan.realsea.figure import scene_quicklook
        from oceanscan.realsea.scenes import load_scene

        scene_quicklook(bundle, load_scene("durban", real), args.figure)
    report["seconds"]["total"] = round(time.perf_counter() - start, 2)
    report["torch_threads"] = torch.get_num_threads()
    report["runtime"] = {"runtime": args.runtime, "bf16": args.bf16}
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
