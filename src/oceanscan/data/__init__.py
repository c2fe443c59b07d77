"""Patch data for training and evaluation: the MARIDA reader, normalization and augmentation."""

from oceanscan.data.marida import (
    SPLITS,
    MaridaDataset,
    Split,
    label_counts,
    labelled_batches,
    labelled_patches,
    load_patch,
    patch_paths,
    read_split_ids,
)
from oceanscan.data.normalization import MARIDA_MEAN, MARIDA_STD, normalize
from oceanscan.data.transforms import RandomFlipRotate, flip_rotate
from oceanscan.errors import DatasetNotFoundError

__all__ = [
    "MARIDA_MEAN",
    "MARIDA_STD",
    "SPLITS",
    "DatasetNotFoundError",
    "MaridaDataset",
    "RandomFlipRotate",
    "Split",
    "flip_rotate",
    "label_counts",
    "labelled_batches",
    "labelled_patches",
    "load_patch",
    "normalize",
    "patch_paths",
    "read_split_ids",
]
