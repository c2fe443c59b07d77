"""The real-server fixtures: pgstac searched by pystac-client, SeaweedFS S3, nginx Range + GDAL."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import requests
from affine import Affine
from pystac_client import Client
from rasterio.windows import Window

from tests.helpers.shared import stac_fixture

pytestmark = [
    pytest.mark.server,
    # pystac cannot migrate Earth Search's storage-extension assets; the items are used as fetched.
    pytest.mark.filterwarnings("ignore:Could not parse bucket/account from href:UserWarning"),
]

#: The real items of ../shared/fixtures/stac, and the collection each is loaded into. Earth Search
#: and Planetary Computer both call theirs "sentinel-2-l2a", so Earth Search's are renamed.
FIXTURE_ITEMS = {
    "earthsearch_v1_sentinel-2-l2a_S2B_24MUV_20250731_0_L2A.json": "earthsearch-sentinel-2-l2a",
    "earthsearch_v1_sentinel-2-c1-l2a_S2B_T24MUV_20250731T130245_L2A.json": "sentinel-2-c1-l2a",
    "planetarycomputer_sentinel-2-l2a_baseline0212_S2A_MSIL2A_20190101T000001_R116_T59ULV_20201007T214655.json": "sentinel-2-l2a",
    "planetarycomputer_sentinel-2-l2a_baseline0400_S2B_MSIL2A_20220612T182919_R027_T24XWR_20220613T123251.json": "sentinel-2-l2a",
    "planetarycomputer_sentinel-2-l2a_baseline0511_S2B_MSIL2A_20250312T014549_R074_T53NKG_20250312T041213.json": "sentinel-2-l2a",
}
PC_COLLECTION = "planetarycomputer_sentinel-2-l2a_collection.json"

# The search: a latitude band that leaves out the two northern tiles, 2024-2025, and
# fewer than 20 % clouds. Each criterion alone drops something; the expected ids are computed
# from the items below, never written down.
BBOX = (-180.0, -60.0, 180.0, 50.0)
DATETIME = ("2024-01-01T00:00:00Z", "2025-12-31T23:59:59Z")
MAX_CLOUD = 20.0
CLOUD_FILTER = {"op": "<", "args": [{"property": "eo:cloud_cover"}, MAX_CLOUD]}


def _load_items() -> list[dict[str, Any]]:
    items = []
    for name, collection in FIXTURE_ITEMS.items():
        item = stac_fixture(name)
        item["collection"] = collection
        item["links"] = [
            link
            for link in item["links"]
            if link["rel"] not in ("collection", "parent", "root", "self")
        ]
        items.append(item)
    return items


def _collection_for(collection_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The Planetary Computer collection as fetched, or a minimal one spanning ``items``."""
    if collection_id == "sentinel-2-l2a":
        collection = stac_fixture(PC_COLLECTION)
        collection["links"] = [link for link in collection["links"] if link["rel"] == "license"]
        return collection
    bboxes = np.array([item["bbox"] for item in items])
    times = sorted(item["properties"]["datetime"] for item in items)
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": collection_id,
        "description": f"Sentinel-2 L2A items of {collection_id}",
        "license": "proprietary",
        "links": [],
        "extent": {
            "spatial": {"bbox": [[*bboxes[:, :2].min(axis=0), *bboxes[:, 2:].max(axis=0)]]},
            "temporal": {"interval": [[times[0], times[-1]]]},
        },
    }


def _in_bbox(item: dict[str, Any]) -> bool:
    west, south, east, north = item["bbox"]
    return west <= BBOX[2] and east >= BBOX[0] and south <= BBOX[3] and north >= BBOX[1]


def _in_time(item: dict[str, Any]) -> bool:
    when = datetime.fromisoformat(item["properties"]["datetime"])
    return datetime.fromisoformat(DATETIME[0]) <= when <= datetime.fromisoformat(DATETIME[1])


def _clear(item: dict[str, Any]) -> bool:
    return item["properties"]["eo:cloud_cover"] < MAX_CLOUD


@pytest.fixture(scope="module")
def loaded_pgstac(pgstac_server):
    items = _load_items()
    by_collection: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_collection.setdefault(item["collection"], []).append(item)
    for collection_id, members in by_collection.items():
        pgstac_server.load(_collection_for(collection_id, members), members)
    pgstac_server.load_queryables(sorted(by_collection))
    return pgstac_server, items


def _ids(search) -> set[str]:
    return {item.id for item in search.items()}


def test_pgstac_search_bbox_datetime_and_cql2_filter(loaded_pgstac):
    server, items = loaded_pgstac
    client = Client.open(server.url)
    collections = sorted({item["collection"] for item in items})
    # The server is shared by the whole session: other tests may have loaded more collections.
    assert set(collections) <= {c.id for c in client.get_collections()}

    def search(**kwargs) -> set[str]:
        return _ids(client.search(collections=collections, max_items=100, **kwargs))

    every = {item["id"] for item in items}
    expected_bbox = {i["id"] for i in items if _in_bbox(i)}
    expected_time = {i["id"] for i in items if _in_time(i)}
    expected_clear = {i["id"] for i in items if _clear(i)}
    expected = expected_bbox & expected_time & expected_clear
    # Each criterion must select a proper, non-empty subset, or the test would prove nothing.
    for subset in (expected_bbox, expected_time, expected_clear):
        assert set() < subset < every
    assert expected

    assert search() == every
    assert search(bbox=BBOX) == expected_bbox
    assert search(datetime="/".join(DATETIME)) == expected_time
    assert search(filter=CLOUD_FILTER, filter_lang="cql2-json") == expected_clear
    assert (
        search(bbox=BBOX, datetime="/".join(DATETIME), filter=CLOUD_FILTER, filter_lang="cql2-json")
        == expected
    )


