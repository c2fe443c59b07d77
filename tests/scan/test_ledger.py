"""Ledger rules (pure) and scan configuration validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scan_helpers import make_spec

from oceanscan.errors import ConfigError
from oceanscan.scan.config import Region, ScanConfig, load_scan_config
from oceanscan.scan.ledger import RunCounts, exit_code, last_search_end, select_scenes


def test_only_complete_scenes_are_skipped_and_duplicates_scanned_once():
    a, b, c, d = (make_spec(f"S2A_{n}") for n in "abcd")
    stored = {
        a.key: {"status": "complete"},
        b.key: {"status": "failed", "reason": "x"},
        c.key: {"status": "created"},
    }
    todo, skipped = select_scenes([a, b, c, d, b], stored)
    assert [s.key for s in todo] == [b.key, c.key, d.key]
    assert skipped == [a.key]


def _run(end, *, failed=0, region="gyre", finished=True):
    return {
        "id": end,
        "finished": "2024-02-01T00:00:00+00:00" if finished else None,
        "regions": [{"name": region, "start": "2024-01-01T00:00:00+00:00", "end": end}],
        "counts": {"complete": 1, "failed": failed, "skipped": 0},
    }


def test_since_last_uses_the_last_successful_run_of_the_region():
    runs = [
        _run("2024-01-10T00:00:00+00:00"),
        _run("2024-01-20T00:00:00+00:00"),
        _run("2024-01-30T00:00:00+00:00", failed=1),  # failures do not move the window
        _run("2024-02-05T00:00:00+00:00", region="other"),
        _run("2024-02-09T00:00:00+00:00", finished=False),  # interrupted
    ]
    assert last_search_end(runs, "gyre") == datetime(2024, 1, 20, tzinfo=UTC)
    assert last_search_end(runs, "other") == datetime(2024, 2, 5, tzinfo=UTC)
    assert last_search_end(runs, "unknown") is None
    assert last_search_end([], "gyre") is None


def test_exit_code_says_when_a_scene_failed():
    counts = RunCounts(complete=["a"], skipped=["b"])
    assert exit_code(counts) == 0
    counts.failed["c"] = "read error"
    assert exit_code(counts) == 1
    assert counts.as_dict() == {"complete": 1, "failed": 1, "skipped": 1}


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
    assert config.tile_size_px == 256 and config.margin_px == 16 and config.workers == 1
    with pytest.raises(ConfigError, match="unknown region 'nope'"):
        config.region("nope")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("model: b\nroot: r\ntile_size_px: 100\n", "tile_size_px"),
        ("model: b\nroot: r\nworkers: 0\n", "workers"),
        ("model: b\nroot: r\ndevice: tpu\n", "device"),
        ("root: r\n", "model"),
        ("model: b\nroot: r\ntile_sise_px: 256\n", "tile_sise_px"),
    ],
)
def test_bad_scan_config_names_the_field(tmp_path, text, field):
    (tmp_path / "scan.yaml").write_text(text)
    with pytest.raises(ConfigError, match=field):
        load_scan_config(tmp_path / "scan.yaml")


def test_scan_config_defaults():
    config = ScanConfig(model="b", root="r")
    assert (config.tile_size_px, config.margin_px, config.batch_size) == (512, 32, 4)
