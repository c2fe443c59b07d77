"""The Ray Data scan end to end on tiny scenes: stitching, ledger, failures, outputs.

Stitching reference: the attention U-Net has global self-attention at 1/16 and 1/8 resolution,
so every output pixel depends on the whole input: no finite margin makes a tiled prediction equal
to one forward pass over the whole scene (benchmarks/scan_throughput.py reports how far apart the
two are). What tiling must guarantee is that the pipeline computes exactly the sliding-window
prediction: the whole scene read once, reflection-padded by the margin, cut into
``tile + 2 * margin`` windows at stride ``tile``, each predicted and cropped to its core. The
pipeline instead reads each window separately (clipped at the scene edge and padded per tile),
batches tiles from different scenes, and writes cores from Ray workers; it must agree with the
reference within one quantization step (1/254) everywhere, and its masks must agree exactly.
With 192 px scenes and 64 px tiles every core is full, so the per-tile reflection at the scene edge
equals the whole-scene reflection pixel for pixel. BatchNorm runs in eval mode (running
statistics), so a tile's batch-mates do not change its prediction.
"""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import numpy as np
import pytest
import zarr

from oceanscan.land import attach_land
from oceanscan.model import load_bundle
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.ledger import exit_code, scored_differently
from oceanscan.scan.pipeline import scan_scenes
from oceanscan.scan.plan import run_attributes
from oceanscan.scan.predictor import cpu_has_bf16, resolve_runtime
from oceanscan.scan.reader import read_window
from oceanscan.scan.store import (
    FILL,
    open_root,
    quantize,
    read_scene_attrs,
    store_url,
    threshold_step,
)
from oceanscan.scene import PixelWindow
from tests.helpers.bundles import save_tiny_bundle
from tests.helpers.scenes import write_scene

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TILE, MARGIN = 64, 16


def _config(root, bundle, **kw):
    return ScanConfig(
        model=str(bundle),
        root=str(root),
        tile_size_px=TILE,
        margin_px=MARGIN,
        workers=1,
        batch_size=4,
        device="cpu",
        progress_bars=False,
        **kw,
    )


@pytest.fixture(scope="module")
def scanned(ray_session, tmp_path_factory):
    base = tmp_path_factory.mktemp("scan")
    bundle = save_tiny_bundle(base / "bundle")
    good = [write_scene(base / f"s{i}", f"S2A_MSIL2A_2024030{i}_T31SDA", seed=i) for i in (1, 2)]
    broken = write_scene(base / "s3", "S2B_MSIL2A_20240303_T31SDA", seed=3)
    (base / "s3" / "B11.tif").unlink()  # an asset that cannot be read
    root = base / "out"
    result = scan_scenes(
        [*good, broken],
        _config(root, bundle),
        regions=[{"name": "test", "start": "2024-03-01", "end": "2024-03-04"}],
    )
    return {"root": root, "bundle": bundle, "good": good, "broken": broken, "result": result}


def _reference(spec, bundle_dir):
    """Sliding-window prediction over the whole scene, read and padded in one go, with the network
    run as the scan's CPU actors run it (runtime and precision)."""
    bundle = load_bundle(bundle_dir).with_runtime(
        resolve_runtime("auto", "cpu"), bf16=cpu_has_bf16()
    )
    h, w = spec.grid.shape
    spec = attach_land(spec)  # as the scan plans it: synthetic scenes keep their SCL land
    chunk = read_window(spec, PixelWindow(0, 0, h, w))
    padded = np.pad(chunk.reflectance, ((0, 0), (MARGIN, MARGIN), (MARGIN, MARGIN)), mode="reflect")
    prob = np.empty((h, w), dtype=np.float32)
    size = TILE + 2 * MARGIN
    for r in range(0, h, TILE):
        for c in range(0, w, TILE):
            window = padded[None, :, r : r + size, c : c + size]
            prob[r : r + TILE, c : c + TILE] = bundle.predict_proba(window)[0][
                MARGIN : MARGIN + TILE, MARGIN : MARGIN + TILE
            ]
    return quantize(prob, chunk.mask), chunk.mask


