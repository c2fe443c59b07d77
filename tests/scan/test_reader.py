"""The scene reader on the real multi-resolution L1C crop, on shifted grids, over HTTP, and its errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
from affine import Affine
from rasterio.enums import Resampling

from oceanscan.errors import SceneError
from oceanscan.scan.gdal_env import GDAL_CLOUD_DEFAULTS, capture_rio_env, gdal_path
from oceanscan.scan.reader import read_window
from oceanscan.scene import BandAsset, Land, PixelWindow, RasterGrid, SceneSpec
from oceanscan.sentinel2 import BANDS, MASK_CLOUD, MASK_LAND, MASK_NODATA, MASK_SCORED, SCL
from tests.helpers.scenes import scene_spec, write_geotiff
from tests.helpers.shared import shared_path

CRS = "EPSG:32618"


def _grid(path: Path) -> RasterGrid:
    with rasterio.open(path) as src:
        return RasterGrid(src.crs.to_string(), tuple(src.transform)[:6], src.shape)


def _spec(
    hrefs: dict[str, str],
    *,
    grids: dict[str, RasterGrid],
    scl: BandAsset | None = None,
    offset: float = 0.0,
) -> SceneSpec:
    """The reader's scene: its bands at ``hrefs`` on ``grids``, B02's grid the scene's."""
    return scene_spec(
        "test-scene",
        bands=[BandAsset(b, hrefs[b], grids[b]) for b in BANDS],
        collection="test",
        provider="manual",
        datetime="2020-01-01T00:00:00Z",
        offset=offset,
        scl=scl,
        properties={},
    )


@pytest.fixture(scope="module")
def coast() -> dict[str, Path]:
    root = shared_path("fixtures", "s2_coast_l1c")
    return {b: root / f"s2_{b}.tif" for b in BANDS}


@pytest.fixture(scope="module")
def coast_spec(coast) -> SceneSpec:
    return _spec(
        {b: str(p) for b, p in coast.items()}, grids={b: _grid(p) for b, p in coast.items()}
    )


def _reference(path: Path, grid: RasterGrid) -> np.ndarray:
    """Whole band reprojected onto the whole 10 m grid (bilinear), as reflectance."""
    with rasterio.open(path) as src:
        dn = src.read(1).astype(np.float32)
        out = np.zeros(grid.shape, dtype=np.float32)
        rasterio.warp.reproject(
            dn,
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=0,
            dst_transform=grid.affine,
            dst_crs=grid.crs,
            dst_nodata=0,
            resampling=Resampling.bilinear,
        )
    ref = out * np.float32(1e-4)
    ref[out == 0] = np.nan
    return ref


@pytest.mark.parametrize(
    "window",
    [
        PixelWindow(37, 53, 100, 90),  # interior, odd origin: 20/60 m pixels split
        PixelWindow(0, 0, 64, 64),  # top-left corner
        PixelWindow(200, 190, 52, 62),  # touches the bottom and right edges
        PixelWindow(0, 0, 252, 252),  # the whole crop
    ],
)
def test_real_crop_matches_whole_band_reprojection(coast, coast_spec, window):
    chunk = read_window(coast_spec, window)
    assert chunk.reflectance.shape == (11, window.height, window.width)
    assert chunk.reflectance.dtype == np.float32
    assert chunk.mask.dtype == np.uint8
    rows, cols = window.to_slices()
    for i, band in enumerate(BANDS):
        expected = _reference(coast[band], coast_spec.grid)[rows, cols]
        np.testing.assert_allclose(chunk.reflectance[i], expected, atol=1e-5, err_msg=band)
    # TOA over an inlet: no nodata, no SCL, so every pixel is scored; reflectance plausible.
    assert (chunk.mask == MASK_SCORED).all()
    assert 0.0 < np.nanmin(chunk.reflectance) and np.nanmax(chunk.reflectance) < 1.5
    a, b, c, d, e, f = coast_spec.grid.transform
    assert chunk.transform == (a, b, c + a * window.col, d, e, f + e * window.row)
    assert chunk.crs == CRS


def test_window_outside_the_grid_is_a_value_error(coast_spec):
    with pytest.raises(ValueError, match="outside"):
        read_window(coast_spec, PixelWindow(200, 200, 60, 10))
    with pytest.raises(ValueError, match="empty"):
        read_window(coast_spec, PixelWindow(0, 0, 0, 10))


