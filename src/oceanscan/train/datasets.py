"""Train and validation datasets of a run, and the random crop of training patches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from oceanscan.classes import positive_class
from oceanscan.data import MaridaDataset
from oceanscan.data.inputs import input_spec
from oceanscan.data.materials import PasteRealMaterials
from oceanscan.data.radiometry import RandomAtmosphere
from oceanscan.data.spectral import RandomDebrisSpectrum
from oceanscan.data.transforms import RandomFlipRotate
from oceanscan.realsea.duarte import load_duarte_pixels
from oceanscan.train.config import TrainConfig

__all__ = ["RandomCrop", "build_datasets", "data_summary", "input_normalization"]

Sample = dict[str, Any]


class RandomCrop:
    """Crop ``image`` (C,H,W) and ``mask`` (H,W) of a sample to ``size`` x ``size`` at one random place.

    Draws from torch's global generator, which the loop seeds per rank and checkpoints, so a
    resumed run draws the same crops as an uninterrupted one.

    Args:
        size: side of the crop in pixels; patches smaller than that are returned whole.

    Raises:
        ValueError: for ``size < 1``.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"crop size must be >= 1 pixel, got {size}")
        self.size = size

    def __call__(self, sample: Sample) -> Sample:
        """The sample with ``image`` and ``mask`` cut to the same window."""
        image, mask = sample["image"], sample["mask"]
        h, w = image.shape[-2:]
        if h <= self.size and w <= self.size:
            return sample
        top = int(torch.randint(0, max(h - self.size, 0) + 1, ()).item())
        left = int(torch.randint(0, max(w - self.size, 0) + 1, ()).item())
        out = dict(sample)
        out["image"] = image[..., top : top + self.size, left : left + self.size]
        out["mask"] = mask[top : top + self.size, left : left + self.size]
        return out


class _Compose:
    def __init__(self, steps: list[Callable[[Sample], Sample]]) -> None:
        self.steps = steps

    def __call__(self, sample: Sample) -> Sample:
        for step in self.steps:
            sample = step(sample)
        return sample


def build_datasets(cfg: TrainConfig) -> tuple[Dataset[Sample], Dataset[Sample]]:
    """The train split (random crop and flips/rotations when configured) and the val split (as is)."""
    steps: list[Callable[[Sample], Sample]] = []
    if cfg.patch_size_px is not None:
        steps.append(RandomCrop(cfg.patch_size_px))
    if cfg.augment:
        steps.append(RandomFlipRotate())
    if cfg.debris_spectrum_augment:
        steps.append(RandomDebrisSpectrum(positive=positive_class(cfg.class_mapping)))
    if cfg.real_materials is not None:
        pixels = load_duarte_pixels(cfg.real_materials)
        steps.append(
            PasteRealMaterials(
                pixels,
                max_pastes=cfg.real_materials_pastes,
                p_plastic=cfg.real_materials_plastic_share,
            )
        )
    if cfg.atmosphere_augment:
        steps.append(RandomAtmosphere())
    normalization = input_normalization(cfg)
    train = MaridaDataset(
        cfg.data_root,
        "train",
        mapping=cfg.class_mapping,
        transform=_Compose(steps) if steps else None,
        normalization=normalization,
    )
    val = MaridaDataset(
        cfg.data_root, "val", mapping=cfg.class_mapping, normalization=normalization
    )
    return train, val


def input_normalization(cfg: TrainConfig) -> dict[str, Any]:
    """The bundle ``normalization`` entry of a run: how its reflectance becomes model input."""
    return input_spec(cfg.input_method)


def data_summary(
    cfg: TrainConfig, train: Dataset[Sample], val: Dataset[Sample], counts: np.ndarray
) -> dict[str, Any]:
    """What a model is trained on, for its checkpoints and its bundle's ``data_summary``.

    Args:
        cfg: the run's configuration.
        train: the train split.
        val: the validation split.
        counts: label counts of the train split's untransformed masks.
    """
    return {
        "data_root": cfg.data_root,
        "class_mapping": cfg.class_mapping,
        "train_patches": len(train),  # type: ignore[arg-type]
        "val_patches": len(val),  # type: ignore[arg-type]
        "train_label_counts": counts.tolist(),
    }
