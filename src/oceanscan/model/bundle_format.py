"""What a model bundle holds, and the checks both its writer and its reader apply.

A bundle is a directory of two files:

* ``model.pt``: the state dict only (CPU tensors, no ``module.`` prefix), loaded with
  ``torch.load(..., weights_only=True)`` so that a tampered file cannot run code on the
  scanning cluster: weights files travel through buckets and email, and a full pickle is a
  program.
* ``model.json``: the architecture and its hyperparameters, the input bands, the normalization,
  the class mapping, the decision threshold tuned on validation, how to run the network at
  inference (``inference.tta``, the views averaged; :mod:`oceanscan.model.tta`), training
  metrics, a data summary, and the sha256 of ``model.pt``, which is checked on every load.

:mod:`oceanscan.model.export` writes bundles, :mod:`oceanscan.model.bundle` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from oceanscan.data.inputs import INPUT_METHODS, LOCAL_CONTRAST_DEFAULTS
from oceanscan.model.tta import check_views

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "DEFAULT_INFERENCE",
    "META_FILE",
    "WEIGHTS_FILE",
    "check_inference",
    "check_normalization",
    "check_threshold",
]

#: Version of the ``model.json`` layout; bumped on any incompatible change (an added optional
#: field such as ``inference`` is compatible: bundles without it read as :data:`DEFAULT_INFERENCE`).
BUNDLE_FORMAT_VERSION = 1
WEIGHTS_FILE = "model.pt"
META_FILE = "model.json"

#: How a bundle without an ``inference`` field is run: one pass, no view averaging.
DEFAULT_INFERENCE: Mapping[str, Any] = {"tta": "none"}


def check_threshold(threshold: float) -> float:
    """``threshold`` as a float if it is a probability (NaN is not).

    Raises:
        ValueError: for a value outside [0, 1].
    """
    value = float(threshold)
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    return value


def check_inference(inference: Mapping[str, Any] | None) -> dict[str, Any]:
    """``inference`` completed with :data:`DEFAULT_INFERENCE` and checked.

    Raises:
        ValueError: for an unknown key or view set.
    """
    out = {**DEFAULT_INFERENCE, **dict(inference or {})}
    unknown = sorted(set(out) - set(DEFAULT_INFERENCE))
    if unknown:
        raise ValueError(
            f"inference has unknown keys {unknown}; known: {sorted(DEFAULT_INFERENCE)}"
        )
    out["tta"] = check_views(str(out["tta"]))
    return out


def check_normalization(normalization: Mapping[str, Any], n_bands: int) -> dict[str, Any]:
    """``normalization`` completed with its defaults, checked against what the code implements.

    Raises:
        ValueError: naming the field that is missing, mis-sized or out of range.
    """
    norm = dict(normalization)
    for key in ("mean", "std"):
        values = norm.get(key)
        if not isinstance(values, Sequence | np.ndarray) or len(values) != n_bands:
            raise ValueError(
                f"normalization[{key!r}] must hold one value per band ({n_bands}), got {values!r}"
            )
        norm[key] = [float(v) for v in values]
    if not all(np.isfinite(norm["mean"])) or not all(s > 0 and np.isfinite(s) for s in norm["std"]):
        raise ValueError(f"normalization needs finite means and positive stds, got {norm}")
    norm.setdefault("method", "standardize")
    norm.setdefault("nan_fill", "band_mean")
    if norm["method"] not in INPUT_METHODS or norm["nan_fill"] != "band_mean":
        raise ValueError(
            f"normalization method must be one of {INPUT_METHODS} with nan_fill 'band_mean' "
            f"(what oceanscan.data.inputs implements), got {norm['method']!r}/{norm['nan_fill']!r}"
        )
    if norm["method"] == "local_contrast":
        for key in LOCAL_CONTRAST_DEFAULTS:
            value = norm.get(key)
            if not isinstance(value, int | float) or not np.isfinite(value) or value <= 0:
                raise ValueError(
                    f"normalization[{key!r}] must be a positive number for local_contrast, "
                    f"got {value!r}"
                )
    return norm
