"""The Zarr layout contract: what xarray, rioxarray and GDAL see in a written scene."""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
import zarr
from affine import Affine
from pyproj import CRS

from oceanscan.errors import ConfigError
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.store import (
    DEFAULT_ZARR_FORMAT,
    FILL,
    consolidate,
    create_scene,
    dequantize,
    dimension_names,
    open_root,
    quantize,
    read_scene_attrs,
    store_url,
    store_zarr_format,
    threshold_step,
    write_core,
)
from oceanscan.scan.tiling import plan_tiles
from tests.helpers.scenes import scene_spec

ATTRS = {"model_id": "m", "model_sha256": "0" * 64, "threshold": 0.5, "run_id": "r1"}


def _write_scene(root, spec, tile_size=64, storage_options=None, zarr_format=None):
    group = open_root(root, storage_options=storage_options, zarr_format=zarr_format)
    create_scene(group, spec, tile_size=tile_size, attrs=ATTRS)
    rng = np.random.default_rng(0)
    h, w = spec.grid.shape
    prob = rng.random((h, w)).astype(np.float32)
    mask = rng.choice(np.array([0, 0, 0, 1, 2, 3], dtype=np.uint8), size=(h, w))
    stored = quantize(prob, mask)
    for t in plan_tiles(spec.key, (h, w), tile_size=tile_size, margin=0):
        rows, cols = t.core.to_slices()
        write_core(
            root,
            spec.key,
            t.core,
            stored[rows, cols],
            mask[rows, cols],
            storage_options=storage_options,
        )
    consolidate(root, storage_options=storage_options)
    return stored, mask


def test_quantize_round_trip_within_half_a_step():
    p = np.linspace(0, 1, 1001, dtype=np.float32)
    mask = np.zeros(p.shape, dtype=np.uint8)
    q = quantize(p, mask)
    assert q.max() == 254 and q.min() == 0
    assert np.abs(dequantize(q) - p).max() <= 0.5 / 254 + 1e-7
    mask[::2] = 2
    assert (quantize(p, mask)[::2] == FILL).all()
    assert quantize(np.array([np.nan], np.float32), np.zeros(1, np.uint8))[0] == FILL
    assert np.isnan(dequantize(np.array([FILL], np.uint8))[0])
    assert threshold_step(0.5) == 127 and threshold_step(0.0) == 0 and threshold_step(1.0) == 254
    with pytest.raises(ValueError, match="threshold"):
        threshold_step(1.5)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_layout_and_attributes(tmp_path, zarr_format):
    spec = scene_spec()
    stored, mask = _write_scene(str(tmp_path), spec, zarr_format=zarr_format)
    group = zarr.open_group(store_url(str(tmp_path)), mode="r")
    assert group.metadata.zarr_format == zarr_format
    assert group.attrs["runs"] == []
    scene = group[f"scenes/{spec.key}"]
    prob = scene["probability"]
    assert prob.metadata.zarr_format == zarr_format
    assert prob.dtype == np.uint8 and prob.chunks == (64, 64)
    for name in ("probability", "mask"):
        assert dimension_names(scene[name]) == ("y", "x")
    assert dimension_names(scene["x"]) == ("x",) and dimension_names(scene["spatial_ref"]) == ()
    assert prob.fill_value == FILL
    assert prob.attrs["_FillValue"] == FILL and prob.attrs["grid_mapping"] == "spatial_ref"
    assert prob.attrs["scale_factor"] == pytest.approx(1 / 254)
    assert CRS.from_wkt(prob.attrs["_CRS"]["wkt"]) == CRS.from_user_input(spec.grid.crs)
    np.testing.assert_array_equal(prob[:], stored)
    np.testing.assert_array_equal(scene["mask"][:], mask)
    attrs = read_scene_attrs(open_root(str(tmp_path)))[spec.key]
    assert attrs["status"] == "created" and attrs["item_id"] == spec.id
    assert attrs["proj:code"] == "EPSG:32631"
    assert attrs["spatial:transform"] == list(spec.grid.transform)
    assert attrs["mgrs_tile"] == "31UDQ" and attrs["platform"] == "sentinel-2a"
    assert attrs["model_sha256"] == "0" * 64 and attrs["tile_size"] == 64