# stac-fastapi-pgstac 7.2 sorts, but advertises the sort extension under a URI pystac-client
# does not recognise.
@pytest.mark.filterwarnings("ignore::pystac_client.warnings.DoesNotConformTo")
def test_pgstac_sorts_cloud_cover_as_a_number(loaded_pgstac):
    server, items = loaded_pgstac
    client = Client.open(server.url)
    ours = [i["id"] for i in items if i["collection"] == "sentinel-2-l2a"]
    found = list(
        client.search(collections=["sentinel-2-l2a"], ids=ours, sortby="-eo:cloud_cover").items()
    )
    covers = [item.properties["eo:cloud_cover"] for item in found]
    # As text (no queryables loaded) pgstac returns 9.98 before 30.53 and 30.28.
    assert len(covers) == sum(1 for i in items if i["collection"] == "sentinel-2-l2a")
    assert covers == sorted(covers, reverse=True)


def test_pgstac_load_rejects_items_of_another_collection(pgstac_server):
    item = copy.deepcopy(_load_items()[0])
    with pytest.raises(ValueError, match="earthsearch-sentinel-2-l2a"):
        pgstac_server.load(_collection_for("other", [item]), [item])


def test_s3_round_trip_and_wrong_secret_refused(s3_server):
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options)
    path = f"{s3_server.bucket}/round-trip/payload.bin"
    payload = np.random.default_rng(0).bytes(300_000)
    fs.pipe(path, payload)
    assert fs.cat(path) == payload
    assert fs.info(path)["size"] == len(payload)

    options = copy.deepcopy(s3_server.storage_options)
    options["secret"] = "not-the-secret"
    intruder = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    with pytest.raises(PermissionError):
        intruder.cat(path)


def test_s3_zarr_round_trip_and_gdal_vsis3(s3_server, tmp_path, monkeypatch):
    import zarr

    root = f"s3://{s3_server.bucket}/zarr-round-trip.zarr"
    data = np.arange(64 * 48, dtype="uint8").reshape(64, 48)
    group = zarr.open_group(root, mode="w", storage_options=s3_server.storage_options)
    group.create_array("probability", data=data, chunks=(32, 32))
    again = zarr.open_group(root, mode="r", storage_options=s3_server.storage_options)
    np.testing.assert_array_equal(again["probability"][:], data)

    import s3fs

    tif = tmp_path / "small.tif"
    _write_cog(tif, size=256)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options)
    fs.put(str(tif), f"{s3_server.bucket}/cogs/small.tif")
    for name, value in s3_server.gdal_env.items():
        monkeypatch.setenv(name, value)
    with (
        rasterio.open(f"/vsis3/{s3_server.bucket}/cogs/small.tif") as remote,
        rasterio.open(tif) as local,
    ):
        np.testing.assert_array_equal(remote.read(1), local.read(1))


def _write_cog(path: Path, size: int) -> None:
    """A noisy uint16 COG (noise so that compression cannot hide how many bytes a read moves)."""
    rng = np.random.default_rng(1)
    data = rng.integers(0, 10_000, size=(size, size), dtype="uint16")
    profile = {
        "driver": "COG",
        "width": size,
        "height": size,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:32617",
        "transform": Affine(10, 0, 400_000, 0, -10, 4_100_000),
        "blocksize": 256,
        "compress": "deflate",
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def test_range_server_answers_206(range_http_server, tmp_path):
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 40)
    server = range_http_server(tmp_path)
    response = requests.get(
        server.url_for("blob.bin"), headers={"Range": "bytes=100-199"}, timeout=10
    )
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 100-199/10240"
    assert response.content == (bytes(range(256)) * 40)[100:200]
    logged = [r for r in server.requests() if r.path == "/blob.bin"]
    assert [(r.status, r.body_bytes, r.range) for r in logged] == [(206, 100, "bytes=100-199")]


def test_gdal_reads_a_cog_window_through_vsicurl(range_http_server, tmp_path):
    cog = tmp_path / "scene_B04.tif"
    _write_cog(cog, size=2048)
    size = cog.stat().st_size
    server = range_http_server(tmp_path)
    env = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif"}
    window = Window(1024, 512, 256, 256)
    with rasterio.Env(**env), rasterio.open(f"/vsicurl/{server.url_for(cog)}") as remote:
        assert remote.driver == "GTiff"
        assert (remote.width, remote.height) == (2048, 2048)
        got = remote.read(1, window=window)
    with rasterio.open(cog) as local:
        np.testing.assert_array_equal(got, local.read(1, window=window))
    served = server.bytes_served(cog)
    assert 0 < served < size / 8, f"{served} bytes served for one 256 px block of a {size} byte COG"
    assert all(
        r.status == 206
        for r in server.requests()
        if r.path == "/scene_B04.tif" and r.method == "GET"
    )


def test_missing_server_binary_skips_locally_and_fails_under_ci(monkeypatch, tmp_path):
    from tests.helpers.processes import require

    missing = tmp_path / "no-such-binary"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="run scripts/setup"):
        require(missing, "weed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"weed .*no-such-binary.*run scripts/setup"):
        require(missing, "weed")
    assert require(tmp_path, "a directory") == tmp_path
