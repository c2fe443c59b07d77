"""Scheduled scans against the real pgstac STAC API: ``oceanscan scan --since-last`` run after run.

Catalogs publish items hours to days after their acquisition. Here items are inserted into pgstac
*after* a run whose window covered their acquisition time, as a late catalog does; a scene whose
band asset is missing fails on every run, and an item without projection fields is rejected on
every run. What must hold: the late item is found by the next run (and would be missed without
the overlap), failures are retried up to ``max_attempts`` and then recorded ``given_up``, the
window's end moves on every run whatever failed, and the exit code goes back to 0 once nothing
is left to retry.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from oceanscan.cli import main
from oceanscan.scan.store import open_root, read_scene_attrs
from oceanscan.scene import scene_key
from oceanscan.synth.catalog import api_records, write_catalog
from tests.helpers.bundles import save_tiny_bundle

pytestmark = [pytest.mark.server, pytest.mark.ray, pytest.mark.slow]

FAST = ["--tile-size", "32", "--margin", "8", "--no-progress", "--device", "cpu"]
#: The scenes' acquisition times: 12, 7 and 2 days ago (plus up to an hour), 5 days apart.
FIRST_SCENE_AGE = dt.timedelta(days=12)


@pytest.fixture(scope="module")
def world(tmp_path_factory, ray_session):
    base = tmp_path_factory.mktemp("since-last")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    catalog = write_catalog(
        base / "catalog", scenes=3, size=32, seed=5, start=now - FIRST_SCENE_AGE
    )
    return {"base": base, "catalog": catalog, "now": now, "bundle": save_tiny_bundle(base / "b")}


def _items(world, collection):
    collection_record, items = api_records(
        world["catalog"], base_url=str(world["catalog"].parent.resolve())
    )
    collection_record["id"] = collection
    for item in items:
        item["collection"] = collection
    items.sort(key=lambda i: i["properties"]["datetime"])
    return collection_record, items


def _config(world, pgstac_server, name, collection, **fields):
    root = world["base"] / name
    lines = [
        f"model: {world['bundle']}",
        f"root: {root}",
        f"stac_url: {pgstac_server.url}",
        f"collections: [{collection}]",
        *(f"{k}: {v}" for k, v in fields.items()),
        "regions:",
        "  - name: world",
        "    bbox: [-180, -80, 180, 80]",
        f"    start: {(world['now'] - dt.timedelta(days=20)).isoformat()}",
        "    max_cloud_cover: 100",
    ]
    path = world["base"] / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, root


def _scan(capsys, config, *argv):
    code = main(["scan", "--config", str(config), "--region", "world", *argv, *FAST])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines, f"exit code {code}, no summary; stderr: {captured.err[-3000:]}"
    return code, json.loads(lines[-1])


def _counts(summary):
    return {k: summary[k] for k in ("complete", "failed", "skipped", "given_up")}


def _when(item):
    return dt.datetime.fromisoformat(item["properties"]["datetime"])


def _windows(root):
    """Each run's window of the region, and the windows' ends as datetimes."""
    windows = [r["regions"][0] for r in open_root(str(root)).attrs["runs"]]
    return windows, [dt.datetime.fromisoformat(w["end"]) for w in windows]


def _stored(root, key):
    return read_scene_attrs(open_root(str(root)))[key]


def _state(root, key):
    """A stored scene's status and failure count."""
    attrs = _stored(root, key)
    return attrs["status"], attrs["failures"]


def _failing_items(world, collection_id):
    """Three items: one good, one whose B08 asset is gone (it fails every read), one without
    projection fields (rejected before it becomes a scene)."""
    collection, items = _items(world, collection_id)
    _, broken, rejected = items
    for asset in broken["assets"].values():
        if asset.get("title", "").startswith("B08"):
            asset["href"] = str(world["base"] / "gone" / "B08.tif")
    for asset in rejected["assets"].values():
        for key in [k for k in asset if k.startswith("proj:")]:
            del asset[key]
    for key in [k for k in rejected["properties"] if k.startswith("proj:")]:
        del rejected["properties"][key]
    return collection, items


