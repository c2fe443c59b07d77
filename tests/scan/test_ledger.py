"""Ledger rules (pure) and scan configuration validation."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import box

from oceanscan.errors import ConfigError
from oceanscan.scan.config import Region, ScanConfig, load_scan_config
from oceanscan.scan.ledger import (
    RunCounts,
    exit_code,
    failure_attrs,
    is_given_up,
    last_search_end,
    retry_start,
    scored_differently,
    select_scenes,
    since_last_start,
)
from oceanscan.scan.sources import search_window
from tests.helpers.scenes import scene_spec


def test_only_complete_scenes_are_skipped_and_duplicates_scanned_once():
    a, b, c, d = (scene_spec(f"S2A_{n}") for n in "abcd")
    stored = {
        a.key: {"status": "complete"},
        b.key: {"status": "failed", "reason": "x"},
        c.key: {"status": "created"},
    }
    todo, skipped = select_scenes([a, b, c, d, b], stored)
    assert [s.key for s in todo] == [b.key, c.key, d.key]
    assert skipped == [a.key]


def test_scored_differently_names_what_changed_and_ignores_what_was_not_recorded():
    run = {"model_sha256": "b" * 64, "tta": "rot180", "spectral_check": True, "threshold": 0.97}
    same = {**run, "status": "complete", "run_id": "earlier"}
    assert scored_differently(same, run) == {}
    other = {**same, "model_sha256": "a" * 64, "spectral_check": False}
    assert scored_differently(other, run) == {
        "model_sha256": ("a" * 64, "b" * 64),
        "spectral_check": (False, True),
    }
    older_store = {"status": "complete", "model_sha256": "b" * 64}  # no tta, check or threshold
    assert scored_differently(older_store, run) == {}
    switch = {"status": "complete", "tta": False}  # the on/off switch of earlier versions
    assert scored_differently(switch, run) == {"tta": ("none", "rot180")}
    assert scored_differently({**switch, "tta": True}, {**run, "tta": "dihedral"}) == {}


def _run(end, *, failed=0, region="gyre", finished=True):
    return {
        "id": end,
        "finished": "2024-02-01T00:00:00+00:00" if finished else None,
        "regions": [{"name": region, "start": "2024-01-01T00:00:00+00:00", "end": end}],
        "counts": {"complete": 1, "failed": failed, "skipped": 0},
    }


def test_since_last_uses_the_last_finished_run_of_the_region_failed_scenes_or_not():
    runs = [
        _run("2024-01-10T00:00:00+00:00"),
        _run("2024-01-20T00:00:00+00:00"),
        _run("2024-01-30T00:00:00+00:00", failed=1),  # failures never hold the window back
        _run("2024-02-05T00:00:00+00:00", region="other"),
        _run("2024-02-09T00:00:00+00:00", finished=False),  # interrupted: does not count
    ]
    assert last_search_end(runs, "gyre") == datetime(2024, 1, 30, tzinfo=UTC)
    assert last_search_end(runs, "other") == datetime(2024, 2, 5, tzinfo=UTC)
    assert last_search_end(runs, "unknown") is None
    assert last_search_end([], "gyre") is None


def test_exit_code_says_when_a_scene_failed():
    counts = RunCounts(complete=["a"], skipped=["b"])
    assert exit_code(counts) == 0
    counts.failed["c"] = "read error"
    assert exit_code(counts) == 1
    counts.given_up.append("c")
    assert counts.as_dict() == {"complete": 1, "failed": 1, "skipped": 1, "given_up": 1}


def test_a_failing_scene_is_counted_then_given_up_at_max_attempts():
    first = failure_attrs(None, "HTTP 404", max_attempts=3)
    assert first == {"status": "failed", "reason": "HTTP 404", "failures": 1}
    second = failure_attrs({**first, "status": "created"}, "timeout", max_attempts=3)
    assert second == {"status": "failed", "reason": "timeout", "failures": 2}
    third = failure_attrs(second, "HTTP 404", max_attempts=3)
    assert third == {"status": "given_up", "reason": "HTTP 404", "failures": 3}
    assert failure_attrs(None, "x", max_attempts=1)["status"] == "given_up"
    assert not is_given_up(second, 3) and is_given_up(third, 3)
    assert not is_given_up(third, 4)  # a raised limit retries it
    assert not is_given_up({"status": "complete", "failures": 5}, 3)
    assert not is_given_up(None, 3) and not is_given_up(third, None)


def test_given_up_scenes_are_skipped_until_the_limit_is_raised():
    a, b, c = (scene_spec(f"S2A_{n}") for n in "abc")
    stored = {
        a.key: {"status": "given_up", "failures": 3},
        b.key: {"status": "failed", "failures": 2},
        c.key: {"status": "failed", "failures": 3},  # given up under a lower limit, later raised
    }
    todo, skipped = select_scenes([a, b, c], stored, max_attempts=3)
    assert [s.key for s in todo] == [b.key] and skipped == [a.key, c.key]
    todo, skipped = select_scenes([a, b, c], stored, max_attempts=5)
    assert [s.key for s in todo] == [a.key, b.key, c.key] and skipped == []
    todo, _ = select_scenes([a, b, c], stored)  # no limit: every failure is retried
    assert len(todo) == 3


def _attrs(status, when, *, failures=1, lon=10.0):
    return {
        "status": status,
        "failures": failures,
        "datetime": when,
        "footprint": {
            "type": "Polygon",
            "coordinates": [[[lon, 0], [lon + 1, 0], [lon + 1, 1], [lon, 1], [lon, 0]]],
        },
    }


def test_retry_start_is_the_oldest_failed_scene_of_the_area_still_retried():
    area, start = box(9.5, -1, 12, 2), datetime(2024, 1, 1, tzinfo=UTC)
    stored = {
        "ok": _attrs("complete", "2024-01-02T10:00:00.000000Z"),
        "failed": _attrs("failed", "2024-01-05T10:00:00.000000Z"),
        "older": _attrs("failed", "2024-01-03T10:00:00.000000Z", failures=2),
        "given-up": _attrs("given_up", "2024-01-02T00:00:00Z", failures=3),
        "elsewhere": _attrs("failed", "2024-01-02T00:00:00Z", lon=50.0),
        "before-the-region": _attrs("failed", "2023-12-01T00:00:00Z"),
        "rejected": {"status": "failed", "failures": 1, "item_id": "x"},  # no time, no footprint
    }
    got = retry_start(stored, area=area, max_attempts=3, not_before=start)
    assert got == datetime(2024, 1, 3, 10, tzinfo=UTC)
    assert retry_start(stored, area=area, max_attempts=2, not_before=start) == datetime(
        2024, 1, 5, 10, tzinfo=UTC
    )
    # raising the limit makes the given-up scene (failures 3) a retry again
    got = retry_start(stored, area=area, max_attempts=4, not_before=start)
    assert got == datetime(2024, 1, 2, tzinfo=UTC)
    assert retry_start({}, area=area, max_attempts=3, not_before=start) is None


def test_since_last_start_reaches_back_an_overlap_and_to_retries():
    begin = datetime(2024, 1, 1, tzinfo=UTC)
    last = datetime(2024, 3, 1, tzinfo=UTC)
    week = timedelta(days=7)
    assert since_last_start(None, region_start=begin, overlap=week) == begin
    assert since_last_start(last, region_start=begin, overlap=week) == last - week
    assert since_last_start(last, region_start=begin, overlap=timedelta(0)) == last
    retry = datetime(2024, 2, 1, tzinfo=UTC)
    assert since_last_start(last, region_start=begin, overlap=week, retry_from=retry) == retry
    late = datetime(2024, 2, 28, tzinfo=UTC)  # within the overlap: the overlap covers it
    assert since_last_start(last, region_start=begin, overlap=week, retry_from=late) == last - week
    assert since_last_start(last, region_start=last, overlap=week) == last  # never before start
    with pytest.raises(ValueError, match="overlap"):
        since_last_start(last, region_start=begin, overlap=-week)


def test_search_window_of_a_since_last_run():
    region = Region(name="gyre", bbox=(9.5, -1, 12, 2), start="2024-01-01")
    runs = [_run("2024-01-30T00:00:00+00:00", failed=1)]
    now = datetime(2024, 2, 3, tzinfo=UTC)
    plain = search_window(region, runs=runs, now=now)
    assert dataclasses.asdict(plain) == {
        "name": "gyre",
        "start": "2024-01-01T00:00:00+00:00",
        "end": now.isoformat(),
    }
    window = search_window(region, runs=runs, since_last=True, now=now, overlap=timedelta(days=3))
    assert window.start == "2024-01-27T00:00:00+00:00" and window.end == now.isoformat()
    stored = {"s": _attrs("failed", "2024-01-12T10:00:00Z")}
    window = search_window(
        region,
        runs=runs,
        since_last=True,
        now=now,
        overlap=timedelta(days=3),
        stored=stored,
        max_attempts=3,
    )
    assert window.interval == f"2024-01-12T10:00:00+00:00/{now.isoformat()}"
    # a closed region searched after its end: the overlap of its last days, never beyond it
    closed = Region(name="gyre", bbox=(9.5, -1, 12, 2), start="2024-01-01", end="2024-01-30")
    window = search_window(closed, runs=runs, since_last=True, now=now, overlap=timedelta(days=3))
    assert window.interval == "2024-01-27T00:00:00+00:00/2024-01-30T00:00:00+00:00"


def test_region_validation_names_the_field():
    with pytest.raises(ValueError, match="exactly one of bbox or geometry"):
        Region(name="r", start="2024-01-01")
    with pytest.raises(ValueError, match="bbox"):
        Region(name="r", bbox=(10, 5, 20, 1), start="2024-01-01")
    with pytest.raises(ValueError, match="geometry"):
        Region(name="r", geometry={"type": "Point", "coordinates": [0, 0]}, start="2024-01-01")
    with pytest.raises(ValueError, match="end"):
        Region(name="r", bbox=(0, 0, 1, 1), start="2024-02-01", end="2024-01-01")
    region = Region(name="r", bbox=(0, 0, 1, 1), start="2024-01-01")
    assert region.start.tzinfo is not None and region.max_cloud_cover == 30.0


def test_scan_config_file_with_regions_file(tmp_path):
    (tmp_path / "regions.yaml").write_text(
        "regions:\n"
        "  - name: gyre\n    bbox: [-140, 30, -130, 35]\n    start: 2024-01-01\n"
        "    max_cloud_cover: 20\n"
    )
    (tmp_path / "scan.yaml").write_text(
        "model: bundle\nroot: out\nregions_file: regions.yaml\ntile_size_px: 256\n"
    )
    config = load_scan_config(tmp_path / "scan.yaml", margin_px=16, workers=None)
    assert config.region("gyre").max_cloud_cover == 20
    assert config.tile_size_px == 256 and config.margin_px == 16 and config.workers is None
    with pytest.raises(ConfigError, match="unknown region 'nope'"):
        config.region("nope")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("model: b\nroot: r\ntile_size_px: 100\n", "tile_size_px"),
        ("model: b\nroot: r\nworkers: 0\n", "workers"),
        ("model: b\nroot: r\ndevice: tpu\n", "device"),
        ("model: b\n", "root"),  # the model defaults to the shipped bundle; root has none
        ("model: b\nroot: r\ntile_sise_px: 256\n", "tile_sise_px"),
        ("model: b\nroot: r\nmax_attempts: 0\n", "max_attempts"),
        ("model: b\nroot: r\nsince_last_overlap_days: -1\n", "since_last_overlap_days"),
    ],
)
def test_bad_scan_config_names_the_field(tmp_path, text, field):
    (tmp_path / "scan.yaml").write_text(text)
    with pytest.raises(ConfigError, match=field):
        load_scan_config(tmp_path / "scan.yaml")


def test_scan_config_defaults():
    config = ScanConfig(model="b", root="r")
    assert (config.tile_size_px, config.margin_px, config.batch_size) == (512, 32, 4)
    assert (config.since_last_overlap_days, config.max_attempts) == (7.0, 3)
