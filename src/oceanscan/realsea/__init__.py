"""Real Sentinel-2 data for judging the detector on real sea, and the spectra that ground training."""

from oceanscan.realsea.duarte import (
    CLASS_NAMES,
    HELD_OUT_SCENES,
    LOOKALIKES,
    DuartePixels,
    load_duarte_pixels,
)

__all__ = [
    "CLASS_NAMES",
    "HELD_OUT_SCENES",
    "LOOKALIKES",
    "DuartePixels",
    "load_duarte_pixels",
]
