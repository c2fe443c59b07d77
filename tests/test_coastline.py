"""The coastline's polygon index: the same polygons as parsing the whole WKB, cached per machine."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from oceanscan.coastline import build_polygon_index, load_polygon_index


def _islands() -> shapely.MultiPolygon:
    ring = shapely.Polygon(
        [(10, 10), (12, 10), (12, 13), (10, 13)], holes=[[(11, 11), (11.5, 11), (11.5, 12)]]
    )
    return shapely.MultiPolygon(
        [ring, shapely.box(-5, -2, -4, -1), shapely.Polygon([(179, 0), (180, 0), (180, 1)])]
    )


def test_the_index_holds_every_polygon_byte_for_byte():
    world = _islands()
    index = build_polygon_index(shapely.to_wkb(world, byte_order=1))
    parts = shapely.get_parts(world)
    assert len(index) == len(parts)
    everything = index.polygons(np.ones(len(index), dtype=bool))
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(everything, parts, strict=True))
    np.testing.assert_array_equal(index.bounds, shapely.bounds(parts))
    assert everything[0].interiors[0].coords[:] == parts[0].interiors[0].coords[:]
    near = index.near(9, 9, 11, 11)
    assert near.tolist() == [True, False, False]
    assert len(index.polygons(np.zeros(len(index), dtype=bool))) == 0


@pytest.mark.parametrize(
    ("wkb", "match"),
    [
        (shapely.to_wkb(shapely.box(0, 0, 1, 1), byte_order=1), "MultiPolygon"),
        (shapely.to_wkb(_islands(), byte_order=0), "little-endian"),
        (shapely.to_wkb(_islands(), byte_order=1)[:-40], "truncated"),
        (shapely.to_wkb(_islands(), byte_order=1) + b"\0", "ends its 3 polygons"),
    ],
)
def test_malformed_wkb_is_refused(wkb, match):
    with pytest.raises(ValueError, match=match):
        build_polygon_index(wkb)


@pytest.mark.slow
def test_the_cache_is_written_once_then_memory_mapped_and_rebuilt_when_damaged(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("OCEANSCAN_CACHE_DIR", str(tmp_path))
    built = load_polygon_index("osm")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert [f.rsplit(".", 1)[1] for f in files] == ["npz", "wkb"]
    cached = load_polygon_index("osm")
    assert isinstance(cached.wkb, np.memmap)
    np.testing.assert_array_equal(cached.starts, built.starts)
    np.testing.assert_array_equal(cached.bounds, built.bounds)
    durban = cached.near(30.9, -30.0, 31.1, -29.8)  # the coast at Durban, South Africa
    assert durban.any()
    assert shapely.equals_exact(
        shapely.union_all(cached.polygons(durban)), shapely.union_all(built.polygons(durban)), 0
    )
    index_file = next(tmp_path.glob("*.npz"))
    index_file.write_bytes(b"not an npz")
    again = load_polygon_index("osm")  # rebuilt, and the cache written again
    np.testing.assert_array_equal(again.bounds, built.bounds)
    assert isinstance(load_polygon_index("osm").wkb, np.memmap)
