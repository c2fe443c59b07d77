"""Real labelled pixels of plastic and its look-alikes (Duarte and Azevedo 2023), split for honesty.

Source: Duarte, M. M. and Azevedo, L. (2023), "Automatic Detection and Identification of Floating
Marine Debris Using Multispectral Satellite Imagery", IEEE TGRS 61, 2002315; pixels from their
repository ``miguelmendesduarte/Floating-Marine-Debris-Data`` (CC-BY-4.0), ACOLITE surface
reflectance. oceanscan reads them at ``../shared/real/duarte2023_train_pixels.csv``.

The split is fixed here, once, because training (which may use the training pixels' spectra to
ground the synthetic generator) and the real-sea measurement must agree on it:

* Materials and places are confounded (every seaweed pixel is from Accra, every pumice pixel from
  Okinawa), so a model can learn a scene's atmosphere instead of a material. Classes that span
  several scenes (water, plastic, driftwood) are therefore split by scene: whole locations and
  acquisition dates are held out (:data:`HELD_OUT_SCENES`).
* Durban 2019-04-24 is the project's real evaluation scene: its plastic pixels are always held out.
* A look-alike that comes from a single scene (seaweed, pumice, sea snot, foam) can only be split
  by pixel; :func:`split` does so by a hash of the pixel's image position, which is deterministic
  and independent of row order. Those held-out pixels share their scene's atmosphere with the
  training pixels, so their figures are optimistic about new scenes; the measurement says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from oceanscan.sentinel2 import BANDS

__all__ = [
    "CLASS_NAMES",
    "HELD_OUT_SCENES",
    "LOOKALIKES",
    "DuartePixels",
    "load_duarte_pixels",
]

#: Duarte's labels: 1 water, 2 plastic, 3 driftwood, 4 seaweed, 5 pumice, 6 sea snot, 7 sea foam.
CLASS_NAMES: dict[int, str] = {
    1: "water",
    2: "plastic",
    3: "driftwood",
    4: "seaweed",
    5: "pumice",
    6: "sea_snot",
    7: "sea_foam",
}
PLASTIC = 2
WATER = 1
#: Materials that look like floating plastic in Sentinel-2 and must not be flagged as debris.
LOOKALIKES: tuple[int, ...] = (3, 4, 5, 6, 7)

#: ``(location, date)`` pairs held out of training: every pixel of these scenes is test data.
#: Durban is the project's evaluation event; Tsamakia and the last four Gulf of Gera passes
#: (August 2021) hold out plastic, water and driftwood by scene and date.
HELD_OUT_SCENES: frozenset[tuple[str, str]] = frozenset(
    {
        ("Durban", "20190424"),
        ("Tsamakia beach", "20180607"),
        ("Tsamakia beach", "20190418"),
        ("Gulf of Gera", "20210805"),
        ("Gulf of Gera", "20210810"),
        ("Gulf of Gera", "20210825"),
        ("Gulf of Gera", "20210830"),
    }
)

#: Duarte's column for each band of :data:`oceanscan.sentinel2.BANDS`.
_COLUMNS = {b: ("B" + b[1:].lstrip("0")) for b in BANDS}

Split = Literal["train", "test"]


@dataclass(frozen=True)
class DuartePixels:
    """Labelled pixel spectra.

    Attributes:
        reflectance: float32 ``(N, 11)`` surface reflectance in :data:`BANDS` order.
        label: int ``(N,)`` Duarte class ids (:data:`CLASS_NAMES`).
        location: ``(N,)`` location names.
        date: ``(N,)`` acquisition dates, ``YYYYMMDD``.
        split: ``(N,)`` ``"train"`` or ``"test"`` (see the module docstring).
    """

    reflectance: npt.NDArray[np.float32]
    label: npt.NDArray[np.int64]
    location: npt.NDArray[np.str_]
    date: npt.NDArray[np.str_]
    split: npt.NDArray[np.str_]

    def select(self, *, split: Split | None = None, label: int | None = None) -> DuartePixels:
        """The pixels of one split and/or one class."""
        keep = np.ones(self.label.shape, dtype=bool)
        if split is not None:
            keep &= self.split == split
        if label is not None:
            keep &= self.label == label
        return DuartePixels(
            self.reflectance[keep],
            self.label[keep],
            self.location[keep],
            self.date[keep],
            self.split[keep],
        )

    def __len__(self) -> int:
        return int(self.label.size)


def _pixel_in_test(location: str, date: str, x: int, y: int) -> bool:
    """Half of a single-scene class, chosen by a hash of where the pixel lies in its scene."""
    digest = hashlib.sha256(f"{location}|{date}|{x}|{y}".encode()).digest()
    return digest[0] % 2 == 1


def load_duarte_pixels(path: str | Path) -> DuartePixels:
    """Read Duarte and Azevedo's labelled pixels and assign each its split.

    Args:
        path: ``duarte2023_train_pixels.csv``.

    Returns:
        All 714 pixels, reflectance in :data:`BANDS` order.

    Raises:
        FileNotFoundError: naming the path when it does not exist.
        ValueError: when a band or label column is missing or a reflectance is not finite.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Duarte pixel table not found: {path}")
    table = pd.read_csv(path, dtype={"Date": str})
    missing = [
        c for c in (*_COLUMNS.values(), "label", "Location", "Date", "X", "Y") if c not in table
    ]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    refl = table[[_COLUMNS[b] for b in BANDS]].to_numpy(dtype=np.float32)
    if not np.isfinite(refl).all():
        raise ValueError(f"{path} has non-finite reflectance values")
    label = table["label"].to_numpy(dtype=np.int64)
    location = table["Location"].to_numpy(dtype=str)
    date = table["Date"].to_numpy(dtype=str)
    scenes_of_class = table.groupby("label")[["Location", "Date"]].apply(
        lambda g: len(set(zip(g["Location"], g["Date"], strict=True)))
    )
    split = []
    for lab, loc, day, x, y in zip(label, location, date, table["X"], table["Y"], strict=True):
        if (loc, day) in HELD_OUT_SCENES:
            split.append("test")
        elif scenes_of_class[lab] == 1:
            split.append("test" if _pixel_in_test(loc, day, int(x), int(y)) else "train")
        else:
            split.append("train")
    return DuartePixels(refl, label, location, date, np.asarray(split))
