"""Tiling is pure geometry: cores cover the scene once, reads add a clipped margin, padding and
cropping invert each other."""

from __future__ import annotations

import numpy as np
import pytest

from oceanscan.scan.tiling import TileSpec, crop_core, pad_to_tile, plan_tiles, tile_count


@pytest.mark.parametrize(("shape", "size"), [((192, 192), 64), ((130, 75), 64), ((5, 3), 16)])
def test_cores_cover_the_scene_exactly_once(shape, size):
    cover = np.zeros(shape, dtype=int)
    tiles = list(plan_tiles("s", shape, tile_size=size, margin=8))
    assert len(tiles) == np.prod(tile_count(shape, size))
    for t in tiles:
        cover[t.core.to_slices()] += 1
        assert t.core.row % size == 0 and t.core.col % size == 0  # cores are Zarr chunks
        assert t.index == (t.core.row // size, t.core.col // size)
    assert (cover == 1).all()


def test_read_window_is_core_plus_margin_clipped_to_the_scene():
    tiles = {t.index: t for t in plan_tiles("s", (192, 150), tile_size=64, margin=16)}
    inner = tiles[(1, 1)]
    assert (inner.read.row, inner.read.col, inner.read.height, inner.read.width) == (48, 48, 96, 96)
    assert inner.pad == ((0, 0), (0, 0))
    corner = tiles[(0, 0)]
    assert (corner.read.row, corner.read.col, corner.read.height, corner.read.width) == (
        0,
        0,
        80,
        80,
    )
    assert corner.pad == ((16, 0), (16, 0))
    edge = tiles[(2, 2)]  # partial core: columns 128..150
    assert (edge.core.height, edge.core.width) == (64, 22)
    assert (edge.read.col, edge.read.width) == (112, 38)
    assert edge.pad[1] == (0, 96 - 38)
    for t in tiles.values():
        assert t.read.height + sum(t.pad[0]) == t.padded_size == 96
        assert t.read.width + sum(t.pad[1]) == 96


def test_pad_then_crop_gives_back_the_core_pixels():
    rng = np.random.default_rng(0)
    scene = rng.random((3, 100, 70)).astype(np.float32)
    out = np.full(scene.shape, np.nan, dtype=np.float32)
    for t in plan_tiles("s", (100, 70), tile_size=32, margin=8):
        padded = pad_to_tile(scene[(slice(None), *t.read.to_slices())], t)
        assert padded.shape == (3, 48, 48)
        out[(slice(None), *t.core.to_slices())] = crop_core(padded, t)
        full = crop_core(padded, t, full=True)
        assert full.shape == (3, 32, 32)
    np.testing.assert_array_equal(out, scene)


def test_padding_reflects_the_scene_edge_like_padding_the_whole_scene():
    rng = np.random.default_rng(1)
    scene = rng.random((64, 64))
    whole = np.pad(scene, 8, mode="reflect")
    for t in plan_tiles("s", (64, 64), tile_size=32, margin=8):
        tile = pad_to_tile(scene[t.read.to_slices()], t)
        r, c = t.core.row, t.core.col  # padded origin on the whole padded scene
        np.testing.assert_array_equal(tile, whole[r : r + 48, c : c + 48])


def test_row_round_trip():
    t = next(iter(plan_tiles("scene-1", (40, 40), tile_size=16, margin=4)))
    assert TileSpec.from_row({**t.to_row(), "extra": 1}) == t


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (0, 5), "tile_size": 4, "margin": 0}, "shape"),
        ({"shape": (5, 5), "tile_size": 0, "margin": 0}, "tile_size"),
        ({"shape": (5, 5), "tile_size": 4, "margin": -1}, "margin"),
    ],
)
def test_bad_sizes_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        list(plan_tiles("s", **kwargs))


def test_pad_refuses_a_wrong_shape():
    t = next(iter(plan_tiles("s", (40, 40), tile_size=16, margin=4)))
    with pytest.raises(ValueError, match="read window"):
        pad_to_tile(np.zeros((3, 5, 5)), t)
