"""``oceanscan scan --input``: real GeoTIFF, a built .SAFE, STAC Items from a file and a URL, signing.

Each input goes through the same pipeline as a catalog scene and gives the same outputs: a Zarr
group that xarray, rioxarray and GDAL open on the file's own grid, a ledger entry (a rerun skips
it), an index row and detections.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr

from oceanscan.cli import main
from tests.helpers import fake_signer
from tests.helpers.bundles import save_tiny_bundle
from tests.helpers.input_files import BANDS_ARG, PRODUCT, write_safe
from tests.helpers.shared import shared_path

pytestmark = [pytest.mark.ray, pytest.mark.slow]

#: The stand-in signer, named as ``--sign`` takes it.
SIGNER = f"{fake_signer.__name__}:sign"
FAST = ["--tile-size", "240", "--margin", "16", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def bundle(ray_session, tmp_path_factory):
    return save_tiny_bundle(tmp_path_factory.mktemp("inputs-bundle") / "tiny")


def _scan(capsys, *argv):
    code = main(["scan", *argv, *FAST])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines, f"exit code {code}, no summary; stderr: {captured.err}"
    return code, json.loads(lines[-1])


def _group(root, key):
    return xr.open_zarr(f"{root}/scenes.zarr", group=f"scenes/{key}", decode_coords="all")


def test_scan_scenes_starts_ray_itself(tmp_path):
    """The README's Python example calls scan_scenes without ray.init: it must start Ray.

    First in this file, so that (run alone) no other Ray is up beside the one it starts.
    """
    bundle = save_tiny_bundle(tmp_path / "bundle")
    script = f"""
import ray
from oceanscan.inputs import scene_from_input
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.pipeline import scan_scenes

assert not ray.is_initialized()
spec = scene_from_input({str(shared_path("real", "mariveles_l2a_scl.tif"))!r}, bands={BANDS_ARG!r})
config = ScanConfig(model={str(bundle)!r}, root={str(tmp_path / "out")!r}, tile_size_px=240,
                    device="cpu", progress_bars=False, land="scl")
result = scan_scenes([spec], config)
print(result.counts.as_dict()["complete"])
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "1"


def test_geotiff_with_bands_gives_a_store_xarray_and_gdal_open(bundle, tmp_path, capsys):
    path = shared_path("real", "mariveles_l2a_scl.tif")
    root = tmp_path / "out"
    args = ["--input", str(path), "--bands", BANDS_ARG, "--root", str(root), "--model", str(bundle)]
    code, summary = _scan(capsys, *args)
    assert code == 0 and summary["complete"] == 1 and summary["tiles"] == 4, summary

    ds = _group(root, "mariveles_l2a_scl")
    with rasterio.open(path) as src:
        assert ds.rio.crs == src.crs
        assert ds.rio.transform() == src.transform
    prob, mask = ds.probability.values, ds.mask.values
    assert np.isnan(prob[mask != 0]).all() and (prob[mask == 0] >= 0).all()
    assert np.nanmax(prob) <= 1.0
    # Coastline land: the north of the harbour is land, the south-west is sea.
    assert (mask[:80] == 1).mean() > 0.9 and (mask[400:, 100:400] == 0).mean() > 0.95
    assert ds.attrs["provider"] == "geotiff" and ds.attrs["status"] == "complete"
    assert ds.attrs["land"].startswith("coastline: OpenStreetMap")
    assert ds.attrs["reflectance_offset"] == 0.0

    gdal_path = f'ZARR:"{root}/scenes.zarr/scenes/mariveles_l2a_scl/probability"'
    with rasterio.open(gdal_path) as z, rasterio.open(path) as src:
        assert z.driver == "Zarr" and z.crs == src.crs and z.transform == src.transform
        assert z.shape == (480, 480)

    index = gpd.read_parquet(root / "index.parquet")
    assert list(index["item_id"]) == ["mariveles_l2a_scl"]
    assert index.geometry.iloc[0].contains(index.geometry.iloc[0].centroid)
    detections = gpd.read_parquet(root / "detections.parquet")
    assert set(detections["scene"]) <= {"mariveles_l2a_scl"}

    # The ledger: a second run skips the complete scene.
    code, again = _scan(capsys, *args)
    assert code == 0 and (again["complete"], again["skipped"]) == (0, 1)


