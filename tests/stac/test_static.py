"""Static catalogs read without a server (oceanscan.stac.static): filtered like a search."""

from __future__ import annotations

import copy

import pystac
import pytest

from oceanscan.scene import SceneSpec
from oceanscan.stac import Rejected, catalog_items, static_scenes
from tests.helpers.shared import stac_fixture

ITEM = "earthsearch_v1_sentinel-2-l2a_S2B_24MUV_20250731_0_L2A.json"


@pytest.fixture
def catalog(tmp_path):
    """Four copies of a real Earth Search item: different days, cloud cover, one broken."""
    base = stac_fixture(ITEM)
    catalog = pystac.Catalog(id="test", description="static catalog test")
    for day, cloud, broken in ((1, 5.0, False), (2, 50.0, False), (3, 5.0, True), (9, 5.0, False)):
        data = copy.deepcopy(base)
        data["id"] = f"item-{day}"
        data["properties"]["datetime"] = f"2025-07-0{day}T13:00:00Z"
        data["properties"]["eo:cloud_cover"] = cloud
        data["links"] = []
        if broken:
            del data["assets"]["nir08"]
        catalog.add_item(pystac.Item.from_dict(data))
    catalog.normalize_hrefs(str(tmp_path / "cat"))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    bbox = base["bbox"]
    return {"path": tmp_path / "cat", "bbox": bbox}


def test_every_item_without_filters_and_the_broken_one_rejected(catalog):
    found = list(static_scenes(catalog["path"]))
    assert [type(s) for s in found] == [SceneSpec, SceneSpec, Rejected, SceneSpec]
    assert found[2].item_id == "item-3" and "nir08" in found[2].reason
    assert sorted(i.id for i in catalog_items(catalog["path"] / "catalog.json")) == [
        "item-1",
        "item-2",
        "item-3",
        "item-9",
    ]


def test_time_area_cloud_and_count_filters(catalog):
    window = "2025-07-01T00:00:00+00:00/2025-07-05T00:00:00+00:00"
    found = static_scenes(catalog["path"], datetime=window, max_cloud_cover=30.0)
    assert [getattr(s, "id", None) or s.item_id for s in found] == ["item-1", "item-3"]
    west, south, east, north = catalog["bbox"]
    elsewhere = (west + 20, south, min(east + 20, 180), north)
    assert list(static_scenes(catalog["path"], bbox=elsewhere)) == []
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    inside = {"type": "Polygon", "coordinates": [ring]}
    assert len(list(static_scenes(catalog["path"], intersects=inside, max_items=2))) == 2
    open_ended = list(static_scenes(catalog["path"], datetime="2025-07-03T00:00:00+00:00/.."))
    assert len(open_ended) == 2


def test_a_missing_catalog_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no STAC catalog"):
        next(static_scenes(tmp_path / "nowhere"))
