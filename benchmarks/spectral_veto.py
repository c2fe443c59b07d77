"""What a per-pixel spectral check of plastic against its look-alikes would do on real sea.

``benchmarks/duarte_spectra.py`` shows that a linear classifier tells held-out plastic from
pumice, foam and the other look-alikes by their spectra alone far better than the network does.
This measures that classifier as a second stage behind a model bundle, without changing the
bundle: one logistic regression, plastic against every look-alike (balanced), is fitted on the
training split of the Duarte and Azevedo (2023) pixels; where the bundle's probability is over
0.5, it is multiplied by ``min(1, 2 p)``, ``p`` the classifier's probability of plastic for the
pixel's contrast with its local water (:func:`oceanscan.data.inputs.local_background`). The
probability is left as it is unless the spectrum is more like a look-alike's than like
plastic's. Then ``benchmarks/real_sea.py``'s whole measurement runs on the result, at the
bundle's threshold. Prints the ``goals`` of the measurement; ``--out`` writes all of it.

    python benchmarks/spectral_veto.py --bundle src/oceanscan/model/default --out veto.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from duarte_spectra import spectral_features

#: ``../shared`` next to the repository, where the real data lives.
_DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
#: Probabilities at or under this are left alone: the check only acts on candidate detections.
_CANDIDATE = 0.5


def fit_veto(table: str | Path) -> Any:
    """Logistic regression of plastic against every look-alike on the training split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from oceanscan.realsea.duarte import LOOKALIKES, PLASTIC, WATER, load_duarte_pixels

    train = load_duarte_pixels(table).select(split="train")
    water = np.median(train.select(label=WATER).reflectance, axis=0)
    plastic = train.select(label=PLASTIC).reflectance
    lookalikes = np.concatenate([train.select(label=k).reflectance for k in LOOKALIKES])
    classifier = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=5000, class_weight="balanced")
    )
    classifier.fit(
        spectral_features(np.concatenate([plastic, lookalikes]), water),
        np.r_[np.ones(len(plastic)), np.zeros(len(lookalikes))],
    )
    return classifier


class VetoedBundle:
    """A model bundle whose candidate detections are scaled by the spectral check."""

    def __init__(self, bundle: Any, classifier: Any) -> None:
        self.bundle, self.classifier = bundle, classifier

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bundle, name)

    def predict_proba(self, images: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """The bundle's probabilities, each candidate pixel times ``min(1, 2 p(plastic))``."""
        import torch

        from oceanscan.data.inputs import LOCAL_CONTRAST_DEFAULTS, local_background

        prob = np.array(self.bundle.predict_proba(images), dtype=np.float32)
        for image, p in zip(np.asarray(images, dtype=np.float32), prob, strict=True):
            candidate = p > _CANDIDATE
            if not candidate.any():
                continue
            filled = torch.nan_to_num(torch.from_numpy(image))
            water = local_background(
                filled[None],
                block_px=int(LOCAL_CONTRAST_DEFAULTS["block_px"]),
                smooth_blocks=int(LOCAL_CONTRAST_DEFAULTS["smooth_blocks"]),
            )[0].numpy()
            features = spectral_features(filled.numpy()[:, candidate].T, water[:, candidate].T)
            plastic = self.classifier.predict_proba(features)[:, 1]
            p[candidate] *= np.minimum(1.0, 2.0 * plastic)
        return prob


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True, help="model bundle directory")
    parser.add_argument(
        "--shared",
        default=str(_DEFAULT_SHARED),
        help=f"shared data directory holding real/ (default {_DEFAULT_SHARED})",
    )
    parser.add_argument("--out", help="also write the whole measurement to this JSON file")
    args = parser.parse_args()

    from oceanscan.model import load_bundle
    from oceanscan.realsea.measure import measure_real_sea

    real = Path(args.shared) / "real"
    if not real.is_dir():
        sys.exit(f"real data directory not found: {real} (pass --shared)")
    vetoed = VetoedBundle(load_bundle(args.bundle), fit_veto(real / "duarte2023_train_pixels.csv"))
    result = measure_real_sea(vetoed, real)  # type: ignore[arg-type]
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result["goals"], indent=2))


if __name__ == "__main__":
    main()
