from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from oceanscan.realsea.implant import blob_slots, implant_blobs


def test_blob_slots_keep_spacing_and_margin():
    water = np.ones((200, 180), bool)
    water[50:70, 60:90] = False  # a cloud
    slots = blob_slots(water, spacing=16, margin_px=16, seed=1)
    assert len(slots) > 10
    distance = ndimage.distance_transform_edt(np.pad(water, 1))[1:-1, 1:-1]
    assert (distance[slots[:, 0], slots[:, 1]] > 16).all()
    gaps = np.abs(slots[:, None, :] - slots[None, :, :]).max(axis=2)
    assert gaps[~np.eye(len(slots), dtype=bool)].min() >= 16
    np.testing.assert_array_equal(slots, blob_slots(water, spacing=16, margin_px=16, seed=1))


def test_implant_puts_each_spectrum_exactly_in_its_blob():
    rng = np.random.default_rng(0)
    background = rng.random((11, 64, 64), dtype=np.float32)
    spectra = rng.random((7, 11), dtype=np.float32) + 1.0  # distinct from the background
    slots = np.array([[8, 8], [8, 24], [24, 8], [40, 40]])
    images, where = implant_blobs(background, spectra, slots)
    assert images.shape == (2, 11, 64, 64)  # 7 spectra, 4 slots per image
    touched = np.zeros(images.shape, bool)
    for spectrum, (image, r, c) in zip(spectra, where, strict=True):
        blob = images[image, :, r - 1 : r + 2, c - 1 : c + 2]
        np.testing.assert_array_equal(blob, np.broadcast_to(spectrum[:, None, None], blob.shape))
        touched[image, :, r - 1 : r + 2, c - 1 : c + 2] = True
    assert touched.sum() == 7 * 9 * 11
    np.testing.assert_array_equal(
        images[~touched], np.broadcast_to(background, images.shape)[~touched]
    )
    assert [tuple(w) for w in where[:5]] == [
        (0, 8, 8),
        (0, 8, 24),
        (0, 24, 8),
        (0, 40, 40),
        (1, 8, 8),
    ]


def test_implant_errors():
    background = np.zeros((11, 32, 32), np.float32)
    with pytest.raises(ValueError, match="odd"):
        implant_blobs(background, np.zeros((1, 11)), np.array([[8, 8]]), size=2)
    with pytest.raises(ValueError, match=r"\(N, 11\)"):
        implant_blobs(background, np.zeros((1, 12)), np.array([[8, 8]]))
    with pytest.raises(ValueError, match="no slot"):
        implant_blobs(background, np.zeros((1, 11)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="leave"):
        implant_blobs(background, np.zeros((1, 11)), np.array([[0, 8]]))
