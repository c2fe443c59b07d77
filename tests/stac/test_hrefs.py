"""Href modifiers (signing, rewriting) and relative hrefs of real STAC items made into scenes."""

from __future__ import annotations

import pystac
import pytest

from oceanscan.errors import SceneError
from oceanscan.stac import item_to_scene
from tests.helpers.shared import stac_fixture

ES_ITEM = "earthsearch_v1_sentinel-2-l2a_S2B_24MUV_20250731_0_L2A.json"
PC_0400_ITEM = (
    "planetarycomputer_sentinel-2-l2a_baseline0400_S2B_MSIL2A_20220612T182919_R027_T24XWR_"
    "20220613T123251.json"
)
PC_0511_ITEM = (
    "planetarycomputer_sentinel-2-l2a_baseline0511_S2B_MSIL2A_20250312T014549_R074_T53NKG_"
    "20250312T041213.json"
)


def test_href_modifier_per_href():
    def sign(href: str) -> str:
        return href + "?sig=abc"

    spec = item_to_scene(stac_fixture(PC_0511_ITEM), href_modifier=sign)
    assert all(b.href.endswith(".tif?sig=abc") for b in spec.bands)
    assert spec.scl is not None and spec.scl.href.endswith("?sig=abc")


def test_unannotated_href_modifier_falls_back_to_hrefs():
    spec = item_to_scene(
        stac_fixture(ES_ITEM), href_modifier=lambda h: h.replace("https://", "s3://")
    )
    assert all(b.href.startswith("s3://sentinel-cogs") for b in spec.bands)


def test_item_modifier_in_place_like_sign_inplace():
    calls = []

    def sign_inplace(item):
        calls.append(item.id)
        for asset in item.assets.values():
            asset.href = asset.href + "?token=t"

    original = stac_fixture(PC_0400_ITEM)
    spec = item_to_scene(original, href_modifier=sign_inplace)
    assert calls == [original["id"]]
    assert all(b.href.endswith("?token=t") for b in spec.bands)
    assert "?token" not in original["assets"]["B02"]["href"]


def test_item_modifier_returning_item():
    def to_local(item: pystac.Item) -> pystac.Item:
        out = item.clone()
        for asset in out.assets.values():
            asset.href = "/mirror/" + asset.href.rsplit("/", 1)[-1]
        return out

    spec = item_to_scene(stac_fixture(PC_0400_ITEM), href_modifier=to_local)
    assert spec.bands[1].href == "/mirror/T24XWR_20220612T182919_B02_10m.tif"


def test_href_modifier_with_wrong_return_type():
    with pytest.raises(TypeError, match="must return a str"):
        item_to_scene(stac_fixture(PC_0400_ITEM), href_modifier=lambda h: h.encode())


def test_relative_hrefs_resolve_against_self_link():
    item = stac_fixture(PC_0511_ITEM)
    for asset in item["assets"].values():
        asset["href"] = "./" + asset["href"].rsplit("/", 1)[-1]
    with pytest.raises(SceneError, match="relative"):
        item_to_scene({**item, "links": []})
    item["links"] = [{"rel": "self", "href": "http://example.test/cat/items/x/x.json"}]
    spec = item_to_scene(item)
    assert (
        spec.bands[1].href == "http://example.test/cat/items/x/T53NKG_20250312T014549_B02_10m.tif"
    )
