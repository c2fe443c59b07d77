"""Bad input, clear error, nothing written: malformed options, counts and bundles on the console
script exit with code 2 (1 means "a scene failed") and a message naming the option, before Ray
starts or any store is created."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch

from oceanscan.cli import build_parser, main
from oceanscan.model import AttentionUNet, save_bundle
from oceanscan.synth.catalog import write_catalog

BBOX = ["-88.6", "15.6", "-87.6", "16.4"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = AttentionUNet(in_channels=11, num_classes=2, base_width=4, dropout=0.0).eval()
    return save_bundle(
        tmp_path_factory.mktemp("bundle") / "bundle", model, class_mapping="binary", threshold=0.5
    )


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    return write_catalog(
        tmp_path_factory.mktemp("catalog") / "catalog", scenes=1, size=64, seed=0
    ).parent


def _exits_2(argv: list[str], capsys) -> str:
    """Run the console script in-process, expect argparse's exit code 2; its stderr."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    """The console script as a user runs it: ``python -m oceanscan ...`` in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "oceanscan", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# --- scan: malformed values stop argparse, naming the option ----------------------------------

SCAN_OPTION_CASES = [
    (["--datetime", "junk/2025", "--bbox", *BBOX], "--datetime", "'junk'"),
    (["--datetime", "2025-06-01", "--bbox", *BBOX], "--datetime", "START/END"),
    (["--datetime", "../2025-06-30", "--bbox", *BBOX], "--datetime", "START"),
    (["--datetime", "2025-06-30/2025-06-01", "--bbox", *BBOX], "--datetime", "after START"),
    (["--datetime", "2025-06-01/2025-06-31", "--bbox", *BBOX], "--datetime", "2025-06-31"),
    (["--datetime", "2025-06-01/2025-06-30/2025-07-01", "--bbox", *BBOX], "--datetime", ""),
    (["--bbox", "-88.6", "15.6", "-87.6"], "--bbox", "4 arguments"),
    (["--bbox", "west", "15.6", "-87.6", "16.4"], "--bbox", "'west'"),
    (["--max-cloud-cover", "150"], "--max-cloud-cover", "150"),
    (["--max-cloud-cover", "nan"], "--max-cloud-cover", "nan"),
    (["--batch-size", "0"], "--batch-size", ">= 1"),
    (["--batch-size", "four"], "--batch-size", "'four'"),
    (["--workers", "0"], "--workers", ">= 1"),
    (["--limit", "-1"], "--limit", ">= 1"),
    (["--margin", "-8"], "--margin", ">= 0"),
    (["--tile-size", "8"], "--tile-size", ">= 16"),
]


@pytest.mark.parametrize(("options", "flag", "detail"), SCAN_OPTION_CASES)
def test_scan_option_errors_exit_2_naming_the_option(
    tmp_path, capsys, bundle, options, flag, detail
):
    root = tmp_path / "out"
    argv = ["scan", "--model", str(bundle), "--root", str(root), *options]
    err = _exits_2(argv, capsys)
    assert f"oceanscan scan: error: argument {flag}" in err and detail in err, err
    assert not root.exists()


SCAN_COMBINATION_CASES = [
    (["--bbox", *BBOX], "--bbox needs --datetime"),
    (["--datetime", "2025-06-01/2025-06-30"], "--datetime and --max-cloud-cover"),
    (["--max-cloud-cover", "20"], "--bbox"),
    (["--bbox", "200", "15.6", "-87.6", "16.4", "--datetime", "2025-06-01/.."], "'bbox'"),
    (["--tile-size", "100"], "field 'tile_size_px'"),
]


