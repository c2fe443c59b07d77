"""Provider profiles on every real STAC item in ../shared/fixtures/stac, and their error paths."""

from __future__ import annotations

import copy
from typing import Any

import pystac
import pytest

from oceanscan.errors import SceneError
from oceanscan.scene import RasterGrid
from oceanscan.sentinel2 import BAND_INFO, BANDS
from oceanscan.stac import PROFILES, baseline_offset, detect_profile, item_to_scene
from tests.helpers.shared import shared_path, stac_fixture

_RES = {b.name: b.resolution_m for b in BAND_INFO}
_ES_KEYS = {
    "B01": "coastal",
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B05": "rededge1",
    "B06": "rededge2",
    "B07": "rededge3",
    "B08": "nir",
    "B8A": "nir08",
    "B11": "swir16",
    "B12": "swir22",
}


def _es_href(base: str, band: str) -> str:
    return f"{base}/{band}.tif"


def _pc_href(base: str, stem: str, band: str) -> str:
    res = _RES.get(band, 20)  # SCL is 20 m
    return f"{base}/R{res}m/{stem}_{band}_{res}m.tif"


_PC = "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2"

#: fixture file -> what the item must become. Values read off the JSON by hand.
EXPECTED: dict[str, dict[str, Any]] = {
    "earthsearch_v1_sentinel-2-c1-l2a_S2B_T24MUV_20250731T130245_L2A.json": {
        "provider": "earthsearch-c1",
        "offset": -0.1,
        "source": "raster:bands",
        "crs": "EPSG:32724",
        "origin": (300000.0, 9500020.0),
        "href": lambda b: _es_href(
            "https://e84-earth-search-sentinel-data.s3.us-west-2.amazonaws.com/sentinel-2-c1-l2a"
            "/24/M/UV/2025/7/S2B_T24MUV_20250731T130245_L2A",
            b,
        ),
        "datetime": "2025-07-31T13:03:27.058000Z",
        "tile": "24MUV",
        "cloud": 56.813848,
    },
    "earthsearch_v1_sentinel-2-l2a_S2B_24MUV_20250731_0_L2A.json": {
        "provider": "earthsearch",
        "offset": 0.0,  # earthsearch:boa_offset_applied: true, although raster:bands says -0.1
        "source": "earthsearch:boa_offset_applied",
        "crs": "EPSG:32724",
        "origin": (300000.0, 9500020.0),
        "href": lambda b: _es_href(
            "https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/24/M/UV/2025/7"
            "/S2B_24MUV_20250731_0_L2A",
            b,
        ),
        "datetime": "2025-07-31T13:03:27.058000Z",
        "tile": "24MUV",
        "cloud": 56.813848,
    },
    "planetarycomputer_sentinel-2-l2a_baseline0212_S2A_MSIL2A_20190101T000001_R116_T59ULV_20201007T214655.json": {
        "provider": "planetarycomputer",
        "offset": 0.0,
        "source": "s2:processing_baseline",
        "crs": "EPSG:32659",
        "origin": (300000.0, 6000000.0),
        "href": lambda b: _pc_href(
            f"{_PC}/59/U/LV/2019/01/01/S2A_MSIL2A_20190101T000001_N0212_R116_T59ULV_20201007T214655"
            ".SAFE/GRANULE/L2A_T59ULV_A018417_20181231T235957/IMG_DATA",
            "T59ULV_20190101T000001",
            b,
        ),
        "datetime": "2019-01-01T00:00:01.024000Z",
        "tile": "59ULV",
        "cloud": 30.278842,
    },
    "planetarycomputer_sentinel-2-l2a_baseline0400_S2B_MSIL2A_20220612T182919_R027_T24XWR_20220613T123251.json": {
        "provider": "planetarycomputer",
        "offset": -0.1,
        "source": "s2:processing_baseline",
        "crs": "EPSG:32624",
        "origin": (499980.0, 9100020.0),
        "href": lambda b: _pc_href(
            f"{_PC}/24/X/WR/2022/06/12/S2B_MSIL2A_20220612T182919_N0400_R027_T24XWR_20220613T123251"
            ".SAFE/GRANULE/L2A_T24XWR_A027509_20220612T182920/IMG_DATA",
            "T24XWR_20220612T182919",
            b,
        ),
        "datetime": "2022-06-12T18:29:19.024000Z",
        "tile": "24XWR",
        "cloud": 30.529344,
    },
    "planetarycomputer_sentinel-2-l2a_baseline0511_S2B_MSIL2A_20250312T014549_R074_T53NKG_20250312T041213.json": {
        "provider": "planetarycomputer",
        "offset": -0.1,
        "source": "s2:processing_baseline",
        "crs": "EPSG:32653",
        "origin": (199980.0, 700020.0),
        "href": lambda b: _pc_href(
            f"{_PC}/53/N/KG/2025/03/12/S2B_MSIL2A_20250312T014549_N0511_R074_T53NKG_20250312T041213"
            ".SAFE/GRANULE/L2A_T53NKG_A041856_20250312T014547/IMG_DATA",
            "T53NKG_20250312T014549",
            b,
        ),
        "datetime": "2025-03-12T01:45:49.024000Z",
        "tile": "53NKG",
        "cloud": 9.976021,
    },
}
ITEM_FILES = sorted(EXPECTED)
COLLECTION_FILE = "planetarycomputer_sentinel-2-l2a_collection.json"