def test_an_item_published_after_the_run_that_covered_it_is_found_by_the_next(
    world, pgstac_server, capsys
):
    collection, items = _items(world, "since-last-late")
    config, root = _config(
        world, pgstac_server, "late", collection["id"], since_last_overlap_days=3
    )
    pgstac_server.load(collection, items[:2])
    pgstac_server.load_queryables([collection["id"]])

    code, first = _scan(capsys, config, "--since-last")
    assert code == 0 and _counts(first) == {
        "complete": 2,
        "failed": 0,
        "skipped": 0,
        "given_up": 0,
    }
    run_end = dt.datetime.fromisoformat(open_root(str(root)).attrs["runs"][-1]["regions"][0]["end"])
    late = items[2]
    assert _when(late) < run_end, "the late item was acquired inside the first run's window"
    pgstac_server.load(collection, [late])  # ...but published after that run

    # Searching from the end of the last run, as --since-last did before, misses it for good.
    code, blind = _scan(capsys, config, "--since-last", "--overlap-days", "0")
    assert code == 0 and (blind["complete"], blind["skipped"]) == (0, 0)

    # With the overlap the next run finds it, and the overlap's complete scenes are skipped.
    code, second = _scan(capsys, config, "--since-last")
    assert code == 0 and (second["complete"], second["failed"]) == (1, 0)
    attrs = read_scene_attrs(open_root(str(root)))
    assert attrs[scene_key(late["id"])]["status"] == "complete"
    assert sorted(k for k, a in attrs.items() if a["status"] == "complete") == sorted(
        scene_key(i["id"]) for i in items
    )
    code, third = _scan(capsys, config, "--since-last")
    assert code == 0 and (third["complete"], third["skipped"]) == (0, 1)

    windows, ends = _windows(root)
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    assert windows[1]["start"] == windows[0]["end"]  # --overlap-days 0
    assert dt.datetime.fromisoformat(windows[2]["start"]) == ends[1] - dt.timedelta(days=3)


def test_a_scene_failing_on_every_run_is_retried_then_given_up_and_never_holds_the_window(
    world, pgstac_server, capsys
):
    collection, items = _failing_items(world, "since-last-failing")
    good, broken, rejected = items
    pgstac_server.load(collection, items)
    pgstac_server.load_queryables([collection["id"]])
    config, root = _config(
        world,
        pgstac_server,
        "failing",
        collection["id"],
        since_last_overlap_days=3,
        max_attempts=2,
    )
    broken_key, rejected_key = scene_key(broken["id"]), scene_key(rejected["id"])

    code, first = _scan(capsys, config, "--since-last")
    assert code == 1
    assert _counts(first) == {"complete": 1, "failed": 2, "skipped": 0, "given_up": 0}
    assert _state(root, broken_key) == ("failed", 1)
    assert "B08" in _stored(root, broken_key)["reason"]
    assert _state(root, rejected_key) == ("failed", 1)

    # Second run: the window reaches back to the failed scene (7 days ago, beyond the 3-day
    # overlap), both failures are retried, fail again and are given up at max_attempts=2.
    code, second = _scan(capsys, config, "--since-last")
    assert code == 1
    assert _counts(second) == {"complete": 0, "failed": 2, "skipped": 0, "given_up": 2}
    assert sorted(second["failed_scenes"]) == sorted([broken_key, rejected["id"]])
    assert _state(root, broken_key) == ("given_up", 2)
    assert _stored(root, rejected_key)["status"] == "given_up"
    windows, _ = _windows(root)
    assert dt.datetime.fromisoformat(windows[1]["start"]) == _when(broken)

    # Third run: nothing to retry, the window is the overlap again, the exit code is 0.
    code, third = _scan(capsys, config, "--since-last")
    assert code == 0
    # skipped: the rejected item, in the overlap, given up
    assert _counts(third) == {"complete": 0, "failed": 0, "skipped": 1, "given_up": 0}
    windows, ends = _windows(root)
    assert ends == sorted(ends) and len(set(ends)) == 3  # the end moved on every run
    assert dt.datetime.fromisoformat(windows[2]["start"]) == ends[1] - dt.timedelta(days=3)

    # A plain rerun of the whole window skips the complete and the given-up scenes...
    code, plain = _scan(capsys, config)
    assert code == 0
    assert _counts(plain) == {"complete": 0, "failed": 0, "skipped": 3, "given_up": 0}
    # ...until the operator raises the limit, which retries them once more.
    code, again = _scan(capsys, config, "--max-attempts", "3")
    assert code == 1 and (again["failed"], again["given_up"], again["skipped"]) == (2, 2, 1)
    assert _state(root, broken_key) == ("given_up", 3)
    assert _stored(root, scene_key(good["id"]))["status"] == "complete"
