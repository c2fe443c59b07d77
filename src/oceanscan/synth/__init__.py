"""Synthetic Sentinel-2 data built from MARIDA's published class spectra.

:func:`synthesize_scene` composes one scene (water, plumes, floating material, ships, land,
clouds, sensor); :func:`write_patches` writes a MARIDA-layout training set of such scenes.
Synthetic STAC catalogs of whole scenes live in :mod:`oceanscan.synth.catalog` (placed at the
real seas of :mod:`oceanscan.synth.sites`); MARIDA's published class spectra, which every pixel is
drawn from, in :mod:`oceanscan.synth.signatures`.
"""

from oceanscan.synth.patches import write_patches
from oceanscan.synth.scene import SyntheticScene, fdi_threshold_f1, synthesize_scene
from oceanscan.synth.spectra import class_spectrum, perturbed_spectra, split_normal_sigma

__all__ = [
    "SyntheticScene",
    "class_spectrum",
    "fdi_threshold_f1",
    "perturbed_spectra",
    "split_normal_sigma",
    "synthesize_scene",
    "write_patches",
]
