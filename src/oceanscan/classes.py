"""MARIDA classes and the class mappings that papers train on.

MARIDA (Kikaki et al. 2022, PLoS ONE 17(1): e0262247) labels pixels 1..15; 0 is unlabeled and is
ignored by every loss and metric, never counted as negative. A mapping turns MARIDA ids into training
targets: :data:`IGNORE_INDEX` for unlabeled pixels, 0..K-1 otherwise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "CLASS_MAPPINGS",
    "IGNORE_INDEX",
    "MARIDA_CLASSES",
    "ClassMapping",
    "class_names",
    "map_labels",
    "num_classes",
    "positive_class",
]

MARIDA_CLASSES: dict[int, str] = {
    1: "Marine Debris",
    2: "Dense Sargassum",
    3: "Sparse Sargassum",
    4: "Natural Organic Material",
    5: "Ship",
    6: "Clouds",
    7: "Marine Water",
    8: "Sediment-Laden Water",
    9: "Foam",
    10: "Turbid Water",
    11: "Shallow Water",
    12: "Waves",
    13: "Cloud Shadows",
    14: "Wakes",
    15: "Mixed Water",
}

#: Target value for unlabeled pixels (MARIDA id 0); matches torch's cross-entropy default.
IGNORE_INDEX = -100

ClassMapping = Literal["binary", "marida11", "floating"]

#: Lookup tables from MARIDA id (index 0..15) to target. ``binary``: Marine Debris against every
#: other labelled class (the default task). ``floating``: {1,2,3,4,9} against the rest
#: (marinedebrisdetector's DEBRIS_CLASSES). ``marida11``: MARIDA's reference aggregation, classes
#: 12-15 folded into Marine Water (7), giving 11 classes 0..10 in MARIDA id order.
CLASS_MAPPINGS: dict[str, npt.NDArray[np.int64]] = {
    "binary": np.array([IGNORE_INDEX, 1] + [0] * 14, dtype=np.int64),
    "floating": np.array(
        [IGNORE_INDEX] + [1 if c in (1, 2, 3, 4, 9) else 0 for c in range(1, 16)], dtype=np.int64
    ),
    "marida11": np.array(
        [IGNORE_INDEX] + [c - 1 if c <= 11 else 6 for c in range(1, 16)], dtype=np.int64
    ),
}

_NAMES: dict[str, tuple[str, ...]] = {
    "binary": ("Other", "Marine Debris"),
    "floating": ("Other", "Floating Material"),
    "marida11": tuple(MARIDA_CLASSES[c] for c in range(1, 12)),
}


def _check(mapping: str) -> None:
    if mapping not in CLASS_MAPPINGS:
        raise ValueError(
            f"Invalid class mapping {mapping!r}; must be one of {tuple(CLASS_MAPPINGS)}"
        )


def num_classes(mapping: ClassMapping) -> int:
    """Number of target classes of a mapping (2 for the binary ones, 11 for ``marida11``)."""
    _check(mapping)
    return len(_NAMES[mapping])


def class_names(mapping: ClassMapping) -> tuple[str, ...]:
    """Human-readable names of the targets 0..K-1 of a mapping."""
    _check(mapping)
    return _NAMES[mapping]


def positive_class(mapping: ClassMapping) -> int:
    """The target whose probability oceanscan maps: debris (binary, marida11) or floating material."""
    _check(mapping)
    return 0 if mapping == "marida11" else 1


def map_labels(labels: npt.NDArray[np.integer], mapping: ClassMapping) -> npt.NDArray[np.int64]:
    """Map MARIDA class ids (0..15) to training targets; 0 and out-of-range ids become ignored.

    Raises:
        ValueError: for an unknown ``mapping``.
    """
    _check(mapping)
    labels = np.asarray(labels)
    lut = CLASS_MAPPINGS[mapping]
    valid = (labels >= 0) & (labels <= 15)
    out = np.full(labels.shape, IGNORE_INDEX, dtype=np.int64)
    out[valid] = lut[labels[valid].astype(np.int64)]
    return out
