"""A scan written to a real S3-compatible server (SeaweedFS on loopback) and read back through
s3fs by xarray, rioxarray and geopandas."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers the .rio accessor)
import s3fs
import xarray as xr
from affine import Affine
from pyproj import CRS

from oceanscan.scan.config import ScanConfig
from oceanscan.scan.ledger import exit_code
from oceanscan.scan.pipeline import scan_scenes
from oceanscan.scan.store import open_root, read_scene_attrs
from tests.helpers.bundles import save_tiny_bundle
from tests.helpers.scenes import write_scene

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.server]


def test_scan_to_s3_and_read_back(ray_session, s3_server, tmp_path):
    spec = write_scene(tmp_path / "scene", "S2A_MSIL2A_20240305_T31SDA", size=132, seed=5)
    bundle = save_tiny_bundle(tmp_path / "bundle")
    root = f"s3://{s3_server.bucket}/scans/run1"
    options = s3_server.storage_options
    config = ScanConfig(
        model=str(bundle),
        root=root,
        storage_options=options,
        tile_size_px=64,
        margin_px=16,
        device="cpu",
        progress_bars=False,
    )
    result = scan_scenes([spec], config)
    assert exit_code(result.counts) == 0 and result.counts.complete == [spec.key]

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    listing = fs.ls(f"{s3_server.bucket}/scans/run1")
    assert {p.rsplit("/", 1)[-1] for p in listing} >= {
        "scenes.zarr",
        "index.parquet",
        "detections.parquet",
        "detections",
    }
    ds = xr.open_zarr(
        f"{root}/scenes.zarr",
        group=f"scenes/{spec.key}",
        decode_coords="all",
        storage_options=options,
    )
    p = ds["probability"].values
    assert p.shape == (132, 132)  # 3 x 3 tiles, the last row and column partial
    scored = ~np.isnan(p)
    assert scored.any() and (~scored).any()
    assert np.nanmin(p) >= 0 and np.nanmax(p) <= 1
    np.testing.assert_array_equal(~scored, ds["mask"].values != 0)
    assert ds.rio.crs == CRS.from_user_input(spec.grid.crs)
    assert ds["probability"].rio.transform() == Affine(*spec.grid.transform)
    attrs = read_scene_attrs(open_root(root, storage_options=options, create=False))[spec.key]
    assert attrs["status"] == "complete"
    assert attrs["scored_pixels"] == int(scored.sum())
    index = gpd.read_parquet(f"{root}/index.parquet", storage_options=options)
    assert index["scene"].tolist() == [spec.key] and index["status"].tolist() == ["complete"]
    detections = gpd.read_parquet(f"{root}/detections.parquet", storage_options=options)
    assert int(detections["pixels"].sum()) == attrs["debris_pixels"]
