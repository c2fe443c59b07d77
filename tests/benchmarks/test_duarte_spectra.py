"""benchmarks/duarte_spectra.py: the spectra alone, held out, tell plastic from its look-alikes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.shared import SHARED, shared_path

PROJECT = Path(__file__).resolve().parents[2]


def test_held_out_separability_is_reported_per_lookalike():
    shared_path("real", "duarte2023_train_pixels.csv")
    out = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "benchmarks" / "duarte_spectra.py"),
            "--shared",
            str(SHARED),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT,
    )
    result = json.loads(out.stdout)
    auc = result["held_out_auc_plastic_vs"]
    assert set(auc) == {"driftwood", "seaweed", "pumice", "sea_snot", "sea_foam"}
    # measured: 1.0, 1.0, 0.978, 0.964, 0.912; a linear classifier separates every one
    assert min(auc.values()) > 0.85
    assert result["held_out_pixels"]["plastic"] == 76
