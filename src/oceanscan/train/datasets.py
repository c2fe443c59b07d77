"""Train and validation datasets of a run: the random training crop, the fixed validation draws."""

from __future__ import annotations

import zlib
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

__all__ = [
    "FixedDraws",
    "RandomCrop",
    "build_datasets",
    "data_summary",
    "input_normalization",
    "validation_transform",
]

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


class FixedDraws:
    """Run a random transform with the same draws every time it sees a given patch.

    Why: the synthetic val split holds MARIDA's mean debris in clean air, while a real sea holds
    faint debris of many colours under haze, glint and thin cloud, next to look-alikes. Choosing
    the best epoch and the threshold on the clean split picks whatever epoch is best at bright
    debris, and a threshold set for it; the real-sea figures then swing with the seed
    (docs/model.md). Validating on the same variation the train split gets, drawn once, keeps
    the choice about the sea the model is for while every epoch still sees the same patches.

    The draws come from torch's generator seeded by the patch ``id`` and ``seed`` (inside
    :func:`torch.random.fork_rng`, so the training draws are untouched); :attr:`deterministic`
    tells :class:`~oceanscan.data.MaridaDataset` that it may cache the result.

    Args:
        transform: a sample transform that draws from torch's global generator.
        seed: mixed into every patch's seed.
    """

    deterministic = True

    def __init__(self, transform: Callable[[Sample], Sample], seed: int = 0) -> None:
        self.transform = transform
        self.seed = seed

    def __call__(self, sample: Sample) -> Sample:
        """``transform(sample)`` with the draws of this sample's ``id``."""
        key = zlib.crc32(str(sample["id"]).encode()) ^ (self.seed * 0x9E3779B1 & 0xFFFFFFFF)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(key)
            return self.transform(sample)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transform!r}, seed={self.seed})"


def _domain_steps(cfg: TrainConfig) -> list[Callable[[Sample], Sample]]:
    """The augmentations that change what the sea and its debris look like (not the geometry)."""
    steps: list[Callable[[Sample], Sample]] = []
    if cfg.debris_spectrum_augment:
        steps.append(
            RandomDebrisSpectrum(
                positive=positive_class(cfg.class_mapping),
                tilt=cfg.debris_colour_tilt,
                min_contrast=cfg.debris_min_contrast,
            )
        )
    if cfg.real_materials is not None:
        pixels = load_duarte_pixels(cfg.real_materials)
        steps.append(
            PasteRealMaterials(
                pixels,
                max_pastes=cfg.real_materials_pastes,
                p_plastic=cfg.real_materials_plastic_share,
                weight=cfg.real_materials_weight,
                lookalike_weight=cfg.real_materials_lookalike_weight,
                min_strength=cfg.real_materials_min_strength,
                native_resolution=cfg.real_materials_native_resolution,
            )
        )
    if cfg.atmosphere_augment:
        steps.append(RandomAtmosphere())
    return steps


def validation_transform(cfg: TrainConfig) -> FixedDraws | None:
    """The val split's transform: ``cfg``'s domain augmentations drawn once per patch, or None.

    None unless ``cfg.validate_augmented`` and at least one such augmentation is configured.
    ``oceanscan tune-threshold --config`` uses the same transform, so a threshold chosen again
    after training is chosen on the same patches.
    """
    steps = _domain_steps(cfg) if cfg.validate_augmented else []
    return FixedDraws(_Compose(steps)) if steps else None


def build_datasets(cfg: TrainConfig) -> tuple[Dataset[Sample], Dataset[Sample]]:
    """The train split (random crop and flips/rotations when configured) and the val split.

    The val split is as stored, or with :func:`validation_transform`'s fixed draws.
    """
    steps: list[Callable[[Sample], Sample]] = []
    if cfg.patch_size_px is not None:
        steps.append(RandomCrop(cfg.patch_size_px))
    if cfg.augment:
        steps.append(RandomFlipRotate())
    steps.extend(_domain_steps(cfg))
    normalization = input_normalization(cfg)
    train = MaridaDataset(
        cfg.data_root,
        "train",
        mapping=cfg.class_mapping,
        transform=_Compose(steps) if steps else None,
        normalization=normalization,
    )
    val = MaridaDataset(
        cfg.data_root,
        "val",
        mapping=cfg.class_mapping,
        transform=validation_transform(cfg),
        normalization=normalization,
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