def _ramp(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A plane in map coordinates, as DN: bilinear interpolation reproduces it exactly."""
    return 3000.0 + (x - 400000.0) * 0.7 - (y - 4000000.0) * 0.3


def _write_ramp(path: Path, res: int, left: float, top: float, n: int) -> RasterGrid:
    t = Affine(res, 0, left, 0, -res, top)
    cols, rows = np.meshgrid(np.arange(n), np.arange(n))
    x, y = t @ (cols + 0.5, rows + 0.5)
    return write_geotiff(path, np.rint(_ramp(x, y)).astype(np.uint16), t, crs=CRS)


def test_coarse_grids_with_shifted_origins_are_aligned(tmp_path):
    """20 m grid 10 m off the 10 m origin, 60 m grid 30 m off: values land on the right pixels."""
    left, top = 400000.0, 4000000.0
    origins = {10: (left, top), 20: (left - 10, top + 10), 60: (left + 30, top - 30)}
    sizes = {10: 96, 20: 50, 60: 18}
    hrefs, grids = {}, {}
    res_of = {"B01": 60, "B05": 20, "B06": 20, "B07": 20, "B8A": 20, "B11": 20, "B12": 20}
    for band in BANDS:
        res = res_of.get(band, 10)
        path = tmp_path / f"{band}.tif"
        grids[band] = _write_ramp(path, res, *origins[res], sizes[res])
        hrefs[band] = str(path)
    spec = _spec(hrefs, grids=grids)
    window = PixelWindow(20, 24, 40, 44)
    chunk = read_window(spec, window)
    t = spec.grid.affine @ Affine.translation(window.col, window.row)
    cols, rows = np.meshgrid(np.arange(window.width), np.arange(window.height))
    x, y = t @ (cols + 0.5, rows + 0.5)
    expected = _ramp(x, y) * 1e-4
    for i, band in enumerate(BANDS):
        # DN were rounded to integers at the source, so allow half a DN.
        np.testing.assert_allclose(chunk.reflectance[i], expected, atol=0.6e-4, err_msg=band)


@pytest.mark.parametrize("land", [None, Land(source="scl")], ids=["no-land", "scl-land"])
def test_nodata_and_scl_make_the_mask(tmp_path, land):
    """SCL gives nodata and cloud; its vegetation is land only when the scene's land is SCL's."""
    left, top = 400000.0, 4000000.0
    hrefs, grids = {}, {}
    for band in BANDS:
        res = (
            20
            if band in ("B05", "B06", "B07", "B8A", "B11", "B12")
            else 60
            if band == "B01"
            else 10
        )
        n = 48 // (res // 10)
        data = np.full((n, n), 1500, dtype=np.uint16)
        if band == "B02":
            data[:4, :] = 0  # a nodata strip in one band only
        path = tmp_path / f"{band}.tif"
        grids[band] = write_geotiff(path, data, Affine(res, 0, left, 0, -res, top), crs=CRS)
        hrefs[band] = str(path)
    scl = np.full((24, 24), SCL.WATER, dtype=np.uint8)
    scl[10:14, 10:14] = SCL.CLOUD_HIGH_PROBABILITY
    scl[20:, :] = SCL.VEGETATION
    scl[:, 22:] = SCL.NO_DATA
    scl_grid = write_geotiff(tmp_path / "SCL.tif", scl, Affine(20, 0, left, 0, -20, top), crs=CRS)
    spec = _spec(
        hrefs, grids=grids, scl=BandAsset("SCL", str(tmp_path / "SCL.tif"), scl_grid), offset=-0.1
    )
    chunk = read_window(dataclasses.replace(spec, land=land), PixelWindow(0, 0, 48, 48))

    expected = np.full((48, 48), MASK_SCORED, dtype=np.uint8)
    expected[20:28, 20:28] = MASK_CLOUD  # each 20 m SCL pixel covers 2 x 2 10 m pixels
    if land is not None:
        expected[40:, :] = MASK_LAND  # SCL vegetation; scored when land comes from a coastline
    expected[:, 44:] = MASK_NODATA
    expected[:4, :] = MASK_NODATA  # B02 DN 0 (10 m rows)
    np.testing.assert_array_equal(chunk.mask, expected)
    assert np.isnan(chunk.reflectance[BANDS.index("B02"), :4]).all()
    assert not np.isnan(chunk.reflectance[BANDS.index("B02"), 4:]).any()
    assert not np.isnan(chunk.reflectance[BANDS.index("B03")]).any()
    # DN 1500 with the -0.1 offset of baseline >= 04.00.
    np.testing.assert_allclose(chunk.reflectance[BANDS.index("B11")], 0.05, atol=1e-6)


def test_unreadable_asset_names_band_and_href(coast, coast_spec, tmp_path):
    bad = str(tmp_path / "missing_B05.tif")
    hrefs = {b: str(p) for b, p in coast.items()} | {"B05": bad}
    spec = _spec(hrefs, grids={b: g.grid for b, g in zip(BANDS, coast_spec.bands, strict=True)})
    with pytest.raises(SceneError, match=r"band B05 from .*missing_B05\.tif") as info:
        read_window(spec, PixelWindow(0, 0, 32, 32))
    assert info.value.scene_id == "test-scene"

    chunk = read_window(spec, PixelWindow(0, 0, 32, 32), fail_on_error=False)
    assert np.isnan(chunk.reflectance[BANDS.index("B05")]).all()
    assert not np.isnan(chunk.reflectance[BANDS.index("B04")]).any()
    assert (chunk.mask == MASK_NODATA).all()
    assert len(chunk.errors) == 1 and chunk.errors[0].startswith("B05:")


@pytest.mark.server
def test_read_over_http_range_requests(coast, coast_spec, range_http_server):
    server = range_http_server(coast["B02"].parent)
    spec = _spec(
        {b: server.url_for(p.name) for b, p in coast.items()},
        grids={b: g.grid for b, g in zip(BANDS, coast_spec.bands, strict=True)},
    )
    window = PixelWindow(37, 53, 100, 90)
    remote = read_window(spec, window)
    local = read_window(coast_spec, window)
    np.testing.assert_array_equal(remote.reflectance, local.reflectance)
    np.testing.assert_array_equal(remote.mask, local.mask)
    served = {r.path for r in server.requests() if r.status in (200, 206)}
    assert {f"/{p.name}" for p in coast.values()} <= served


@pytest.mark.server
def test_read_from_s3_with_captured_env(coast, coast_spec, s3_server):
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options)
    prefix = f"{s3_server.bucket}/reader-test"
    for path in coast.values():
        fs.put_file(str(path), f"{prefix}/{path.name}")
    spec = _spec(
        {b: f"s3://{prefix}/{p.name}" for b, p in coast.items()},
        grids={b: g.grid for b, g in zip(BANDS, coast_spec.bands, strict=True)},
    )
    window = PixelWindow(100, 120, 64, 48)
    endpoint = {k: v for k, v in s3_server.gdal_env.items() if not k.startswith("AWS_SECRET")}
    endpoint.pop("AWS_ACCESS_KEY_ID")
    with rasterio.Env(**endpoint):  # the driver's settings, captured once
        env = capture_rio_env()
    assert env["AWS_S3_ENDPOINT"] == s3_server.gdal_env["AWS_S3_ENDPOINT"]
    env |= {"AWS_ACCESS_KEY_ID": s3_server.key, "AWS_SECRET_ACCESS_KEY": s3_server.secret}
    remote = read_window(spec, window, rio_env=env)
    np.testing.assert_array_equal(remote.reflectance, read_window(coast_spec, window).reflectance)
    # Another copy (GDAL caches what it has read per path), read with a wrong secret: refused.
    fs.put_file(str(coast["B01"]), f"{prefix}/other/{coast['B01'].name}")
    other = _spec(
        {b: f"s3://{prefix}/other/{p.name}" for b, p in coast.items()},
        grids={b: g.grid for b, g in zip(BANDS, coast_spec.bands, strict=True)},
    )
    wrong_secret = env | {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    with pytest.raises(SceneError, match=r"band B01 from 's3://.*/other/s2_B01\.tif'"):
        read_window(other, window, rio_env=wrong_secret)


@pytest.mark.parametrize(
    ("href", "path"),
    [
        ("s3://bucket/a/B02.tif", "/vsis3/bucket/a/B02.tif"),
        ("https://host/a/B02.tif", "/vsicurl/https://host/a/B02.tif"),
        ("http://127.0.0.1:8080/B02.tif", "/vsicurl/http://127.0.0.1:8080/B02.tif"),
        ("file:///data/B02.tif", "/data/B02.tif"),
        ("/data/B02.tif", "/data/B02.tif"),
        ("/vsimem/x.tif", "/vsimem/x.tif"),
    ],
)
def test_gdal_path(href, path):
    assert gdal_path(href) == path


def test_capture_rio_env_keeps_driver_settings_and_drops_local_paths():
    assert capture_rio_env() == dict(GDAL_CLOUD_DEFAULTS)
    with rasterio.Env(AWS_S3_ENDPOINT="127.0.0.1:8333", AWS_HTTPS="NO", GDAL_DATA="/somewhere"):
        env = capture_rio_env()
    assert env["AWS_S3_ENDPOINT"] == "127.0.0.1:8333"
    assert env["AWS_HTTPS"] == "NO"
    assert "GDAL_DATA" not in env
    assert env["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"
