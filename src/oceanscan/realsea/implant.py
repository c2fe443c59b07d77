"""Implant labelled pixel spectra into real clear water, as small blobs, to score them in context.

A detector sees neighbourhoods, not single spectra, so Duarte and Azevedo's pixels (a table of
spectra, :mod:`oceanscan.realsea.duarte`) are scored by writing each one into a real water
scene as a ``size x size`` blob (every pixel of the blob replaced by that spectrum) and running
the model on the whole image. Blobs sit on a regular grid of centres ``spacing`` pixels apart,
only where the clear water reaches further than ``margin_px`` from the blob centre in every
direction, so blobs neither touch each other, clouds, ships nor land; all blobs of one image
are scored in one forward pass.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["BLOB_SIZE", "BLOB_SPACING", "blob_slots", "implant_blobs"]

#: Side of an implanted blob, pixels.
BLOB_SIZE = 3
#: Distance between blob centres along rows and columns, pixels.
BLOB_SPACING = 16


def blob_slots(
    clear_water: npt.NDArray[np.bool_],
    *,
    spacing: int = BLOB_SPACING,
    margin_px: float = 16.0,
    seed: int = 0,
) -> npt.NDArray[np.int64]:
    """Centres where a blob can be implanted, in a fixed random order.

    Args:
        clear_water: bool ``(H, W)``, True on clear water (no cloud, shadow, ship or land).
        spacing: distance between candidate centres, pixels (default 16).
        margin_px: a centre must be more than this many pixels (Euclidean) from any pixel that
            is not clear water and from the image border (default 16).
        seed: seed of the order in which the slots are handed out.

    Returns:
        int ``(K, 2)`` of ``(row, col)`` centres.

    Raises:
        ValueError: for a ``spacing`` below 1 or a mask that is not 2-D.
    """
    clear_water = np.asarray(clear_water, dtype=bool)
    if clear_water.ndim != 2:
        raise ValueError(f"clear_water must be (H, W), got shape {clear_water.shape}")
    if spacing < 1:
        raise ValueError(f"Invalid spacing {spacing!r}; must be >= 1 pixel")
    padded = np.pad(clear_water, 1, constant_values=False)  # the border counts as not water
    distance = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
    h, w = clear_water.shape
    rows, cols = np.meshgrid(
        np.arange(spacing // 2, h, spacing), np.arange(spacing // 2, w, spacing), indexing="ij"
    )
    centres = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(np.int64)
    centres = centres[distance[centres[:, 0], centres[:, 1]] > margin_px]
    return centres[np.random.default_rng(seed).permutation(len(centres))]


def implant_blobs(
    background: npt.NDArray[np.floating],
    spectra: npt.NDArray[np.floating],
    slots: npt.NDArray[np.integer],
    *,
    size: int = BLOB_SIZE,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Write every spectrum into copies of ``background`` as a ``size x size`` blob.

    Spectra are handed the slots in order; when there are more spectra than slots, further
    copies of the background are made, so every image holds at most ``len(slots)`` blobs.

    Args:
        background: ``(bands, H, W)`` reflectance.
        spectra: ``(N, bands)`` spectra to implant.
        slots: ``(K, 2)`` blob centres ``(row, col)``, from :func:`blob_slots`.
        size: blob side, odd (default 3).

    Returns:
        ``(images, where)``: float32 ``(M, bands, H, W)`` images, and int ``(N, 3)`` giving for
        each spectrum the image index and the ``(row, col)`` of its blob centre.

    Raises:
        ValueError: for an even ``size``, no slots, mismatched band counts, or a blob that
            would leave the image.
    """
    background = np.asarray(background, dtype=np.float32)
    spectra = np.asarray(spectra, dtype=np.float32)
    slots = np.asarray(slots, dtype=np.int64).reshape(-1, 2)
    if size < 1 or size % 2 == 0:
        raise ValueError(f"Invalid blob size {size!r}; must be a positive odd number")
    if len(slots) == 0:
        raise ValueError("no slot to implant into: the clear-water mask leaves no room")
    if spectra.ndim != 2 or spectra.shape[1] != background.shape[0]:
        raise ValueError(
            f"spectra must be (N, {background.shape[0]}) to match the background's bands, "
            f"got shape {spectra.shape}"
        )
    half = size // 2
    h, w = background.shape[1:]
    if (
        (slots.min(axis=0) < half).any()
        or (slots[:, 0] >= h - half).any()
        or (slots[:, 1] >= w - half).any()
    ):
        raise ValueError(f"a {size}x{size} blob centred on a slot would leave the {h}x{w} image")
    n = len(spectra)
    count = max(1, -(-n // len(slots)))
    images = np.repeat(background[None], count, axis=0)
    where = np.empty((n, 3), dtype=np.int64)
    for i, spectrum in enumerate(spectra):
        image, slot = divmod(i, len(slots))
        r, c = slots[slot]
        images[image, :, r - half : r + half + 1, c - half : c + half + 1] = spectrum[:, None, None]
        where[i] = (image, r, c)
    return images, where