def test_every_fixture_is_covered():
    files = {p.name for p in shared_path("fixtures", "stac").glob("*.json")}
    assert files == set(ITEM_FILES) | {COLLECTION_FILE}


@pytest.mark.parametrize("name", ITEM_FILES)
def test_fixture_to_scene(name):
    want = EXPECTED[name]
    item = stac_fixture(name)
    before = copy.deepcopy(item)
    spec = item_to_scene(item)

    assert item == before  # the input is not modified
    assert spec.id == item["id"]
    assert spec.collection == item["collection"]
    assert spec.provider == want["provider"]
    assert spec.offset == pytest.approx(want["offset"], abs=1e-12)
    assert spec.scale == pytest.approx(1e-4)
    assert spec.properties["oceanscan:offset_source"] == want["source"]
    assert spec.datetime == want["datetime"]
    assert spec.properties["s2:mgrs_tile"] == want["tile"]
    assert spec.properties["eo:cloud_cover"] == pytest.approx(want["cloud"])
    assert spec.footprint == item["geometry"]

    assert tuple(b.band for b in spec.bands) == BANDS
    x0, y0 = want["origin"]
    for band in spec.bands:
        res = _RES[band.band]
        assert band.href == want["href"](band.band), band.band
        assert band.grid == RasterGrid(
            crs=want["crs"],
            transform=(float(res), 0.0, x0, 0.0, -float(res), y0),
            shape=(109800 // res, 109800 // res),
        ), band.band
    assert spec.grid == spec.bands[1].grid
    assert spec.grid.resolution == 10.0
    assert spec.grid.shape == (10980, 10980)

    assert spec.scl is not None
    assert spec.scl.band == "SCL"
    assert spec.scl.href == want["href"]("SCL")
    assert spec.scl.grid == RasterGrid(want["crs"], (20.0, 0.0, x0, 0.0, -20.0, y0), (5490, 5490))


@pytest.mark.parametrize("name", ITEM_FILES)
def test_pystac_item_gives_the_same_scene(name):
    item = stac_fixture(name)
    assert item_to_scene(pystac.Item.from_dict(item, migrate=False)) == item_to_scene(item)


@pytest.mark.parametrize("name", ITEM_FILES)
def test_forcing_the_detected_profile_changes_nothing(name):
    item = stac_fixture(name)
    spec = item_to_scene(item)
    assert item_to_scene(item, profile=spec.provider) == spec


def test_collection_is_not_an_item():
    with pytest.raises(SceneError, match="not a STAC Item"):
        item_to_scene(stac_fixture(COLLECTION_FILE))


def test_earthsearch_without_boa_flag_trusts_raster_bands():
    item = stac_fixture(ITEM_FILES[1])
    del item["properties"]["earthsearch:boa_offset_applied"]
    spec = item_to_scene(item)
    assert spec.provider == "earthsearch"
    assert spec.offset == pytest.approx(-0.1)
    assert spec.properties["oceanscan:offset_source"] == "raster:bands"


def test_boa_flag_false_uses_raster_bands():
    item = stac_fixture(ITEM_FILES[1])
    item["properties"]["earthsearch:boa_offset_applied"] = False
    assert item_to_scene(item).offset == pytest.approx(-0.1)


def test_raster_bands_that_disagree_are_rejected():
    item = stac_fixture(ITEM_FILES[0])
    item["assets"]["nir08"]["raster:bands"][0]["offset"] = 0
    with pytest.raises(SceneError, match="differ between bands"):
        item_to_scene(item)


def test_partial_raster_bands_fall_back_to_processing_baseline():
    item = stac_fixture(ITEM_FILES[0])
    del item["assets"]["red"]["raster:bands"]
    item["properties"]["s2:processing_baseline"] = "02.14"
    spec = item_to_scene(item)
    assert spec.offset == 0.0
    assert spec.properties["oceanscan:offset_source"] == "s2:processing_baseline"


def test_planetary_computer_without_baseline_is_rejected():
    item = stac_fixture(ITEM_FILES[4])
    del item["properties"]["s2:processing_baseline"]
    with pytest.raises(SceneError, match="s2:processing_baseline"):
        item_to_scene(item)


@pytest.mark.parametrize(
    ("baseline", "offset"),
    [
        ("02.12", 0.0),
        ("03.01", 0.0),
        ("04.00", -0.1),
        ("4.0", -0.1),
        ("05.11", -0.1),
        ("10.00", -0.1),
    ],
)
def test_baseline_offset(baseline, offset):
    assert baseline_offset(baseline) == offset


@pytest.mark.parametrize("bad", ["", "N0400", "04", "04.00.1", "four"])
def test_baseline_offset_rejects_malformed(bad):
    with pytest.raises(ValueError, match="processing baseline"):
        baseline_offset(bad)


def test_missing_band_names_band_and_key():
    item = stac_fixture(ITEM_FILES[0])
    del item["assets"]["nir08"]
    with pytest.raises(SceneError, match=r"B8A.*nir08") as info:
        item_to_scene(item)
    assert info.value.scene_id == item["id"]


def test_missing_projection_is_rejected():
    item = stac_fixture(ITEM_FILES[4])
    del item["assets"]["B05"]["proj:transform"]
    with pytest.raises(SceneError, match=r"B05.*proj:transform"):
        item_to_scene(item)


def test_missing_crs_is_rejected():
    item = stac_fixture(ITEM_FILES[4])
    del item["properties"]["proj:epsg"]
    with pytest.raises(SceneError, match="proj:code/proj:epsg"):
        item_to_scene(item)


def test_projection_on_item_level_is_used():
    item = stac_fixture(ITEM_FILES[4])
    shape, transform = (
        item["assets"]["B02"].pop("proj:shape"),
        item["assets"]["B02"].pop("proj:transform"),
    )
    item["properties"]["proj:shape"], item["properties"]["proj:transform"] = shape, transform
    assert item_to_scene(item).grid.shape == (10980, 10980)


def test_proj_code_is_accepted_on_item_and_asset():
    item = stac_fixture(ITEM_FILES[0])
    del item["properties"]["proj:epsg"]
    item["properties"]["proj:code"] = "EPSG:32724"
    assert item_to_scene(item).grid.crs == "EPSG:32724"
    item["assets"]["coastal"]["proj:code"] = "EPSG:32725"  # the asset's own wins over the item's
    spec = item_to_scene(item)
    assert spec.bands[0].grid.crs == "EPSG:32725"
    assert spec.grid.crs == "EPSG:32724"


def test_nine_number_transform_is_accepted():
    item = stac_fixture(ITEM_FILES[4])
    for asset in item["assets"].values():
        if "proj:transform" in asset:
            asset["proj:transform"] = [*asset["proj:transform"], 0, 0, 1]
    assert item_to_scene(item).grid.transform == (10.0, 0.0, 199980.0, 0.0, -10.0, 700020.0)


def test_ten_metre_grid_that_is_not_ten_metres_is_rejected():
    item = stac_fixture(ITEM_FILES[4])
    item["assets"]["B02"]["proj:transform"] = [20.0, 0.0, 199980.0, 0.0, -20.0, 700020.0]
    with pytest.raises(SceneError, match="not a north-up 10 m grid"):
        item_to_scene(item)


def test_ten_metre_bands_must_share_a_grid():
    item = stac_fixture(ITEM_FILES[4])
    item["assets"]["B08"]["proj:transform"] = [10.0, 0.0, 199990.0, 0.0, -10.0, 700020.0]
    with pytest.raises(SceneError, match="B08"):
        item_to_scene(item)


def test_unknown_profile_is_a_value_error():
    with pytest.raises(ValueError, match=r"'nasa'.*earthsearch"):
        item_to_scene(stac_fixture(ITEM_FILES[0]), profile="nasa")


def test_not_an_item_type_error():
    with pytest.raises(TypeError, match=r"pystac\.Item"):
        item_to_scene(["not", "an", "item"])  # type: ignore[arg-type]


def test_detection_without_provider_hints_uses_asset_keys():
    es = stac_fixture(ITEM_FILES[1])
    es["links"] = []
    es["properties"] = {
        k: v for k, v in es["properties"].items() if not k.startswith("earthsearch:")
    }
    for asset in es["assets"].values():
        asset["href"] = asset["href"].replace(
            "https://sentinel-cogs.s3.us-west-2.amazonaws.com", "/data"
        )
    assert detect_profile(pystac.Item.from_dict(es)).name == "earthsearch"
    pc = stac_fixture(ITEM_FILES[4])
    pc["links"] = []
    for asset in pc["assets"].values():
        asset["href"] = "/data/" + asset["href"].rsplit("/", 1)[-1]
    assert detect_profile(pystac.Item.from_dict(pc)).name == "planetarycomputer"
    pc["assets"] = {}
    with pytest.raises(SceneError, match="cannot tell the provider"):
        detect_profile(pystac.Item.from_dict(pc))


def test_profiles_cover_the_eleven_bands():
    for profile in PROFILES.values():
        for naming in profile.namings:
            assert set(naming.bands) == set(BANDS)
    assert dict(PROFILES["earthsearch"].namings[0].bands) == _ES_KEYS