def test_new_stores_default_to_zarr_v2(tmp_path):
    assert DEFAULT_ZARR_FORMAT == 2 and ScanConfig(model="m", root="r").zarr_format == 2
    open_root(str(tmp_path))
    assert store_zarr_format(str(tmp_path)) == 2
    assert (tmp_path / "scenes.zarr" / ".zgroup").is_file()


@pytest.mark.parametrize(("created", "asked"), [(2, 3), (3, 2)])
def test_an_existing_store_keeps_its_format(tmp_path, created, asked):
    open_root(str(tmp_path), zarr_format=created)
    # Without a format, any existing store opens as it is.
    assert open_root(str(tmp_path)).metadata.zarr_format == created
    with pytest.raises(ConfigError, match=f"format {created}.*zarr_format={asked}"):
        open_root(str(tmp_path), zarr_format=asked)
    assert store_zarr_format(str(tmp_path)) == created


def test_zarr_format_is_validated(tmp_path):
    with pytest.raises(ValueError, match=r"zarr_format must be one of \(2, 3\), got 4"):
        open_root(str(tmp_path), zarr_format=4)
    with pytest.raises(ValueError, match="zarr_format"):
        ScanConfig(model="m", root="r", zarr_format=4)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_xarray_and_rioxarray_decode_the_contract(tmp_path, zarr_format):
    spec = scene_spec(shape=(130, 150))
    stored, mask = _write_scene(str(tmp_path), spec, zarr_format=zarr_format)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # consolidated metadata present: no fallback warning
        ds = xr.open_zarr(store_url(str(tmp_path)), group=f"scenes/{spec.key}", decode_coords="all")
    p = ds["probability"].values
    assert np.issubdtype(p.dtype, np.floating)
    assert np.nanmin(p) >= 0 and np.nanmax(p) <= 1
    np.testing.assert_array_equal(np.isnan(p), stored == FILL)
    np.testing.assert_allclose(p[stored != FILL], stored[stored != FILL] / 254, rtol=1e-6)
    # The mask stays an integer flag array (no CF missing-value decoding) in both formats.
    assert ds["mask"].dtype == np.uint8
    np.testing.assert_array_equal(ds["mask"].values, mask)
    assert ds["probability"].dims == ("y", "x")
    assert ds.rio.crs == CRS.from_user_input(spec.grid.crs)
    assert ds["probability"].rio.transform() == Affine(*spec.grid.transform)
    assert ds.rio.shape == spec.grid.shape
    assert ds.x.values[0] == spec.grid.transform[2] + 5.0
    assert ds.y.values[0] == spec.grid.transform[5] - 5.0


GDAL_VERSION = tuple(int(v) for v in rasterio.__gdal_version__.split(".")[:2])


def _gdal_path(root, key, name="probability"):
    return f'ZARR:"{store_url(root)}":/scenes/{key}/{name}'


def test_gdal_opens_the_default_store_with_its_georeferencing(tmp_path):
    """The contract's GDAL acceptance test, on the default (v2) store, with any GDAL >= 3.4."""
    spec = scene_spec(shape=(130, 150), crs="EPSG:32719", origin=(300000.0, 7000000.0))
    stored, _ = _write_scene(str(tmp_path), spec)
    with rasterio.open(_gdal_path(str(tmp_path), spec.key)) as src:
        assert src.driver == "Zarr"
        assert (src.height, src.width) == spec.grid.shape
        np.testing.assert_array_equal(src.read(1), stored)
        assert src.nodata == FILL
        assert src.transform == Affine(*spec.grid.transform)
        assert src.res == (10.0, 10.0)
        assert src.crs == CRS.from_user_input(spec.grid.crs)
        # A window read touches only the chunks it needs and agrees with the array.
        window = rasterio.windows.Window(70, 60, 20, 10)
        np.testing.assert_array_equal(src.read(1, window=window), stored[60:70, 70:90])


