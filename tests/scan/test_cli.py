"""``oceanscan scan`` and ``oceanscan evaluate-scan`` on a synthetic static catalog, including
``--since-last`` across runs and the evaluation against the catalog's truth rasters."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import zarr
from affine import Affine
from scipy import ndimage

from oceanscan.cli import main
from oceanscan.scan.store import FILL, open_root, store_url, threshold_step
from oceanscan.synth.catalog import write_catalog
from tests.helpers.bundles import save_tiny_bundle

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SIZE = 128
FAST = ["--tile-size", "64", "--margin", "16", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def setup(ray_session, tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    # Debris in the first scene, as in a debris event (drawn fractions would mostly be 0 or a
    # few pixels at this size), and a clean second scene.
    catalog = write_catalog(
        base / "catalog", scenes=2, size=SIZE, seed=7, debris_fractions=(0.01, 0.0)
    )
    bundle = save_tiny_bundle(base / "bundle")
    config = base / "scan.yaml"
    config.write_text(
        f"model: {bundle}\nroot: {base / 'out'}\ncatalog: {catalog.parent}\n"
        "regions:\n  - name: world\n    bbox: [-180, -80, 180, 80]\n"
        "    start: 2025-05-01T00:00:00Z\n    max_cloud_cover: 100\n"
    )
    return {
        "base": base,
        "catalog": catalog,
        "bundle": bundle,
        "config": config,
        "root": base / "out",
    }


def _scan(capsys, *argv):
    code = main(["scan", *argv, *FAST])
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    assert out, f"exit code {code}, no summary; stderr: {captured.err}"
    return code, json.loads(out[-1])


def test_since_last_scans_only_what_is_new(setup, capsys):
    cfg = str(setup["config"])
    # First run: an explicit window that holds only the first scene (2025-06-01).
    code, first = _scan(
        capsys,
        "--config",
        cfg,
        "--bbox",
        "-180",
        "-80",
        "180",
        "80",
        "--datetime",
        "2025-05-01T00:00:00Z/2025-06-03T00:00:00Z",
        "--region",
        "world",
    )
    assert code == 0 and first["complete"] == 1 and first["failed"] == 0
    # From the default 7-day overlap before the end of that run's window: the second scene
    # (2025-06-06) is new, the first (2025-06-01), in the overlap, is skipped as complete.
    code, second = _scan(capsys, "--config", cfg, "--region", "world", "--since-last")
    assert code == 0 and (second["complete"], second["skipped"]) == (1, 1)
    # Nothing new since then.
    code, third = _scan(capsys, "--config", cfg, "--region", "world", "--since-last")
    assert code == 0 and (third["complete"], third["skipped"]) == (0, 0)
    runs = open_root(str(setup["root"])).attrs["runs"]
    assert [r["regions"][0]["name"] for r in runs] == ["world"] * 3
    assert runs[1]["regions"][0]["start"] == "2025-05-27T00:00:00+00:00"  # 06-03 - 7 days
    # A plain rerun over the whole window finds both scenes complete.
    code, again = _scan(capsys, "--config", cfg, "--region", "world")
    assert code == 0 and (again["complete"], again["skipped"]) == (0, 2)


def test_evaluate_scan_matches_a_direct_count(setup, capsys):
    assert (
        main(
            [
                "evaluate-scan",
                "--root",
                str(setup["root"]),
                "--truth",
                str(setup["catalog"].parent),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert len(result["scenes"]) == 2
    group = zarr.open_group(store_url(str(setup["root"])), mode="r")
    tp = fp = fn = false = 0
    clean_km2 = 0.0
    import pystac

    for item in pystac.Catalog.from_file(str(setup["catalog"])).get_items(recursive=True):
        stored = group[f"scenes/{item.id}/probability"][:]
        step = threshold_step(group[f"scenes/{item.id}"].attrs["threshold"])
        with rasterio.open(item.assets["truth"].get_absolute_href()) as src:
            labels = src.read(1)
            pixel_km2 = abs(src.transform.determinant) / 1e6
        assert labels.shape == (SIZE, SIZE)
        assert Affine(*group[f"scenes/{item.id}"].attrs["spatial:transform"][:6]) == src.transform
        valid = (stored != FILL) & (labels > 0)
        hit, debris = (stored != FILL) & (stored >= step), labels == 1
        tp += int(np.sum(valid & hit & debris))
        fp += int(np.sum(valid & hit & ~debris))
        fn += int(np.sum(valid & ~hit & debris))
        # False detections, one component at a time: 8-connected flagged pixels with no debris
        # pixel and at least one labelled non-debris pixel.
        components, n = ndimage.label(hit, structure=np.ones((3, 3)))
        scene_false = sum(
            1
            for i in range(1, n + 1)
            if not (debris & valid)[components == i].any()
            and (valid & ~debris)[components == i].any()
        )
        scene_km2 = int((valid & ~debris).sum()) * pixel_km2
        row = result["scenes"][item.id]
        assert row["false_detections"] == scene_false
        assert row["debris_free_km2"] == pytest.approx(scene_km2)
        false += scene_false
        clean_km2 += scene_km2
    total = result["total"]
    assert total["tp"] + total["fn"] > 0, "the first scene holds debris"
    assert (total["tp"], total["fp"], total["fn"]) == (tp, fp, fn)
    assert 0.0 <= total["f1"] <= 1.0 and 0.0 <= total["iou"] <= total["f1"] + 1e-12
    assert total["false_detections"] == false > 0  # the tiny random bundle flags speckle
    assert total["false_detections_per_km2"] == pytest.approx(false / clean_km2)
    # 10 m pixels: 1e4 to the km2
    assert total["debris_free_km2"] == pytest.approx(
        sum(r["pixels"] - r["tp"] - r["fn"] for r in result["scenes"].values()) / 1e4
    )


def test_evaluate_scan_prints_a_table(setup, capsys):
    argv = ["evaluate-scan", "--root", str(setup["root"]), "--truth", str(setup["catalog"])]
    assert main(argv) == 0
    header, *rows, note = capsys.readouterr().out.strip().splitlines()
    assert header.split() == ["scene", "precision", "recall", "f1", "iou", "FD/km2"]
    assert [r.split()[0] for r in rows][-1] == "total" and len(rows) == 3
    assert all(len(r.split()) == 6 for r in rows)
    assert note.startswith("FD/km2: false detections")


def test_errors_are_reported_with_exit_code_2(setup, capsys):
    assert main(["scan", "--config", str(setup["config"]), "--region", "nowhere"]) == 2
    assert "unknown region 'nowhere'" in capsys.readouterr().err
    assert main(["scan", "--model", "m", "--root", "r", "--tile-size", "100"]) == 2
    assert "tile_size_px" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate-scan",
                "--root",
                str(setup["base"] / "none"),
                "--truth",
                str(setup["catalog"]),
            ]
        )
        == 2
    )


@pytest.mark.server
def test_scan_through_a_stac_api_equals_the_catalog_scan(setup, capsys):
    """The same scenes found by a STAC API search and read as COGs over HTTP (Range requests)
    give the same bytes as the local catalog scan."""
    import shutil

    import pystac

    from oceanscan.stac_server import serve

    # write_catalog gives its catalog and collection relative "self" links (the STAC spec wants
    # them absolute) that stac-fastapi-static cannot resolve; pystac rewrites them.
    served = setup["base"] / "served"
    shutil.copytree(setup["catalog"].parent, served)
    catalog = pystac.Catalog.from_file(str(served / "catalog.json"))
    catalog.normalize_hrefs(str(served))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    # Only the first scene (Gulf of Honduras) lies in this box.
    where = [
        "--bbox",
        "-89",
        "15",
        "-87",
        "17",
        "--datetime",
        "2025-05-01T00:00:00Z/2025-07-01T00:00:00Z",
        "--max-cloud-cover",
        "100",
        "--model",
        str(setup["bundle"]),
    ]
    roots = {"api": setup["base"] / "via-api", "catalog": setup["base"] / "via-catalog"}
    with serve(served / "catalog.json") as url:
        code, summary = _scan(capsys, *where, "--root", str(roots["api"]), "--stac-url", url)
    assert code == 0 and summary["complete"] == 1, summary
    code, summary = _scan(
        capsys, *where, "--root", str(roots["catalog"]), "--catalog", str(setup["catalog"].parent)
    )
    assert code == 0 and summary["complete"] == 1, summary
    api, local = (zarr.open_group(store_url(str(r)), mode="r") for r in roots.values())
    keys = [k for k, _ in local["scenes"].groups()]
    assert [k for k, _ in api["scenes"].groups()] == keys and len(keys) == 1
    np.testing.assert_array_equal(
        api[f"scenes/{keys[0]}/probability"][:], local[f"scenes/{keys[0]}/probability"][:]
    )
