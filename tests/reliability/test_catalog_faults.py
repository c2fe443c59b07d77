"""Catalog faults for real: a loopback proxy in front of the real pgstac STAC API injects 5xx
answers, Retry-After, delays past the read timeout, and a server that stays down or goes away.

What must hold: transient faults are retried with growing backoff and the search returns exactly
what a clean search returns; a server that stays down ends in a CatalogError naming the URL and
the last HTTP status; ``oceanscan scan`` against it exits nonzero with that message and leaves
every file already in the scan root byte for byte as it was.
"""

from __future__ import annotations

import itertools
import json

import pytest

from oceanscan.cli import main
from oceanscan.errors import CatalogError
from oceanscan.scene import SceneSpec
from oceanscan.stac import search_scenes
from oceanscan.synth.catalog import api_records, write_catalog
from tests.helpers.bundles import save_tiny_bundle
from tests.helpers.stac_proxy import PASS, Fault, start_proxy
from tests.helpers.stores import tree_digest

pytestmark = pytest.mark.server

COLLECTION = "reliability-s2-l2a"
WINDOW = "2025-05-01T00:00:00Z/2025-07-01T00:00:00Z"


@pytest.fixture(scope="module")
def api(pgstac_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("catalog")
    catalog = write_catalog(base / "catalog", scenes=3, size=32, seed=11)
    collection, items = api_records(catalog, base_url=str(catalog.parent.resolve()))
    collection["id"] = COLLECTION
    for item in items:
        item["collection"] = COLLECTION
    pgstac_server.load(collection, items)
    pgstac_server.load_queryables([COLLECTION])
    return {"url": pgstac_server.url, "catalog": catalog, "ids": sorted(i["id"] for i in items)}


@pytest.fixture
def proxy(api):
    started = []

    def start(script):
        p = start_proxy(api["url"], script)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


def _ids(url, **kwargs):
    kwargs = {"max_retries": 3, "backoff_s": 0.05, "timeout_s": 10.0, **kwargs}
    results = list(search_scenes(url, collections=[COLLECTION], datetime=WINDOW, limit=1, **kwargs))
    assert all(isinstance(r, SceneSpec) for r in results)
    return sorted(r.id for r in results)


def test_transient_5xx_on_every_kind_of_request_are_retried(api, proxy):
    def script(method, path, n):
        if method == "GET" and path == "/" and n == 1:
            return Fault(status=502)
        if path.startswith("/search") and n % 2 == 1:  # the first try of every page
            return Fault(status=503 if n == 1 else 500)
        return PASS

    p = proxy(script)
    assert _ids(p.url) == api["ids"] == _ids(api["url"])  # same scenes as a clean search
    assert p.statuses("GET", "/")[:2] == [502, 200]
    pages = [s for _, m, path, s in p.log if path.startswith("/search")]
    assert pages == [503, 200, 500, 200, 500, 200]  # three one-item pages, each retried once


def test_retry_after_is_honoured(api, proxy):
    p = proxy(
        lambda m, path, n: (
            Fault(status=503, retry_after_s=1) if path.startswith("/search") and n == 1 else PASS
        )
    )
    assert _ids(p.url) == api["ids"]
    first, second = p.times("POST", "/search")[:2]
    assert second - first >= 0.95  # waited as the server asked, not the 0.05 s backoff


def test_backoff_grows_then_a_server_that_stays_down_is_reported(api, proxy):
    p = proxy(lambda m, path, n: Fault(status=503) if path.startswith("/search") else PASS)
    with pytest.raises(CatalogError) as info:
        _ids(p.url, max_retries=3, backoff_s=0.2)
    assert info.value.status_code == 503
    assert p.url in str(info.value) and "HTTP 503" in str(info.value)
    times = p.times("POST", "/search")
    assert len(times) == 4  # the first try and 3 retries, then it gives up
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # urllib3 Retry: no wait before the first retry, then backoff_s * 2 ** (n - 1).
    assert gaps[1] >= 0.4 * 0.95 and gaps[2] >= 0.8 * 0.95 and gaps[2] > gaps[1]


def test_a_slow_answer_times_out_and_is_retried(api, proxy):
    p = proxy(
        lambda m, path, n: Fault(delay_s=1.5) if path.startswith("/search") and n == 1 else PASS
    )
    assert _ids(p.url, timeout_s=0.5) == api["ids"]
    assert len(p.times("POST", "/search")) >= 2


def test_a_server_that_never_answers_in_time_is_reported_without_status(api, proxy):
    p = proxy(lambda m, path, n: Fault(delay_s=1.0) if path.startswith("/search") else PASS)
    with pytest.raises(CatalogError) as info:
        _ids(p.url, timeout_s=0.3, max_retries=1)
    assert info.value.status_code is None
    assert p.url in str(info.value) and "no response" in str(info.value)


def test_a_server_that_goes_away_is_reported(api, proxy):
    p = proxy(lambda m, path, n: PASS)
    url = p.url
    p.close()
    with pytest.raises(CatalogError) as info:
        _ids(url, max_retries=1)
    assert info.value.status_code is None and url in str(info.value)


@pytest.mark.ray
@pytest.mark.slow
def test_scan_against_a_dead_api_exits_nonzero_and_loses_nothing(
    api, proxy, ray_session, tmp_path, capsys
):
    bundle = save_tiny_bundle(tmp_path / "bundle")
    root = tmp_path / "out"
    fast = [
        "--model",
        str(bundle),
        "--root",
        str(root),
        "--tile-size",
        "32",
        "--margin",
        "8",
        "--no-progress",
        "--device",
        "cpu",
    ]
    # A first, successful scan fills the root.
    assert main(["scan", "--catalog", str(api["catalog"].parent), *fast]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["complete"] == 3
    before = tree_digest(root)
    assert any(k.endswith("index.parquet") for k in before) and len(before) > 20

    down = proxy(lambda m, path, n: Fault(status=503))
    code = main(
        [
            "scan",
            "--stac-url",
            down.url,
            "--bbox",
            "-180",
            "-80",
            "180",
            "80",
            "--datetime",
            WINDOW,
            *fast,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert down.url in err and "HTTP 503" in err and err.startswith("oceanscan scan: error:")
    assert len(down.statuses("GET", "/")) == 4  # retried before giving up
    assert tree_digest(root) == before  # every file of the earlier run byte for byte