def test_counts_statuses_and_exit_code(scanned):
    result = scanned["result"]
    good_keys = sorted(s.key for s in scanned["good"])
    assert sorted(result.counts.complete) == good_keys
    assert list(result.counts.failed) == [scanned["broken"].key]
    assert exit_code(result.counts) == 1
    assert result.tiles == 3 * 9
    stored = read_scene_attrs(open_root(str(scanned["root"])))
    for key in good_keys:
        attrs = stored[key]
        assert attrs["status"] == "complete" and attrs["reason"] is None
        assert attrs["run_id"] == result.run_id
        assert attrs["scored_pixels"] > 0
    failed = stored[scanned["broken"].key]
    assert failed["status"] == "failed"
    assert "B11" in failed["reason"]
    runs = open_root(str(scanned["root"])).attrs["runs"]
    assert runs[-1]["counts"] == {"complete": 2, "failed": 1, "skipped": 0, "given_up": 0}
    assert (failed["failures"], stored[good_keys[0]]["failures"]) == (1, 0)
    assert runs[-1]["regions"][0]["name"] == "test"


def test_pipeline_equals_sliding_window_reference(scanned):
    group = zarr.open_group(store_url(str(scanned["root"])), mode="r")
    for spec in scanned["good"]:
        expected, mask = _reference(spec, scanned["bundle"])
        got = group[f"scenes/{spec.key}/probability"][:]
        np.testing.assert_array_equal(group[f"scenes/{spec.key}/mask"][:], mask)
        np.testing.assert_array_equal(got == FILL, expected == FILL)
        diff = np.abs(got.astype(int) - expected.astype(int))[got != FILL]
        assert diff.max() <= 1, f"{spec.key}: max difference {diff.max()} quantization steps"
        assert len(np.unique(got[got != FILL])) > 20  # a spatially varying prediction
        assert (mask == 1).any() and (mask == 2).any() and (mask == 3).any()


def test_summary_detections_and_index_agree_with_the_store(scanned):
    root = scanned["root"]
    group = zarr.open_group(store_url(str(root)), mode="r")
    detections = gpd.read_parquet(root / "detections.parquet")
    assert detections.crs == "EPSG:4326"
    index = gpd.read_parquet(root / "index.parquet")
    assert sorted(index["scene"]) == sorted(
        [s.key for s in scanned["good"]] + [scanned["broken"].key]
    )
    assert set(index["status"]) == {"complete", "failed"}
    for spec in scanned["good"]:
        stored = group[f"scenes/{spec.key}/probability"][:]
        attrs = dict(group[f"scenes/{spec.key}"].attrs)
        debris = int(((stored != FILL) & (stored >= threshold_step(0.2))).sum())
        assert debris > 0  # the tiny bundle's threshold is set so that there are detections
        assert attrs["debris_pixels"] == debris
        assert attrs["scored_pixels"] == int((stored != FILL).sum())
        assert attrs["max_probability"] == pytest.approx(stored[stored != FILL].max() / 254)
        mine = detections[detections["scene"] == spec.key]
        assert int(mine["pixels"].sum()) == debris
        assert len(mine) == attrs["detections"]
        assert (mine["max_probability"] >= 0.2).all()
        assert np.allclose(mine["area_m2"], mine["pixels"] * 100.0)
        row = index[index["scene"] == spec.key].iloc[0]
        assert row["debris_pixels"] == debris and row["mgrs_tile"] == "31SDA"
        assert row.geometry.contains(mine.geometry.union_all().centroid)