@pytest.mark.skipif(
    GDAL_VERSION < (3, 11),
    reason=f"GDAL {rasterio.__gdal_version__} cannot decode the Zarr v3 'bytes' codec "
    "(renamed from 'endian' in the spec; GDAL reads it from 3.11, OSGeo/gdal#11787)",
)
def test_gdal_3_11_opens_a_zarr_v3_store(tmp_path):
    spec = scene_spec(shape=(130, 150))
    stored, _ = _write_scene(str(tmp_path), spec, zarr_format=3)
    with rasterio.open(_gdal_path(str(tmp_path), spec.key)) as src:
        np.testing.assert_array_equal(src.read(1), stored)
        assert src.transform == Affine(*spec.grid.transform)
        assert src.crs == CRS.from_user_input(spec.grid.crs)


def test_gdal_before_3_11_refuses_zarr_v3_bytes_codec(tmp_path):
    """Why v2 is the default (see docs/scan.md): older GDAL fails loudly on a v3 store."""
    if GDAL_VERSION >= (3, 11):
        pytest.skip(
            "this GDAL reads Zarr v3 'bytes'; test_gdal_3_11_opens_a_zarr_v3_store covers it"
        )
    spec = scene_spec(shape=(40, 40))
    _write_scene(str(tmp_path), spec, tile_size=32, zarr_format=3)
    with pytest.raises(rasterio.errors.RasterioIOError, match="codec"):
        rasterio.open(_gdal_path(str(tmp_path), spec.key))


def test_recreating_a_scene_starts_from_empty_chunks(tmp_path):
    spec = scene_spec(shape=(64, 64))
    _write_scene(str(tmp_path), spec, tile_size=32)
    group = open_root(str(tmp_path))
    create_scene(group, spec, tile_size=32, attrs=ATTRS)
    prob = group[f"scenes/{spec.key}/probability"][:]
    assert (prob == FILL).all()


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_memory_filesystem_store(zarr_format):
    root = f"memory://oceanscan-store-test-v{zarr_format}"
    spec = scene_spec(shape=(40, 50))
    stored, _ = _write_scene(root, spec, tile_size=32, zarr_format=zarr_format)
    reopened = open_root(root, create=False)
    assert reopened.metadata.zarr_format == zarr_format
    np.testing.assert_array_equal(reopened[f"scenes/{spec.key}/probability"][:], stored)


def test_write_core_refuses_a_wrong_shape(tmp_path):
    spec = scene_spec(shape=(64, 64))
    create_scene(open_root(str(tmp_path)), spec, tile_size=32, attrs=ATTRS)
    core = next(iter(plan_tiles(spec.key, (64, 64), tile_size=32, margin=0))).core
    with pytest.raises(ValueError, match="shape"):
        write_core(
            str(tmp_path), spec.key, core, np.zeros((3, 3), np.uint8), np.zeros((3, 3), np.uint8)
        )


def test_open_root_without_a_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="no scan store"):
        open_root(str(tmp_path / "none"), create=False)


def test_runs_opening_a_new_root_at_once_all_get_it(tmp_path):
    # Scheduled scans can start together on an empty root: each must find or make the store,
    # whichever creates the "scenes" group first.
    roots = [str(tmp_path / f"root{i}") for i in range(10)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for root in roots:
            start = threading.Barrier(4)

            def open_together(root: str = root, start: threading.Barrier = start) -> str:
                start.wait()
                return str(open_root(root).path)

            opened = list(pool.map(lambda _: open_together(), range(4)))
            assert len(opened) == 4
            assert "scenes" in open_root(root, create=False)