def test_safe_from_the_scan_config(bundle, tmp_path, capsys):
    safe = write_safe(shared_path("real", "mariveles_l2a_scl.tif"), tmp_path)
    root = tmp_path / "out"
    config = tmp_path / "scan.yaml"
    config.write_text(
        f"model: {bundle}\nroot: {root}\ninput: {safe}\n"
        "stac_url: https://earth-search.aws.element84.com/v1\n"  # ignored: --input replaces it
    )
    code, summary = _scan(capsys, "--config", str(config), "--input", str(safe))
    assert code == 0 and summary["complete"] == 1, summary
    ds = _group(root, PRODUCT)
    assert ds.attrs["reflectance_offset"] == pytest.approx(-0.1)
    assert ds.attrs["provider"] == "safe" and ds.attrs["platform"] == "sentinel-2b"
    assert (ds.attrs["mgrs_tile"], ds.attrs["processing_baseline"]) == ("51PTS", "05.10")
    assert ds.attrs["datetime"] == "2024-03-05T02:21:09.024000Z"
    with rasterio.open(shared_path("real", "mariveles_l2a_scl.tif")) as src:
        assert ds.rio.crs == src.crs and ds.rio.transform() == src.transform

    # The same input from the file alone (no --input on the command line).
    config.write_text(f"model: {bundle}\nroot: {tmp_path / 'out2'}\ninput: [{safe}]\nland: scl\n")
    code, summary = _scan(capsys, "--config", str(config))
    assert code == 0 and summary["complete"] == 1, summary
    assert _group(tmp_path / "out2", PRODUCT).attrs["land"].startswith("scl")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    from oceanscan.synth.catalog import write_catalog

    return write_catalog(
        tmp_path_factory.mktemp("inputs-catalog") / "catalog", scenes=2, size=96, seed=11
    )


def _items(directory):
    """The STAC Item JSON files under ``directory``, sorted."""
    found = [p for p in directory.rglob("*.json") if json.loads(p.read_text())["type"] == "Feature"]
    return sorted(found)


def test_stac_items_from_a_file_and_a_url(bundle, catalog, tmp_path, capsys, range_http_server):
    first, second = _items(catalog.parent)
    server = range_http_server(catalog.parent)
    root = tmp_path / "out"
    code, summary = _scan(
        capsys,
        "--input",
        str(first),
        "--input",
        server.url_for(second),
        "--root",
        str(root),
        "--model",
        str(bundle),
    )
    assert code == 0 and summary["complete"] == 2, summary
    served = {r.path for r in server.requests()}
    assert any(p.endswith(".tif") for p in served)  # the URL item's COGs were read over HTTP
    for item in (first, second):
        key = json.loads(item.read_text())["id"]
        ds = _group(root, key)
        assert ds.attrs["provider"] == "synthetic" and ds.attrs["land"].startswith("scl")


def test_sign_makes_unreadable_hrefs_readable(bundle, catalog, tmp_path, capsys, monkeypatch):
    """--sign module:function on a catalog (the runner) and on a STAC Item input."""
    signed = tmp_path / "signed"
    shutil.copytree(catalog.parent, signed)
    unsigned = tmp_path / "unsigned"  # the catalog as the provider publishes it: no COGs
    shutil.copytree(catalog.parent, unsigned, ignore=shutil.ignore_patterns("*.tif"))
    monkeypatch.setenv("OCEANSCAN_TEST_UNSIGNED", str(unsigned))
    monkeypatch.setenv("OCEANSCAN_TEST_SIGNED", str(signed))
    common = ["--model", str(bundle), "--catalog", str(unsigned)]
    code, summary = _scan(capsys, *common, "--root", str(tmp_path / "plain"))
    assert code == 1 and summary["failed"] == 2  # the COGs are not where the items say

    fake_signer.CALLS.clear()
    code, summary = _scan(capsys, *common, "--root", str(tmp_path / "out"), "--sign", SIGNER)
    assert code == 0 and summary["complete"] == 2, summary
    assets = sum(len(json.loads(p.read_text())["assets"]) for p in _items(unsigned))
    assert len(fake_signer.CALLS) == assets  # every asset href of both items, once

    item = _items(unsigned)[0]
    code, summary = _scan(
        capsys,
        "--input",
        str(item),
        "--sign",
        SIGNER,
        "--root",
        str(tmp_path / "item"),
        "--model",
        str(bundle),
    )
    assert code == 0 and summary["complete"] == 1, summary


def test_bad_inputs_exit_2_before_anything_is_written(bundle, tmp_path, capsys):
    path = shared_path("real", "mariveles_l2a_scl.tif")
    root = tmp_path / "never"
    for argv, message in (
        (["--input", str(path)], "--bands"),
        (["--input", str(tmp_path / "missing.tif")], "no such file"),
        (["--input", str(path), "--bands", "B01,B99"], "unknown band name 'B99'"),
        (["--input", str(path), "--bands", BANDS_ARG, "--region", "x"], "--input scans"),
        (["--input", str(path), "--bands", BANDS_ARG, "--sign", "nope"], "unknown signer"),
        (["--input", str(path), "--bands", BANDS_ARG, "--profile", "nope"], "invalid choice"),
        (["--input", str(path), "--bands", BANDS_ARG, "--sign", "json:dumps"], "sign (href"),
    ):
        try:
            code = main(["scan", *argv, "--root", str(root), "--model", str(bundle)])
        except SystemExit as exit_:  # argparse refuses malformed values itself
            code = exit_.code
        err = capsys.readouterr().err
        assert code == 2 and message in err, (argv, err)
        assert not root.exists()
