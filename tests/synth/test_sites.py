"""Sea sites and scene placement: MGRS lettering checked against real items."""

from __future__ import annotations

import json

import pytest
from pyproj import Transformer

from oceanscan.stac import item_to_scene
from oceanscan.synth.sites import mgrs_tile
from tests.helpers.shared import shared_path


@pytest.mark.parametrize(
    "name",
    [
        "earthsearch_v1_sentinel-2-l2a_S2B_24MUV_20250731_0_L2A.json",
        "planetarycomputer_sentinel-2-l2a_baseline0212_S2A_MSIL2A_20190101T000001_R116_T59ULV_20201007T214655.json",
        "planetarycomputer_sentinel-2-l2a_baseline0400_S2B_MSIL2A_20220612T182919_R027_T24XWR_20220613T123251.json",
        "planetarycomputer_sentinel-2-l2a_baseline0511_S2B_MSIL2A_20250312T014549_R074_T53NKG_20250312T041213.json",
    ],
)
def test_mgrs_tile_of_real_items(name):
    """The lettering reproduces the tile id of real items from the centre of their 10 m grid."""
    item = json.loads(shared_path("fixtures", "stac", name).read_text())
    spec = item_to_scene(item)
    left, bottom, right, top = spec.grid.bounds
    x, y = (left + right) / 2, (bottom + top) / 2
    epsg = int(spec.grid.crs.split(":")[1])
    _, lat = Transformer.from_crs(spec.grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    assert mgrs_tile(epsg % 100, lat, x, y) == spec.properties["s2:mgrs_tile"]


def test_mgrs_tile_rejects_positions_outside_utm():
    with pytest.raises(ValueError, match="latitude"):
        mgrs_tile(33, 85.0, 500000, 9_500_000)
    with pytest.raises(ValueError, match="easting"):
        mgrs_tile(33, 10.0, 50_000, 1_100_000)
