"""Joint augmentation of image and mask: the 8 symmetries of the square (flips and 90-degree turns).

Floating material has no preferred orientation in a north-up Sentinel-2 patch, so every element
of the dihedral group D4 gives a new, equally valid training sample. The geometric ops are exact
(no interpolation), so reflectance values and class ids are moved, never mixed.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["RandomFlipRotate", "flip_rotate"]

Sample = dict[str, Any]


def flip_rotate(sample: Sample, *, hflip: bool, vflip: bool, k: int) -> Sample:
    """Apply one element of D4 to ``image`` ``(..., H, W)`` and ``mask`` ``(H, W)`` of a sample.

    Order: horizontal flip, vertical flip, then ``k`` counter-clockwise quarter turns. Other keys
    (``id``...) are passed through.

    Args:
        sample: dict with tensors ``image`` (C, H, W) and ``mask`` (H, W).
        hflip: mirror left-right.
        vflip: mirror top-bottom.
        k: quarter turns, 0..3.

    Returns:
        A new dict; the input is not modified.

    Raises:
        KeyError: if ``image`` or ``mask`` is missing.
        ValueError: if ``k`` is outside 0..3 or image and mask disagree in height and width.
    """
    if k not in (0, 1, 2, 3):
        raise ValueError(f"Invalid number of quarter turns k={k!r}; must be one of (0, 1, 2, 3)")
    image, mask = sample["image"], sample["mask"]
    if tuple(image.shape[-2:]) != tuple(mask.shape[-2:]):
        raise ValueError(
            f"image {tuple(image.shape)} and mask {tuple(mask.shape)} differ in height/width"
        )
    dims = [d for d, flag in ((-1, hflip), (-2, vflip)) if flag]
    if dims:
        image = torch.flip(image, dims)
        mask = torch.flip(mask, dims)
    if k:
        image = torch.rot90(image, k, dims=(-2, -1))
        mask = torch.rot90(mask, k, dims=(-2, -1))
    out = dict(sample)
    out["image"] = image.contiguous()
    out["mask"] = mask.contiguous()
    return out


class RandomFlipRotate:
    """Random horizontal flip, vertical flip and quarter turn, applied to image and mask together.

    Draws from torch's random number generator (the global one unless ``generator`` is given), so
    ``torch.manual_seed`` (which the training loop sets per worker) makes the draws repeatable.
    Each of the 8 outcomes of D4 is reached; a flip pair plus a half turn is the identity, so
    some outcomes are reached twice out of 16 draws, which keeps the distribution uniform.

    Args:
        p_hflip: probability of a horizontal flip (default 0.5).
        p_vflip: probability of a vertical flip (default 0.5).
        rotate: draw ``k`` uniformly from 0..3 quarter turns (default True).
        generator: a ``torch.Generator`` to draw from, defaults to the global one.

    Raises:
        ValueError: for a probability outside [0, 1].
    """

    def __init__(
        self,
        p_hflip: float = 0.5,
        p_vflip: float = 0.5,
        *,
        rotate: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        for name, p in (("p_hflip", p_hflip), ("p_vflip", p_vflip)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"Invalid {name} {p!r}; must be within [0, 1]")
        self.p_hflip = p_hflip
        self.p_vflip = p_vflip
        self.rotate = rotate
        self.generator = generator

    def __call__(self, sample: Sample) -> Sample:
        """Draw one element of D4 and apply it to ``sample`` (see :func:`flip_rotate`)."""
        draws = torch.rand(2, generator=self.generator)
        k = int(torch.randint(0, 4, (), generator=self.generator)) if self.rotate else 0
        return flip_rotate(
            sample,
            hflip=bool(draws[0] < self.p_hflip),
            vflip=bool(draws[1] < self.p_vflip),
            k=k,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(p_hflip={self.p_hflip}, p_vflip={self.p_vflip}, "
            f"rotate={self.rotate})"
        )