@pytest.mark.parametrize(("options", "detail"), SCAN_COMBINATION_CASES)
def test_scan_option_combinations_exit_2_naming_the_field(
    tmp_path, capsys, bundle, catalog, options, detail
):
    root = tmp_path / "out"
    argv = ["scan", "--model", str(bundle), "--root", str(root), "--catalog", str(catalog)]
    assert main([*argv, *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("oceanscan scan: error:") and detail in err, err
    assert not root.exists()


def test_an_override_error_names_the_command_line_not_the_file(tmp_path, capsys, bundle):
    config = tmp_path / "scan.yaml"
    config.write_text(f"model: {bundle}\nroot: {tmp_path / 'out'}\ncatalog: {tmp_path}\n")
    assert main(["scan", "--config", str(config), "--tile-size", "100"]) == 2
    err = capsys.readouterr().err
    assert f"command line (over {config}): field 'tile_size_px'" in err, err


@pytest.mark.parametrize(
    ("text", "window"),
    [
        (
            "2025-06-01/2025-06-30",
            (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 30, tzinfo=UTC)),
        ),
        ("2025-06-01T10:00:00Z/..", (datetime(2025, 6, 1, 10, tzinfo=UTC), None)),
        ("2025-06-01T12:00:00+02:00/", (datetime(2025, 6, 1, 10, tzinfo=UTC), None)),
    ],
)
def test_good_time_windows_parse(text, window):
    args = build_parser().parse_args(["scan", "--bbox", *BBOX, "--datetime", text])
    assert args.datetime == window


def test_malformed_datetime_in_a_real_process_exits_2_without_traceback(tmp_path, bundle):
    """The issue's reproduction: ``--datetime junk/2025`` ended in a traceback with exit code 1."""
    root = tmp_path / "out"
    done = _run(
        "scan", "--model", str(bundle), "--root", str(root), "--bbox", *BBOX,
        "--datetime", "junk/2025",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "argument --datetime: 'junk' in 'junk/2025' is not an ISO 8601" in done.stderr
    assert "Traceback" not in done.stderr
    assert not root.exists()


# --- scan: the bundle is checked before Ray or the store --------------------------------------

_SCAN_AND_REPORT_RAY = """
import json, sys
import ray
from oceanscan.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "ray_started": ray.is_initialized()}))
"""


def _scan_in_a_process(*argv: str) -> tuple[dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-c", _SCAN_AND_REPORT_RAY, "scan", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_a_missing_bundle_is_refused_before_ray_or_the_store(tmp_path, catalog):
    root = tmp_path / "out"
    missing = tmp_path / "no-such-bundle"
    report, err = _scan_in_a_process(
        "--catalog", str(catalog), "--model", str(missing), "--root", str(root), "--no-progress"
    )
    assert report == {"code": 2, "ray_started": False}
    assert f"oceanscan scan: error: model bundle directory not found: {missing}" in err
    assert not root.exists()


def test_a_bundle_with_a_bad_threshold_is_refused_before_ray_or_the_store(
    tmp_path, bundle, catalog
):
    bad = tmp_path / "bad-bundle"
    bad.mkdir()
    meta = json.loads((bundle / "model.json").read_text())
    meta["threshold"] = float("nan")
    (bad / "model.json").write_text(json.dumps(meta))
    (bad / "model.pt").write_bytes((bundle / "model.pt").read_bytes())
    root = tmp_path / "out"
    report, err = _scan_in_a_process(
        "--catalog", str(catalog), "--model", str(bad), "--root", str(root), "--no-progress"
    )
    assert report == {"code": 2, "ray_started": False}
    assert str(bad / "model.json") in err and "threshold" in err, err
    assert not root.exists()


def test_scan_regions_refuses_a_missing_bundle_before_the_store(tmp_path, catalog):
    """The Python API (as jobs/scan.py and the demo use it) checks the bundle first too."""
    from oceanscan.errors import BundleError
    from oceanscan.scan.config import ScanConfig
    from oceanscan.scan.runner import scan_regions

    root = tmp_path / "out"
    config = ScanConfig(model=str(tmp_path / "absent"), root=str(root), catalog=str(catalog))
    with pytest.raises(BundleError, match="absent"):
        scan_regions(config)
    assert not root.exists()


# --- evaluate, synth, catalog: counts and values ----------------------------------------------

OTHER_CASES = [
    (["evaluate", "--data", "d", "--model", "m", "--batch-size", "0"], "--batch-size"),
    (["evaluate", "--data", "d", "--model", "m", "--batch-size", "-4"], "--batch-size"),
    (["evaluate", "--data", "d", "--model", "m", "--batch-size", "2.5"], "--batch-size"),
    (["synth", "patches", "--out", "OUT", "--n", "2"], "--n"),
    (["synth", "patches", "--out", "OUT", "--size", "8"], "--size"),
    (["synth", "patches", "--out", "OUT", "--seed", "-1"], "--seed"),
    (["synth", "catalog", "--out", "OUT", "--scenes", "0"], "--scenes"),
    (["synth", "catalog", "--out", "OUT", "--size", "abc"], "--size"),
    (["catalog", "search", "http://127.0.0.1:9", "--datetime", "junk"], "--datetime"),
    (["catalog", "search", "http://127.0.0.1:9", "--datetime", "2025-13"], "--datetime"),
    (["catalog", "search", "http://127.0.0.1:9", "--datetime", "../.."], "--datetime"),
    (["catalog", "search", "http://127.0.0.1:9", "--limit", "0"], "--limit"),
    (["catalog", "search", "http://127.0.0.1:9", "--max-cloud", "101"], "--max-cloud"),
    (["catalog", "search", "http://127.0.0.1:9", "--timeout", "0"], "--timeout"),
    (["catalog", "serve", "DIR", "--port", "70000"], "--port"),
]


@pytest.mark.parametrize(("argv", "flag"), OTHER_CASES)
def test_other_commands_refuse_bad_values_with_exit_2(tmp_path, capsys, argv, flag):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    err = _exits_2(argv, capsys)
    assert f"error: argument {flag}:" in err, err
    assert not (tmp_path / "out").exists()


def test_evaluate_batch_size_zero_in_a_real_process(tmp_path, bundle):
    done = _run("evaluate", "--data", str(tmp_path), "--model", str(bundle), "--batch-size", "0")
    assert done.returncode == 2
    assert "oceanscan evaluate: error: argument --batch-size: must be >= 1, got 0" in done.stderr


@pytest.mark.parametrize("text", ["2025", "2025-06", "2025-06-01/..", "../2025-01-01T00:00:00Z"])
def test_catalog_search_accepts_stac_datetimes(text):
    args = build_parser().parse_args(["catalog", "search", "http://x", "--datetime", text])
    assert args.datetime == text
