"""The embedded STAC API: a static catalog of the real fixture items, searched by pystac-client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import venv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
import pytest
import requests
from pystac_client import Client

from oceanscan.errors import CatalogError
from oceanscan.stac_server import serve
from tests.helpers.shared import stac_fixture

pytestmark = [
    pytest.mark.server,
    # pystac cannot migrate Earth Search's storage-extension assets; the items are used as fetched.
    pytest.mark.filterwarnings("ignore:Could not parse bucket/account from href:UserWarning"),
]

FIXTURES = (
    "earthsearch_v1_sentinel-2-l2a_S2B_24MUV_20250731_0_L2A.json",
    "planetarycomputer_sentinel-2-l2a_baseline0212_S2A_MSIL2A_20190101T000001_R116_T59ULV_20201007T214655.json",
    "planetarycomputer_sentinel-2-l2a_baseline0400_S2B_MSIL2A_20220612T182919_R027_T24XWR_20220613T123251.json",
    "planetarycomputer_sentinel-2-l2a_baseline0511_S2B_MSIL2A_20250312T014549_R074_T53NKG_20250312T041213.json",
)
COLLECTION = "sentinel-2-l2a"
BBOX = (-180.0, -60.0, 180.0, 50.0)
DATETIME = ("2024-01-01T00:00:00Z", "2025-12-31T23:59:59Z")
MAX_CLOUD = 20.0
CLOUD_FILTER = {"op": "<", "args": [{"property": "eo:cloud_cover"}, MAX_CLOUD]}


def _write_catalog(root: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The fixture items in a self-contained best-practice catalog (relative links) under root."""
    items = []
    for name in FIXTURES:
        item = pystac.Item.from_dict(stac_fixture(name))
        item.clear_links()
        items.append(item)
    catalog = pystac.Catalog(id="oceanscan-test", description="Sentinel-2 L2A fixture items")
    collection = pystac.Collection(
        id=COLLECTION,
        description="Earth Search and Planetary Computer Sentinel-2 L2A items",
        extent=pystac.Extent.from_items(items),
    )
    catalog.add_child(collection)
    collection.add_items(items)
    catalog.normalize_hrefs(str(root))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json", [item.to_dict(include_self_link=False) for item in items]


@pytest.fixture(scope="module")
def static_api(tmp_path_factory):
    catalog_json, items = _write_catalog(tmp_path_factory.mktemp("catalog"))
    with serve(catalog_json) as url:
        yield url, catalog_json, items


def test_catalog_is_in_best_practice_layout(static_api):
    _, catalog_json, items = static_api
    for item in items:
        assert (catalog_json.parent / COLLECTION / item["id"] / f"{item['id']}.json").is_file()


def test_search_bbox_datetime_and_cql2_filter(static_api):
    url, _, items = static_api
    client = Client.open(url)

    def search(**kwargs) -> set[str]:
        return {
            i.id for i in client.search(collections=[COLLECTION], max_items=100, **kwargs).items()
        }

    def west_south_east_north(item):
        return item["bbox"]

    every = {i["id"] for i in items}
    in_bbox = {
        i["id"]
        for i in items
        if (b := west_south_east_north(i))[0] <= BBOX[2]
        and b[2] >= BBOX[0]
        and b[1] <= BBOX[3]
        and b[3] >= BBOX[1]
    }
    start, end = (datetime.fromisoformat(t) for t in DATETIME)
    in_time = {
        i["id"]
        for i in items
        if start <= datetime.fromisoformat(i["properties"]["datetime"]) <= end
    }
    clear = {i["id"] for i in items if i["properties"]["eo:cloud_cover"] < MAX_CLOUD}
    expected = in_bbox & in_time & clear
    for subset in (in_bbox, in_time, clear):
        assert set() < subset < every  # each criterion drops something, or it is not tested
    assert expected

    assert search() == every
    assert search(bbox=BBOX) == in_bbox
    assert search(datetime="/".join(DATETIME)) == in_time
    assert search(filter=CLOUD_FILTER, filter_lang="cql2-json") == clear
    combined = search(
        bbox=BBOX, datetime="/".join(DATETIME), filter=CLOUD_FILTER, filter_lang="cql2-json"
    )
    assert combined == expected


def test_items_come_back_whole(static_api):
    url, _, items = static_api
    wanted = items[-1]
    # The collections it serves carry no "items" link, so fetch by id through /search.
    (found,) = Client.open(url).search(ids=[wanted["id"]]).items()
    assert found.properties["eo:cloud_cover"] == wanted["properties"]["eo:cloud_cover"]
    assert set(found.assets) == set(wanted["assets"])
    assert found.geometry == wanted["geometry"]
    direct = requests.get(f"{url}/collections/{COLLECTION}/items/{wanted['id']}", timeout=10)
    assert direct.status_code == 200
    assert datetime.fromisoformat(
        direct.json()["properties"]["datetime"]
    ) == datetime.fromisoformat(wanted["properties"]["datetime"])