def test_rerun_skips_complete_and_redoes_the_rest_bit_identically(scanned, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(scanned["root"], root)
    first, second = scanned["good"]
    before = zarr.open_group(store_url(str(root)), mode="r")
    clean = {s.key: before[f"scenes/{s.key}/probability"][:] for s in scanned["good"]}
    # An interrupted scene: status left at "created" and a chunk damaged.
    group = open_root(str(root))
    group[f"scenes/{second.key}"].attrs["status"] = "created"
    group[f"scenes/{second.key}/probability"][0:64, 0:64] = 7
    result = scan_scenes([first, second], _config(root, scanned["bundle"]))
    assert result.counts.skipped == [first.key]
    assert result.counts.complete == [second.key]
    assert exit_code(result.counts) == 0
    after = zarr.open_group(store_url(str(root)), mode="r")
    for key, array in clean.items():
        np.testing.assert_array_equal(after[f"scenes/{key}/probability"][:], array)
    assert read_scene_attrs(open_root(str(root)))[second.key]["status"] == "complete"
    assert len(open_root(str(root)).attrs["runs"]) == 2


def test_the_scan_runs_the_bundle_as_its_threshold_was_tuned(ray_session, tmp_path):
    bundle = save_tiny_bundle(tmp_path / "bundle")
    meta_path = bundle / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["inference"] = {"tta": "rot180"}  # as oceanscan tune-threshold --tta rot180 writes it
    meta_path.write_text(json.dumps(meta))
    spec = write_scene(tmp_path / "s1", "S2A_MSIL2A_20240301_T31SDA", seed=1)
    runs = {}
    for tta in ("bundle", "none"):
        root = tmp_path / f"out-{tta}"
        scan_scenes([spec], _config(root, bundle, tta=tta))
        group = zarr.open_group(store_url(str(root)), mode="r")
        runs[tta] = group[f"scenes/{spec.key}"]
    assert runs["bundle"].attrs["tta"] == "rot180" and runs["none"].attrs["tta"] == "none"
    assert runs["bundle"].attrs["spectral_check"] is False  # the tiny bundle has none
    expected, _ = _reference(spec, bundle)  # the bundle's own views
    got = runs["bundle"]["probability"][:]
    diff = np.abs(got.astype(int) - expected.astype(int))[got != FILL]
    assert diff.max() <= 1
    single = runs["none"]["probability"][:]
    assert (single != got).mean() > 0.1  # one view scores differently from two


def test_a_rerun_with_other_views_keeps_the_results_and_says_so(ray_session, tmp_path, caplog):
    bundle = save_tiny_bundle(tmp_path / "bundle")
    spec = write_scene(tmp_path / "s1", "S2A_MSIL2A_20240301_T31SDA", seed=1)
    root = tmp_path / "out"
    scan_scenes([spec], _config(root, bundle, tta="none"))
    before = zarr.open_group(store_url(str(root)), mode="r")[f"scenes/{spec.key}/probability"][:]
    with caplog.at_level("WARNING", logger="oceanscan.scan.plan"):
        result = scan_scenes([spec], _config(root, bundle, tta="rot180"))
    assert result.counts.skipped == [spec.key] and not result.counts.complete
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(spec.key in m and "tta 'none' (this run: 'rot180')" in m for m in warned), warned
    group = zarr.open_group(store_url(str(root)), mode="r")[f"scenes/{spec.key}"]
    np.testing.assert_array_equal(group["probability"][:], before)
    # read back from the store, only the views differ: the weights, check and threshold do not
    stored = read_scene_attrs(open_root(str(root)))[spec.key]
    rerun = run_attributes(load_bundle(bundle), "rerun", _config(root, bundle, tta="rot180"))
    assert scored_differently(stored, rerun) == {"tta": ("none", "rot180")}


def test_config_reads_the_old_on_off_switch():
    assert _config("/tmp/x", "/tmp/b").tta == "bundle"
    assert _config("/tmp/x", "/tmp/b", tta=True).tta == "dihedral"
    assert _config("/tmp/x", "/tmp/b", tta=False).views("rot180") == "none"
    assert _config("/tmp/x", "/tmp/b").views("rot180") == "rot180"
    with pytest.raises(ValueError, match="tta"):
        _config("/tmp/x", "/tmp/b", tta="spin")
