"""How far apart plastic and its look-alikes are in their spectra alone, without a network.

A per-look-alike linear classifier (logistic regression, scikit-learn) is fitted on the training
split of Duarte and Azevedo's (2023) labelled pixels, plastic against that look-alike, and scored
on the held-out split (:mod:`oceanscan.realsea.duarte`): ROC AUC per look-alike. Each pixel is
described by its contrast with the median training-split water in the 11 bands, and by that
contrast over the size of its 842 nm contrast (its spectral shape). No spatial context, no
water it sits in: a reference for what the spectra can tell apart, beside the model's own
figures in ``benchmarks/real_sea.py`` (the same split, so the look-alikes split by pixel are
optimistic here as there). Prints one JSON object.

    python benchmarks/duarte_spectra.py --shared ../shared
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

#: ``../shared`` next to the repository, where the real data lives.
_DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def separability(table: str | Path) -> dict[str, object]:
    """Held-out ROC AUC of a linear classifier of plastic against each look-alike."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from oceanscan.model.spectral_check import spectral_features
    from oceanscan.realsea.duarte import (
        CLASS_NAMES,
        LOOKALIKES,
        PLASTIC,
        WATER,
        load_duarte_pixels,
    )

    pixels = load_duarte_pixels(table)
    train, test = pixels.select(split="train"), pixels.select(split="test")
    water = np.median(train.select(label=WATER).reflectance, axis=0)
    auc: dict[str, float] = {}
    for label in LOOKALIKES:
        fit, score = (
            (split.select(label=PLASTIC).reflectance, split.select(label=label).reflectance)
            for split in (train, test)
        )
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        classifier.fit(
            spectral_features(np.concatenate(fit), water),
            np.r_[np.ones(len(fit[0])), np.zeros(len(fit[1]))],
        )
        p = classifier.predict_proba(spectral_features(np.concatenate(score), water))[:, 1]
        truth = np.r_[np.ones(len(score[0])), np.zeros(len(score[1]))]
        auc[CLASS_NAMES[label]] = round(float(roc_auc_score(truth, p)), 3)
    return {
        "classifier": "logistic regression on standardized contrast and spectral shape",
        "held_out_auc_plastic_vs": auc,
        "held_out_pixels": {
            CLASS_NAMES[c]: int((test.label == c).sum()) for c in (PLASTIC, *LOOKALIKES)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared",
        default=str(_DEFAULT_SHARED),
        help=f"shared data directory holding real/ (default {_DEFAULT_SHARED})",
    )
    args = parser.parse_args()
    table = Path(args.shared) / "real" / "duarte2023_train_pixels.csv"
    if not table.is_file():
        sys.exit(f"Duarte pixel table not found: {table} (pass --shared)")
    print(json.dumps(separability(table), indent=2))


if __name__ == "__main__":
    main()