def test_local_assets_are_served_over_http_with_range(tmp_path):
    """Asset files inside the catalog come back as URLs of the same server, which honours Range."""
    when = datetime(2024, 5, 1, tzinfo=UTC)
    catalog = pystac.Catalog(id="local", description="one item with a local asset")
    collection = pystac.Collection(
        id="synthetic",
        description="synthetic scenes",
        extent=pystac.Extent(
            pystac.SpatialExtent([[0.0, 0.0, 1.0, 1.0]]), pystac.TemporalExtent([[when, None]])
        ),
    )
    catalog.add_child(collection)
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    item = pystac.Item("scene-1", square, [0, 0, 1, 1], when, {"eo:cloud_cover": 3.0})
    collection.add_item(item)
    catalog.normalize_hrefs(str(tmp_path))
    band = tmp_path / "synthetic" / "scene-1" / "B04.tif"
    item.add_asset("B04", pystac.Asset(href=str(band)))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    payload = bytes(range(256)) * 16
    band.write_bytes(payload)

    with serve(tmp_path / "catalog.json") as url:
        (found,) = Client.open(url).search(collections=["synthetic"]).items()
        href = found.assets["B04"].href
        assert href == f"{url}/synthetic/scene-1/B04.tif"
        response = requests.get(href, headers={"Range": "bytes=10-19"}, timeout=10)
    assert response.status_code == 206
    assert response.content == payload[10:20]


def test_server_stops_on_exit(tmp_path):
    catalog_json, _ = _write_catalog(tmp_path)
    with serve(catalog_json) as url:
        assert requests.get(url + "/", timeout=10).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=5)


def test_missing_catalog_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "catalog.json"
    with pytest.raises(CatalogError, match=r"nowhere/catalog\.json"), serve(missing):
        pass


@pytest.mark.parametrize(
    ("text", "reason"),
    [("{ this is not json", "Expecting property name"), ('{"type": "Feature"}', "'Feature'")],
)
def test_a_root_that_is_not_a_catalog_is_refused(tmp_path, text, reason):
    broken = tmp_path / "catalog.json"
    broken.write_text(text)
    with pytest.raises(CatalogError, match=reason) as caught, serve(broken):
        pass
    assert str(broken) in str(caught.value)


def test_a_server_that_cannot_start_reports_its_stderr(tmp_path, monkeypatch):
    """An interpreter without uvicorn: the error names the catalog and quotes the server."""
    catalog_json, _ = _write_catalog(tmp_path / "catalog")
    bare = tmp_path / "bare-venv"
    venv.create(bare, with_pip=False)
    monkeypatch.setenv("OCEANSCAN_STAC_SERVER_PYTHON", str(bare / "bin" / "python"))
    with pytest.raises(CatalogError) as caught, serve(catalog_json):
        pass
    message = str(caught.value)
    assert str(catalog_json) in message
    assert "No module named 'uvicorn'" in message


#: Variables a user's shell may hold that stac-fastapi-static's settings (pydantic-settings, no
#: prefix, any case) or uvicorn's command line would read. Each one broke or changed the server:
#: CACHE, ENVIRONMENT, LOG_LEVEL and CORS_ORIGINS failed validation (exit 2 before answering),
#: ROOT_PATH and UVICORN_ROOT_PATH moved every link, CATALOG_HREF named another catalog.
STRAY_ENVIRONMENT = {
    "CACHE": "/some/path",
    "cache": "/another/path",
    "ENVIRONMENT": "staging",
    "LOG_LEVEL": "chatty",
    "ROOT_PATH": "/elsewhere",
    "CORS_ORIGINS": "https://example.org",
    "CATALOG_HREF": "/nowhere/catalog.json",
    "ASSUME_BEST_PRACTICE_LAYOUT": "perhaps",
    "ENABLE_RESPONSE_MODELS": "true",
    "ENABLE_DIRECT_RESPONSE": "true",
    "DOCS_URL": "not-a-path",
    "APP_PORT": "http",
    "RELOAD": "sometimes",
    "UVICORN_ROOT_PATH": "/elsewhere",
    "UVICORN_LOG_LEVEL": "chatty",
    "WEB_CONCURRENCY": "3",
}


def test_stray_environment_and_dotenv_cannot_reach_the_server(tmp_path, monkeypatch):
    """The server answers with the project's settings whatever the shell and the working
    directory's .env say."""
    catalog_json, items = _write_catalog(tmp_path / "catalog")
    for name, value in STRAY_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    here = tmp_path / "cwd"
    here.mkdir()
    (here / ".env").write_text("CACHE=/from/dotenv\nCATALOG_HREF=/nowhere/catalog.json\n")
    monkeypatch.chdir(here)

    with serve(catalog_json) as url:
        landing = requests.get(url + "/", timeout=10)
        assert landing.status_code == 200
        hrefs = [link["href"] for link in landing.json()["links"]]
        found = {i.id for i in Client.open(url).search(collections=[COLLECTION]).items()}
    assert hrefs and all(h.startswith(url + "/") and "/elsewhere" not in h for h in hrefs)
    assert found == {i["id"] for i in items}


def test_catalog_serve_stops_its_server_on_sigterm(tmp_path):
    """``oceanscan catalog serve`` under a scheduler's SIGTERM leaves no server process behind,
    and a stray CACHE in its environment does not stop it from serving."""
    catalog_json, items = _write_catalog(tmp_path / "catalog")
    env = {**os.environ, "CACHE": "/some/path"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "oceanscan", "catalog", "serve", str(catalog_json.parent)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert "as a STAC API at" in line, proc.stderr.read() if proc.poll() is not None else line
        url = line.split(" at ")[1].split()[0]
        found = {i.id for i in Client.open(url).search(collections=[COLLECTION]).items()}
        assert found == {i["id"] for i in items}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=5)
