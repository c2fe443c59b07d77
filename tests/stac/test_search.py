"""search_scenes against a real stac-fastapi-pgstac server, and retries against a flaky HTTP server."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from oceanscan.cli import main
from oceanscan.errors import CatalogError
from oceanscan.scene import SceneSpec
from oceanscan.stac import Rejected, cloud_cover_filter, search_scenes
from tests.helpers.shared import stac_fixture

COLLECTION = "oceanscan-test-s2-l2a"
FIXTURES = {
    "es": "earthsearch_v1_sentinel-2-l2a_S2B_24MUV_20250731_0_L2A.json",
    "pc0212": "planetarycomputer_sentinel-2-l2a_baseline0212_S2A_MSIL2A_20190101T000001_R116_T59ULV_20201007T214655.json",
    "pc0400": "planetarycomputer_sentinel-2-l2a_baseline0400_S2B_MSIL2A_20220612T182919_R027_T24XWR_20220613T123251.json",
    "pc0511": "planetarycomputer_sentinel-2-l2a_baseline0511_S2B_MSIL2A_20250312T014549_R074_T53NKG_20250312T041213.json",
}
BROKEN_ID = "S2B_MSIL2A_20250313T014549_R074_T53NKG_NO_B8A"


@pytest.fixture(scope="module")
def items() -> dict[str, dict[str, Any]]:
    out = {key: stac_fixture(name) for key, name in FIXTURES.items()}
    broken = copy.deepcopy(out["pc0511"])
    broken["id"] = BROKEN_ID
    broken["properties"]["datetime"] = "2025-03-13T01:45:49.024000Z"
    del broken["assets"]["B8A"]
    out["broken"] = broken
    for item in out.values():
        item["collection"] = COLLECTION
    return out


@pytest.fixture(scope="module")
def api(pgstac_server, items) -> str:
    collection = stac_fixture("planetarycomputer_sentinel-2-l2a_collection.json")
    collection["id"] = COLLECTION
    collection["links"] = []
    pgstac_server.load(collection, list(items.values()))
    pgstac_server.load_queryables([COLLECTION])
    return pgstac_server.url


def _search(url: str, **kwargs: Any) -> list[SceneSpec | Rejected]:
    return list(search_scenes(url, collections=[COLLECTION], **kwargs))


def _ids(results: list[SceneSpec | Rejected]) -> set[str]:
    return {r.id if isinstance(r, SceneSpec) else r.item_id for r in results}


pytestmark = pytest.mark.server


def test_everything_with_rejection(api, items):
    results = _search(api)
    scenes = {r.id: r for r in results if isinstance(r, SceneSpec)}
    rejected = [r for r in results if isinstance(r, Rejected)]
    assert set(scenes) == {items[k]["id"] for k in ("es", "pc0212", "pc0400", "pc0511")}
    assert [r.item_id for r in rejected] == [BROKEN_ID]
    assert "B8A" in rejected[0].reason
    # Provider detection survives re-serving: offsets as the providers' rules say.
    assert scenes[items["es"]["id"]].provider == "earthsearch"
    assert scenes[items["es"]["id"]].offset == 0.0
    assert scenes[items["pc0212"]["id"]].offset == 0.0
    assert scenes[items["pc0400"]["id"]].offset == pytest.approx(-0.1)
    assert scenes[items["pc0511"]["id"]].provider == "planetarycomputer"


def test_bbox(api, items):
    assert _ids(_search(api, bbox=(-41.0, -5.0, -39.0, -4.0))) == {items["es"]["id"]}
    assert _ids(_search(api, bbox=(0.0, 0.0, 1.0, 1.0))) == set()


def test_intersects(api, items):
    point = {"type": "Point", "coordinates": [132.7, 5.45]}
    assert _ids(_search(api, intersects=point)) == {items["pc0511"]["id"], BROKEN_ID}


def test_datetime(api, items):
    assert _ids(_search(api, datetime="2022-01-01T00:00:00Z/2022-12-31T23:59:59Z")) == {
        items["pc0400"]["id"]
    }
    assert _ids(_search(api, datetime="2025-03-01T00:00:00Z/..")) == {
        items["es"]["id"],
        items["pc0511"]["id"],
        BROKEN_ID,
    }


def test_cloud_cover_goes_to_the_server_as_cql2(api, items, caplog):
    with caplog.at_level(logging.DEBUG, logger="pystac_client.stac_api_io"):
        results = _search(api, max_cloud_cover=31)
    assert _ids(results) == {items[k]["id"] for k in ("pc0212", "pc0400", "pc0511")} | {BROKEN_ID}
    sent = " ".join(r.getMessage() for r in caplog.records if "/search" in r.getMessage())
    assert '"filter-lang": "cql2-json"' in sent
    assert json.dumps(cloud_cover_filter(31)) in sent
    assert _ids(_search(api, max_cloud_cover=10)) == {items["pc0511"]["id"], BROKEN_ID}


def test_paging_with_a_small_limit(api, caplog):
    with caplog.at_level(logging.DEBUG, logger="pystac_client.stac_api_io"):
        paged = _search(api, limit=1)
    requests = [r for r in caplog.records if "/search" in r.getMessage()]
    assert len(requests) >= 5  # one page per item
    assert sorted(_ids(paged)) == sorted(_ids(_search(api)))
    assert len(paged) == 5


def test_results_are_lazy_and_max_items_stops_early(api, caplog):
    with caplog.at_level(logging.DEBUG, logger="pystac_client.stac_api_io"):
        results = search_scenes(api, collections=[COLLECTION], limit=1, max_items=2)
        assert not [r for r in caplog.records if "/search" in r.getMessage()]  # nothing sent yet
        first_two = list(results)
    assert len(first_two) == 2
    assert len([r for r in caplog.records if "/search" in r.getMessage()]) == 2


def test_sortby(api):
    by_cloud = [r for r in _search(api, sortby="-eo:cloud_cover") if isinstance(r, SceneSpec)]
    clouds = [r.properties["eo:cloud_cover"] for r in by_cloud]
    assert clouds == sorted(clouds, reverse=True)
    assert clouds[0] == pytest.approx(56.813848)
    by_time = [r for r in _search(api, sortby="datetime") if isinstance(r, SceneSpec)]
    assert [r.datetime for r in by_time] == sorted(r.datetime for r in by_time)
    assert by_time[0].datetime.startswith("2019-01-01")


def test_cli_search(api, items, capsys):
    code = main(["catalog", "search", api, "--collection", COLLECTION, "--max-cloud", "31"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    scenes = [line.split("\t") for line in out if not line.startswith("REJECTED")]
    rejected = [line.split("\t") for line in out if line.startswith("REJECTED")]
    assert [s[0] for s in scenes] == [items[k]["id"] for k in ("pc0212", "pc0400", "pc0511")]
    assert [s[3] for s in scenes] == ["+0.0", "-0.1", "-0.1"]
    assert rejected[0][1] == BROKEN_ID and "B8A" in rejected[0][2]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_cloud_cover": 120}, "max_cloud_cover"),
        ({"limit": 0}, "limit"),
        ({"max_items": 0}, "max_items"),
    ],
)
def test_bad_arguments_fail_before_any_request(kwargs, match):
    with pytest.raises(ValueError, match=match):
        search_scenes("http://127.0.0.1:9/", **kwargs)


# --- retries against a real flaky HTTP server on loopback -------------------------------------


class _Flaky:
    """A loopback HTTP server whose answers are scripted per request: (status, delay_s)."""

    def __init__(
        self,
        script: Callable[[str, str, int], tuple[int, float]],
        item: dict[str, Any],
        conforms: tuple[str, ...] = (),
    ):
        self.script = script
        self.item = item
        self.conforms = conforms
        self.bodies: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.statuses: list[tuple[str, str, int]] = []
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, method: str) -> None:
                if method == "POST":
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    flaky.bodies.append(json.loads(raw or b"{}"))
                flaky.requests.append((method, self.path))
                n = sum(1 for r in flaky.requests if r == (method, self.path))
                status, delay = flaky.script(method, self.path, n)
                flaky.statuses.append((method, self.path, status))
                time.sleep(delay)
                body = json.dumps(flaky.body(self.path) if status == 200 else {"error": "scripted"})
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (timeout test)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def body(self, path: str) -> dict[str, Any]:
        if path.startswith("/search"):
            return {"type": "FeatureCollection", "features": [self.item], "links": []}
        return {
            "type": "Catalog",
            "id": "flaky",
            "stac_version": "1.0.0",
            "description": "flaky",
            "conformsTo": [
                "https://api.stacspec.org/v1.0.0/core",
                "https://api.stacspec.org/v1.0.0/item-search",
                *self.conforms,
            ],
            "links": [
                {"rel": "self", "href": self.url + "/", "type": "application/json"},
                {"rel": "root", "href": self.url + "/", "type": "application/json"},
                {
                    "rel": "search",
                    "href": self.url + "/search",
                    "type": "application/geo+json",
                    "method": "POST",
                },
            ],
        }


@pytest.fixture
def flaky() -> Iterator[Callable[..., _Flaky]]:
    started: list[_Flaky] = []

    def start(
        script: Callable[[str, str, int], tuple[int, float]], conforms: tuple[str, ...] = ()
    ) -> _Flaky:
        server = _Flaky(script, stac_fixture(FIXTURES["pc0511"]), conforms)
        server.thread.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.server.shutdown()
        server.server.server_close()


def _count(server: _Flaky, method: str, path: str) -> int:
    return sum(1 for r in server.requests if r == (method, path))


def _statuses(server: _Flaky, method: str, path: str) -> list[int]:
    return [s for m, p, s in server.statuses if (m, p) == (method, path)]


def test_retries_503_then_succeeds(flaky):
    server = flaky(lambda method, path, n: (503, 0.0) if n <= 2 else (200, 0.0))
    results = list(search_scenes(server.url, max_retries=3, backoff_s=0.01, sortby=None))
    assert [r.id for r in results if isinstance(r, SceneSpec)] == [
        stac_fixture(FIXTURES["pc0511"])["id"]
    ]
    # Two 503s, then the landing page (pystac-client may read the root again later).
    assert _statuses(server, "GET", "/")[:3] == [503, 503, 200]
    assert _statuses(server, "POST", "/search") == [503, 503, 200]  # POST search is retried too


def test_server_that_stays_down_raises_with_status(flaky):
    server = flaky(lambda method, path, n: (503, 0.0))
    with pytest.raises(CatalogError, match="503") as info:
        list(search_scenes(server.url, max_retries=2, backoff_s=0.01))
    assert info.value.status_code == 503
    assert info.value.__cause__ is not None
    assert _count(server, "GET", "/") == 3  # first try + 2 retries


def test_client_errors_are_not_retried(flaky):
    server = flaky(lambda method, path, n: (404, 0.0))
    with pytest.raises(CatalogError) as info:
        list(search_scenes(server.url, max_retries=3, backoff_s=0.01))
    assert info.value.status_code == 404
    assert _count(server, "GET", "/") == 1


def test_timeouts_are_retried(flaky, caplog):
    server = flaky(lambda method, path, n: (200, 1.0 if (method, n) == ("GET", 1) else 0.0))
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        results = list(
            search_scenes(server.url, timeout_s=0.3, max_retries=2, backoff_s=0.01, sortby=None)
        )
    assert len(results) == 1
    assert _count(server, "GET", "/") >= 2  # the slow first answer was given up and retried
    assert any("Read timed out" in r.getMessage() for r in caplog.records)


def test_nothing_listening_raises_without_status():
    with pytest.raises(CatalogError) as info:
        list(search_scenes("http://127.0.0.1:9/", max_retries=1, backoff_s=0.01, timeout_s=1))
    assert info.value.status_code is None


def test_query_extension_when_the_server_has_no_filter(flaky):
    query = "https://api.stacspec.org/v1.0.0/item-search#query"
    server = flaky(lambda method, path, n: (200, 0.0), conforms=(query,))
    results = list(search_scenes(server.url, max_cloud_cover=20, sortby=None))
    assert len(results) == 1  # 9.98 % cloud
    assert server.bodies[-1]["query"] == {"eo:cloud_cover": {"lte": 20.0}}
    assert "filter" not in server.bodies[-1]


def test_cloud_limit_is_enforced_when_the_server_ignores_it(flaky, caplog):
    server = flaky(lambda method, path, n: (200, 0.0))  # conforms to neither filter nor query
    with caplog.at_level(logging.WARNING, logger="oceanscan.stac.search"):
        results = list(search_scenes(server.url, max_cloud_cover=5, sortby="datetime"))
    assert results == []  # the only item has 9.98 % cloud
    assert "filter" not in server.bodies[-1] and "query" not in server.bodies[-1]
    assert "sortby" not in server.bodies[-1]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "neither filter nor query" in messages and "does not conform to sort" in messages
