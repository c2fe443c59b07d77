"""The synthetic STAC catalog: layout, COG validity, items that parse, pixels that read back."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from shapely.geometry import Point, box, shape

from oceanscan.cli import main
from oceanscan.scan.reader import read_window
from oceanscan.scene import PixelWindow, SceneSpec
from oceanscan.sentinel2 import BAND_INFO, BANDS, SCL
from oceanscan.stac import item_to_scene, search_scenes
from oceanscan.synth.catalog import (
    CLEAN_SCENE_PROBABILITY,
    COLLECTION_ID,
    DEBRIS_FRACTION_RANGE,
    SEA_SITES,
    api_records,
    draw_debris_fraction,
    write_catalog,
)
from oceanscan.synth.scene import synthesize_scene

SIZE = 64


@pytest.fixture(scope="module", params=["earthsearch", "planetarycomputer"])
def catalog(request, tmp_path_factory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp(f"catalog-{request.param}")
    path = write_catalog(out, scenes=2, size=SIZE, seed=7, profile=request.param)
    return request.param, path


def _items(catalog_json: Path) -> list[pystac.Item]:
    cat = pystac.Catalog.from_file(str(catalog_json))
    return sorted(cat.get_items(recursive=True), key=lambda i: i.id)


def test_layout_is_self_contained_best_practice(catalog):
    _, path = catalog
    root = path.parent
    assert path.name == "catalog.json"
    collection = json.loads((root / COLLECTION_ID / "collection.json").read_text())
    item_links = [link["href"] for link in collection["links"] if link["rel"] == "item"]
    assert len(item_links) == 2
    for href in item_links:
        item_path = (root / COLLECTION_ID / href).resolve()
        assert item_path.parent.name == item_path.stem  # <collection>/<id>/<id>.json
        item = json.loads(item_path.read_text())
        assert all(not link["href"].startswith(("/", "http", "file")) for link in item["links"])
        for asset in item["assets"].values():
            assert asset["href"].startswith("./")
            assert (item_path.parent / asset["href"]).is_file()
    cat = pystac.Catalog.from_file(str(path))
    assert [c.id for c in cat.get_children()] == [COLLECTION_ID]


def test_items_parse_as_their_provider(catalog):
    profile, path = catalog
    for item in _items(path):
        spec = item_to_scene(item)
        assert spec.provider == "synthetic"
        assert spec.offset == pytest.approx(-0.1)
        assert spec.grid.shape == (SIZE, SIZE)
        assert spec.grid.resolution == 10
        assert spec.scl is not None and spec.scl.grid.shape == (SIZE // 2, SIZE // 2)
        assert {b.grid.shape for b in spec.bands} == {(64, 64), (32, 32), (11, 11)}
        # The real provider's profile parses the same item to the same grids, hrefs and offset.
        as_provider = item_to_scene(item, profile=profile)
        assert (as_provider.bands, as_provider.offset, as_provider.scl) == (
            spec.bands,
            spec.offset,
            spec.scl,
        )
        expected_source = "raster:bands" if profile == "earthsearch" else "s2:processing_baseline"
        assert spec.properties["oceanscan:offset_source"] == expected_source
        raw = json.loads(
            Path(item.get_self_href()).read_text()
        )  # as written, before pystac migrates it
        crs_key = "proj:code" if profile == "earthsearch" else "proj:epsg"
        assert crs_key in raw["properties"]


def test_cogs_are_valid(catalog):
    _, path = catalog
    item = _items(path)[0]
    for asset in item.assets.values():
        with rasterio.open(asset.get_absolute_href()) as src:
            assert src.driver == "GTiff"
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert src.profile["tiled"] is True
            assert src.block_shapes == [(512, 512)]
            assert src.compression.name.lower() == "deflate"
            assert len(src.overviews(1)) >= 1
            assert src.nodata == 0
            assert src.crs.to_epsg() == int(
                item.properties.get("proj:epsg") or item.properties["proj:code"][5:]
            )
            assert list(src.shape) == asset.extra_fields["proj:shape"]
            assert list(src.transform)[:6] == asset.extra_fields["proj:transform"]


def _render(item: pystac.Item):
    return synthesize_scene(SIZE, SIZE, **item.properties["oceanscan:synthesis"])


def test_read_window_returns_the_generator_reflectance(catalog):
    _, path = catalog
    for item in _items(path):
        scene = _render(item)
        spec = item_to_scene(item)
        chunk = read_window(spec, PixelWindow(0, 0, SIZE, SIZE))
        for i, info in enumerate(BAND_INFO):
            if info.resolution_m == 10:
                np.testing.assert_allclose(
                    chunk.reflectance[i], scene.reflectance[i], atol=1e-4, err_msg=info.name
                )
        # Coarser bands hold the area mean of the generator's 10 m reflectance.
        b11 = BANDS.index("B11")
        with rasterio.open(spec.bands[b11].href) as src:
            native = src.read(1).astype(np.float64) * 1e-4 - 0.1
        blocks = scene.reflectance[b11].reshape(SIZE // 2, 2, SIZE // 2, 2).mean(axis=(1, 3))
        np.testing.assert_allclose(native, blocks, atol=1e-4)
        # The mask follows the generator's SCL.
        cloud = np.isin(
            scene.scl,
            [
                SCL.CLOUD_MEDIUM_PROBABILITY,
                SCL.CLOUD_HIGH_PROBABILITY,
                SCL.THIN_CIRRUS,
                SCL.CLOUD_SHADOWS,
            ],
        )
        assert (chunk.mask[cloud] == 2).all()


def test_truth_and_cloud_cover_match_the_scene(catalog):
    _, path = catalog
    for item in _items(path):
        scene = _render(item)
        with rasterio.open(item.assets["truth"].get_absolute_href()) as src:
            np.testing.assert_array_equal(src.read(1), scene.labels)
        scl_key = "scl" if "scl" in item.assets else "SCL"
        with rasterio.open(item.assets[scl_key].get_absolute_href()) as src:
            scl = src.read(1)
        cloudy = np.isin(scl, [8, 9, 10]).sum() / (scl != 0).sum() * 100
        assert item.properties["eo:cloud_cover"] == pytest.approx(cloudy, abs=1e-3)


def test_footprints_are_at_sea_sites(catalog):
    _, path = catalog
    for item, site in zip(_items(path), SEA_SITES, strict=False):
        footprint = shape(item.geometry)
        assert footprint.is_valid
        assert footprint.area > 0
        assert footprint.buffer(1e-9).within(box(*item.bbox).buffer(1e-6))
        assert footprint.distance(Point(site.lon, site.lat)) < 0.01  # ~1 km at most
        assert item.properties["oceanscan:site"] == site.name


def test_api_records_make_absolute_hrefs(catalog):
    _, path = catalog
    collection, items = api_records(path, base_url="http://127.0.0.1:9999/cat")
    assert collection["id"] == COLLECTION_ID and collection["links"] == []
    assert len(items) == 2
    for item in items:
        assert item["collection"] == COLLECTION_ID
        for asset in item["assets"].values():
            name = asset["href"].rsplit("/", 1)[-1]
            assert asset["href"] == f"http://127.0.0.1:9999/cat/{COLLECTION_ID}/{item['id']}/{name}"
    ndjson = [json.loads(line) for line in (path.parent / "items.ndjson").read_text().splitlines()]
    assert [i["id"] for i in ndjson] == [i["id"] for i in items]
    for item in ndjson:
        spec = item_to_scene(item)
        assert all(Path(b.href).is_absolute() and Path(b.href).is_file() for b in spec.bands)


def test_same_seed_same_pixels_other_seed_other_pixels(tmp_path):
    a = write_catalog(tmp_path / "a", scenes=1, size=32, seed=1)
    b = write_catalog(tmp_path / "b", scenes=1, size=32, seed=1)
    c = write_catalog(tmp_path / "c", scenes=1, size=32, seed=2)

    def pixels(p: Path) -> np.ndarray:
        item = _items(p)[0]
        with rasterio.open(item.assets["blue"].get_absolute_href()) as src:
            return src.read(1)

    np.testing.assert_array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(a), pixels(c))


def _fractions(p: Path) -> list[float]:
    items = sorted(_items(p), key=lambda i: i.datetime)
    return [i.properties["oceanscan:synthesis"]["debris_fraction"] for i in items]


def test_drawn_debris_fractions_are_mostly_zero_and_small():
    rng = np.random.default_rng(0)
    drawn = np.array([draw_debris_fraction(rng) for _ in range(4000)])
    clean = drawn == 0.0
    assert clean.mean() == pytest.approx(CLEAN_SCENE_PROBABILITY, abs=0.03)
    lo, hi = DEBRIS_FRACTION_RANGE
    some = drawn[~clean]
    assert lo <= some.min() and some.max() <= hi
    # log-uniform: half of the scenes with debris hold less than the geometric mean of the range
    assert np.median(some) == pytest.approx(math.sqrt(lo * hi), rel=0.1)
    # two draws whatever the outcome: the generator's stream does not depend on it
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    draw_debris_fraction(a)
    b.random(2)
    assert a.random() == b.random()


def test_debris_fractions_are_drawn_per_seed_or_given(tmp_path):
    drawn = _fractions(write_catalog(tmp_path / "drawn", scenes=3, size=32, seed=11))
    lo, hi = DEBRIS_FRACTION_RANGE
    assert all(f == 0.0 or lo <= f <= hi for f in drawn)
    assert _fractions(write_catalog(tmp_path / "again", scenes=3, size=32, seed=11)) == drawn
    given = write_catalog(tmp_path / "given", scenes=3, size=64, seed=11, debris_fractions=(0.01,))
    # the first scene takes the given fraction; the others keep what the seed draws them
    assert _fractions(given) == [0.01, *drawn[1:]]
    first = min(_items(given), key=lambda i: i.datetime)
    with rasterio.open(first.assets["truth"].get_absolute_href()) as src:
        assert (src.read(1) == 1).sum() > 0
    clean = write_catalog(tmp_path / "clean", scenes=1, size=64, seed=11, debris_fractions=[0.0])
    with rasterio.open(_items(clean)[0].assets["truth"].get_absolute_href()) as src:
        assert (src.read(1) == 1).sum() == 0
    # the other synthesis settings do not move when a fraction is given
    settings = [
        {k: v for k, v in i.properties["oceanscan:synthesis"].items() if k != "debris_fraction"}
        for p in (tmp_path / "drawn" / "catalog.json", tmp_path / "given" / "catalog.json")
        for i in sorted(_items(p), key=lambda i: i.datetime)[:1]
    ]
    assert settings[0] == settings[1]


def test_pre_04_baseline_has_no_offset(tmp_path):
    path = write_catalog(tmp_path, scenes=1, size=32, seed=3, processing_baseline="02.14")
    item = _items(path)[0]
    spec = item_to_scene(item)
    assert spec.offset == 0.0
    scene = synthesize_scene(32, 32, **item.properties["oceanscan:synthesis"])
    chunk = read_window(spec, PixelWindow(0, 0, 32, 32))
    b02 = BANDS.index("B02")
    valid = scene.reflectance[b02] >= 1e-4  # below 1 DN the value is clipped to DN 1
    np.testing.assert_allclose(
        chunk.reflectance[b02][valid], scene.reflectance[b02][valid], atol=1e-4
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scenes": 0, "size": 32}, "scenes"),
        ({"scenes": 1, "size": 8}, "size"),
        ({"scenes": 1, "size": 32, "profile": "sentinelhub"}, "profile"),
        ({"scenes": 1, "size": 32, "processing_baseline": "N0400"}, "baseline"),
        ({"scenes": 1, "size": 32, "debris_fractions": (0.1, 0.1)}, "debris_fractions has 2"),
        ({"scenes": 2, "size": 32, "debris_fractions": (None, 1.5)}, r"debris_fractions\[1\]"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_catalog(tmp_path, seed=0, **kwargs)


def test_cli_writes_a_catalog(tmp_path, capsys):
    code = main(
        [
            "synth",
            "catalog",
            "--out",
            str(tmp_path),
            "--scenes",
            "1",
            "--size",
            "32",
            "--seed",
            "5",
            "--profile",
            "planetarycomputer",
        ]
    )
    assert code == 0
    items = _items(tmp_path / "catalog.json")
    assert len(items) == 1 and "B02" in items[0].assets
    assert math.isfinite(items[0].properties["eo:cloud_cover"])


@pytest.mark.server
def test_served_catalog_end_to_end(tmp_path, pgstac_server, range_http_server):
    """Synthetic COGs behind nginx, their items in pgstac: search, then read over HTTP."""
    path = write_catalog(tmp_path / "cat", scenes=2, size=48, seed=11, profile="planetarycomputer")
    http = range_http_server(path.parent)
    collection, items = api_records(path, base_url=http.url)
    collection_id = "oceanscan-test-synthetic-e2e"
    collection["id"] = collection_id
    for item in items:
        item["collection"] = collection_id
    pgstac_server.load(collection, items)

    results = list(search_scenes(pgstac_server.url, collections=[collection_id], sortby=None))
    assert sorted(r.id for r in results) == sorted(i["id"] for i in items)
    for spec in results:
        assert isinstance(spec, SceneSpec)
        assert spec.bands[1].href.startswith(http.url + "/")
        item = next(i for i in items if i["id"] == spec.id)
        scene = synthesize_scene(48, 48, **item["properties"]["oceanscan:synthesis"])
        chunk = read_window(spec, PixelWindow(8, 4, 32, 40))
        np.testing.assert_allclose(
            chunk.reflectance[BANDS.index("B04")],
            scene.reflectance[BANDS.index("B04"), 8:40, 4:44],
            atol=1e-4,
        )
    assert http.bytes_served() > 0


def _documents(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in root.rglob("*.json")]


def test_catalog_has_no_relative_self_links(catalog):
    """Self-contained (pystac's SELF_CONTAINED): relative links, and no self link anywhere.

    The STAC spec wants self links absolute; a relative one makes stac-fastapi-static answer 500.
    """
    _, path = catalog
    documents = _documents(path.parent)
    assert {d["type"] for d in documents} == {"Catalog", "Collection", "Feature"}
    for doc in documents:
        assert [link for link in doc["links"] if link["rel"] == "self"] == []
        assert {link["rel"] for link in doc["links"]} >= {"root"}
    # pystac reads it back as the self-contained type it is, and can save it again unchanged.
    cat = pystac.Catalog.from_file(str(path))
    assert len(list(cat.get_items(recursive=True))) == 2


@pytest.mark.server
def test_written_catalog_is_served_by_the_embedded_api(tmp_path):
    """A fresh synthetic catalog behind stac-fastapi-static: search, then read COGs over HTTP."""
    from pystac_client import Client

    from oceanscan.stac_server import serve

    size = 48
    path = write_catalog(tmp_path / "cat", scenes=2, size=size, seed=5)
    written = {i.id: i for i in _items(path)}
    with serve(path) as url:
        client = Client.open(url)
        found = list(client.search(collections=[COLLECTION_ID]).items())
        assert sorted(i.id for i in found) == sorted(written)
        one = next(iter(sorted(written)))
        assert [i.id for i in client.search(ids=[one]).items()] == [one]

        results = list(search_scenes(url, collections=[COLLECTION_ID], sortby=None))
        assert sorted(r.id for r in results) == sorted(written)
        assert all(isinstance(r, SceneSpec) for r in results)
        spec = next(r for r in results if r.id == one)
        # The server hands out its own HTTP URLs for the catalog's COGs (Range requests).
        assert all(b.href.startswith(url + "/") for b in spec.bands)
        scene = synthesize_scene(size, size, **written[one].properties["oceanscan:synthesis"])
        chunk = read_window(spec, PixelWindow(8, 4, 32, 40))
        for band in ("B02", "B04", "B08"):
            np.testing.assert_allclose(
                chunk.reflectance[BANDS.index(band)],
                scene.reflectance[BANDS.index(band), 8:40, 4:44],
                atol=1e-4,
            )
