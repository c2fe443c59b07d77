"""Bad scenes, each recorded as failed with a reason while the other scenes complete.

A synthetic catalog of COGs is served over HTTP by nginx (Range requests, read through GDAL),
then broken for real: a COG cut short, a COG overwritten with garbage, an asset URL that answers
404, an item without a band, an item without projection fields, an item whose 10 m grid is 20 m.
Two more scenes are valid but have nothing to score (all cloud, all nodata): they must complete
with zero scored pixels, not fail. One scan runs them all together with two good scenes.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import zarr

from oceanscan.errors import SceneError
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.ledger import exit_code
from oceanscan.scan.pipeline import scan_scenes
from oceanscan.scan.store import FILL, open_root, read_scene_attrs, store_url
from oceanscan.sentinel2 import SCL
from oceanscan.stac import Rejected, item_to_scene
from oceanscan.synth.catalog import api_records, write_catalog
from tests.helpers.bundles import save_tiny_bundle

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.server]

CASES = (
    "good_a",
    "truncated",
    "corrupt",
    "http_404",
    "no_band",
    "no_proj",
    "grid_20m",
    "all_cloud",
    "all_nodata",
    "good_b",
)
SIZE = 64


def _rewrite(path, fill):
    """Rewrite a GeoTIFF in place with every pixel set to ``fill`` (same grid, same profile)."""
    with rasterio.open(path) as src:
        profile, shape = src.profile, (src.count, src.height, src.width)
    profile.pop("driver", None)
    with rasterio.open(path, "w", driver="GTiff", **profile) as dst:
        dst.write(np.full(shape, fill, dtype=profile["dtype"]))


def _strip_proj(item):
    for fields in (item["properties"], *item["assets"].values()):
        for key in [k for k in fields if k.startswith("proj:")]:
            del fields[key]


def _break(case, item, directory):
    assets = item["assets"]
    if case == "truncated":
        cog = directory / "B08.tif"
        data = cog.read_bytes()
        cog.write_bytes(data[: len(data) // 2])
    elif case == "corrupt":
        cog = directory / "B04.tif"
        cog.write_bytes(
            np.random.default_rng(0).integers(0, 256, cog.stat().st_size, dtype=np.uint8).tobytes()
        )
    elif case == "http_404":
        assets["swir16"]["href"] = assets["swir16"]["href"].replace("B11.tif", "gone/B11.tif")
    elif case == "no_band":
        del assets["nir08"]
    elif case == "no_proj":
        _strip_proj(item)
    elif case == "grid_20m":
        blue = assets["blue"]
        t = blue["proj:transform"]
        blue["proj:transform"] = [20.0, 0.0, t[2], 0.0, -20.0, t[5], *t[6:]]
        blue["proj:shape"] = [SIZE // 2, SIZE // 2]
    elif case == "all_cloud":
        _rewrite(directory / "SCL.tif", int(SCL.CLOUD_HIGH_PROBABILITY))
    elif case == "all_nodata":
        for band in directory.glob("B*.tif"):
            _rewrite(band, 0)


@pytest.fixture(scope="module")
def scanned(ray_session, range_http_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("bad")
    catalog = write_catalog(base / "catalog", scenes=len(CASES), size=SIZE, seed=5)
    server = range_http_server(catalog.parent)
    _, items = api_records(catalog, base_url=server.url)
    ids = {}
    candidates = []
    for case, item in zip(CASES, items, strict=True):
        directory = catalog.parent / item["collection"] / item["id"]
        _break(case, item, directory)
        ids[case] = item["id"]
        try:  # what search_scenes and catalog_scenes do with each item
            candidates.append(item_to_scene(item))
        except SceneError as err:
            candidates.append(Rejected(item["id"], err.reason))
    config = ScanConfig(
        model=str(save_tiny_bundle(base / "bundle")),
        root=str(base / "out"),
        tile_size_px=32,
        margin_px=8,
        device="cpu",
        progress_bars=False,
    )
    result = scan_scenes(candidates, config)
    return {
        "result": result,
        "ids": ids,
        "root": base / "out",
        "server": server,
        "attrs": read_scene_attrs(open_root(str(base / "out"))),
    }


EXPECTED_REASON = {
    "truncated": ["B08", "B08.tif"],
    "corrupt": ["B04", "B04.tif"],
    "http_404": ["B11", "gone/B11.tif", "404"],
    "no_band": ["missing band asset", "B8A", "nir08"],
    "no_proj": ["proj:code/proj:epsg", "proj:shape", "proj:transform"],
    "grid_20m": ["not a north-up 10 m grid", "20.0"],
}


def test_every_bad_scene_fails_with_its_reason_and_the_rest_complete(scanned):
    result, ids, attrs = scanned["result"], scanned["ids"], scanned["attrs"]
    assert sorted(result.counts.failed) == sorted(ids[c] for c in EXPECTED_REASON)
    assert sorted(result.counts.complete) == sorted(
        ids[c] for c in ("good_a", "good_b", "all_cloud", "all_nodata")
    )
    assert exit_code(result.counts) == 1
    for case, words in EXPECTED_REASON.items():
        scene = attrs[ids[case]]
        assert scene["status"] == "failed", case
        for word in words:
            assert word in scene["reason"], f"{case}: {word!r} not in {scene['reason']!r}"


def test_the_404_really_went_over_http(scanned):
    statuses = {r.status for r in scanned["server"].requests() if r.path.endswith("gone/B11.tif")}
    assert statuses == {404}
    assert any(r.status == 206 for r in scanned["server"].requests())  # Range reads elsewhere


def test_nothing_to_score_completes_with_zero_scored_pixels(scanned):
    group = zarr.open_group(store_url(str(scanned["root"])), mode="r")
    for case, why in (("all_cloud", 2), ("all_nodata", 3)):
        key = scanned["ids"][case]
        scene = scanned["attrs"][key]
        assert scene["status"] == "complete" and scene["reason"] is None
        assert scene["scored_pixels"] == 0 and scene["debris_pixels"] == 0
        assert scene["max_probability"] is None
        assert (group[f"scenes/{key}/probability"][:] == FILL).all()
        assert (group[f"scenes/{key}/mask"][:] == why).all()
    for case in ("good_a", "good_b"):
        assert scanned["attrs"][scanned["ids"][case]]["scored_pixels"] > 0


def test_failed_scenes_leave_no_half_written_pixels(scanned):
    """A scene that failed while reading may have had arrays created; none may look complete."""
    group = zarr.open_group(store_url(str(scanned["root"])), mode="r")
    for case in EXPECTED_REASON:
        key = scanned["ids"][case]
        assert scanned["attrs"][key]["status"] == "failed"
        if "probability" in group[f"scenes/{key}"]:
            assert scanned["attrs"][key].get("scored_pixels") is None
