"""Land from the coastline dataset on the real Manila Bay scenes, and SCL that masks only clouds.

The scenes are real Sentinel-2 L2A crops with Sen2Cor's SCL as band 13 (../shared/real/README.md):
the coastline land must cover what the SCL calls vegetation and bare land ashore, and SCL land
classes surrounded by sea must stay scored.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from scipy import ndimage

from oceanscan.inputs import scene_from_input
from oceanscan.land import (
    DEFAULT_BUFFER_M,
    Coastline,
    _lonlat_boxes,
    attach_land,
    land_pixels,
    land_source_for,
)
from oceanscan.scan.reader import read_window
from oceanscan.scene import Land, PixelWindow, RasterGrid
from oceanscan.sentinel2 import MASK_CLOUD, MASK_LAND, MASK_NODATA, MASK_SCORED, SCL, scl_to_mask
from tests.helpers.shared import shared_path

BANDS = "B01,B02,B03,B04,B05,B06,B07,B08,B8A,B09,B11,B12,SCL"
SCENES = ("manila_port_l2a_scl", "mariveles_l2a_scl")


@pytest.fixture(scope="module")
def coastline():
    coast = Coastline()
    yield coast
    coast.release()


@pytest.fixture(scope="module", params=SCENES)
def real(request, coastline):
    """A real scene as a file input, its SCL, and its land unbuffered and buffered."""
    path = shared_path("real", f"{request.param}.tif")
    spec = scene_from_input(path, bands=BANDS)
    with rasterio.open(path) as src:
        scl = src.read(13)
    bare = attach_land(spec, buffer_m=0, coastline=coastline)
    buffered = attach_land(spec, coastline=coastline)
    shape = spec.grid.shape
    return {
        "name": request.param,
        "spec": spec,
        "scl": scl,
        "bare": bare,
        "buffered": buffered,
        "land0": land_pixels(bare.land, spec.grid.transform, shape),
        "land": land_pixels(buffered.land, spec.grid.transform, shape),
    }


def test_pixel_lonlat_inside_the_coastline_polygons_is_land(real, coastline):
    """Each pixel centre, taken to lon/lat, lies in a land polygon exactly where the mask says land."""
    spec = real["spec"]
    h, w = spec.grid.shape
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x, y = spec.grid.affine @ (cols, rows)
    lon, lat = Transformer.from_crs(spec.grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    near = coastline.polygons_near(lon.min(), lat.min(), lon.max(), lat.max())
    inside = shapely.contains_xy(shapely.union_all(near), lon, lat)
    agree = (inside == real["land0"]).mean()
    assert agree > 0.998, f"{real['name']}: {agree:.4f}"
    assert 0.3 < real["land0"].mean() < 0.8  # both scenes are part land, part sea


def test_coastline_land_covers_what_the_scl_shows_as_land(real):
    scl, land0, land = real["scl"], real["land0"], real["land"]
    assert land0[scl == SCL.VEGETATION].mean() > 0.99
    assert land0[scl == SCL.NOT_VEGETATED].mean() > 0.95  # the rest: piers, ships, shore
    assert land[np.isin(scl, (SCL.VEGETATION, SCL.NOT_VEGETATED))].mean() > 0.999
    # What is not land is what Sen2Cor sees as water (and a few clouds and floating things).
    assert (scl[~land] == SCL.WATER).mean() > 0.99
    assert land.mean() < 0.8


def test_buffer_grows_land_by_its_width(real, coastline):
    """Buffered land is every pixel centre within the buffer of the bare coastline polygons."""
    spec, land = real["spec"], real["land"]
    pad = 30  # pixels: bare land just outside the scene counts too
    a, b, c, d, e, f = spec.grid.transform
    h, w = spec.grid.shape
    wider = RasterGrid(
        spec.grid.crs, (a, b, c - pad * a, d, e, f - pad * e), (h + 2 * pad, w + 2 * pad)
    )
    bare = coastline.land(wider, buffer_m=0)
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x, y = spec.grid.affine @ (cols, rows)
    metres = shapely.distance(bare, shapely.points(x, y))
    # 4 segments a quarter circle and a 2.5 m simplification: within 5 m of the buffer.
    assert land[metres < DEFAULT_BUFFER_M - 5].all()
    assert not land[metres > DEFAULT_BUFFER_M + 5].any()
    assert (land | real["land0"]).sum() == land.sum()


def test_scl_land_classes_surrounded_by_sea_are_scored(coastline):
    """Off Mariveles two anchored ships are SCL not-vegetated, ringed by open water."""
    path = shared_path("real", "mariveles_l2a_scl.tif")
    spec = scene_from_input(path, bands=BANDS)
    with rasterio.open(path) as src:
        scl = src.read(13)
    with_coast = attach_land(spec, coastline=coastline)
    land = land_pixels(with_coast.land, spec.grid.transform, spec.grid.shape)
    pieces, n = ndimage.label(np.isin(scl, (SCL.VEGETATION, SCL.NOT_VEGETATED)) & ~land)
    at_sea = np.zeros_like(land)
    for i in range(1, n + 1):
        piece = pieces == i
        rim = ndimage.binary_dilation(piece, iterations=2) & ~piece
        if (scl[rim] == SCL.WATER).all():
            at_sea |= piece
    assert at_sea.sum() >= 20

    window = PixelWindow(0, 0, *spec.grid.shape)
    mask = read_window(with_coast, window).mask
    assert (mask[at_sea] == MASK_SCORED).all()
    assert np.isin(mask[land], (MASK_LAND, MASK_NODATA)).all()  # land, or a band without data
    assert (mask[land] == MASK_LAND).mean() > 0.999
    assert (mask[~land & np.isin(scl, (SCL.CLOUD_HIGH_PROBABILITY, SCL.CLOUD_SHADOWS))] == 2).all()
    # The SCL-based land of the synthetic scenes would have hidden them.
    old = read_window(dataclasses.replace(spec, land=Land(source="scl")), window).mask
    assert (old[at_sea] == MASK_LAND).all()


def test_sargassum_labelled_vegetation_in_open_sea_is_scored(tmp_path, coastline):
    """A raft Sen2Cor labels vegetation, pasted into the open sea of the real Manila scene."""
    src_path = shared_path("real", "manila_port_l2a_scl.tif")
    with rasterio.open(src_path) as src:
        data, profile = src.read(), src.profile
    data[12, 40:46, 20:30] = SCL.VEGETATION  # open water in the bay, west of the port
    data[12, 60:64, 30:34] = SCL.NOT_VEGETATED
    path = tmp_path / "manila_raft.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    spec = attach_land(scene_from_input(path, bands=BANDS), coastline=coastline)
    mask = read_window(spec, PixelWindow(0, 0, *spec.grid.shape)).mask
    assert (mask[40:46, 20:30] == MASK_SCORED).all()
    assert (mask[60:64, 30:34] == MASK_SCORED).all()


def test_windows_agree_with_the_whole_scene(real):
    """Tiles rasterize their own window: the same pixels as one scene-wide rasterization."""
    spec, land = real["buffered"], real["land"]
    for row, col, h, w in ((0, 0, 100, 130), (97, 211, 64, 64), (400, 300, 80, 180)):
        t = spec.grid.affine @ rasterio.Affine.translation(col, row)
        np.testing.assert_array_equal(
            land_pixels(spec.land, tuple(t)[:6], (h, w)), land[row : row + h, col : col + w]
        )


def test_land_is_recorded_and_small(real):
    land = real["buffered"].land
    assert land.source == "coastline" and land.buffer_m == DEFAULT_BUFFER_M
    assert "OpenStreetMap" in land.describe() and "100 m" in land.describe()
    assert 0 < len(land.wkb) < 200_000


def test_open_sea_has_no_land(coastline):
    """Off Manila Bay, 20 km out in the South China Sea: no polygon, empty WKB."""
    grid = RasterGrid("EPSG:32651", (10.0, 0.0, 180000.0, 0.0, -10.0, 1590000.0), (200, 200))
    assert coastline.land(grid, buffer_m=200).is_empty


def test_antimeridian_grids_look_on_both_sides():
    # UTM zone 60 south, straddling 180 degrees near Fiji (Taveuni).
    grid = RasterGrid("EPSG:32760", (10.0, 0.0, 790000.0, 0.0, -10.0, 8150000.0), (100, 8000))
    boxes = _lonlat_boxes(grid.crs, grid.bounds)
    assert len(boxes) == 2
    assert boxes[0][2] == 180.0 and boxes[1][0] == -180.0


def test_scl_masks_only_clouds_shadows_and_no_data():
    codes = np.arange(12, dtype=np.uint8)
    expected = np.array([3, 3, 0, 2, 0, 0, 0, 0, 2, 2, 2, 0], dtype=np.uint8)
    np.testing.assert_array_equal(scl_to_mask(codes), expected)
    with_land = expected.copy()
    with_land[[SCL.VEGETATION, SCL.NOT_VEGETATED, SCL.SNOW]] = MASK_LAND
    np.testing.assert_array_equal(scl_to_mask(codes, land_from_scl=True), with_land)
    assert scl_to_mask(np.array([200]))[0] == MASK_NODATA
    assert MASK_CLOUD == 2


def test_land_source_auto_keeps_synthetic_land_in_the_scl():
    spec = scene_from_input(shared_path("real", "mariveles_l2a_scl.tif"), bands=BANDS)
    assert land_source_for(spec, "auto") == "coastline"
    synthetic = dataclasses.replace(spec, provider="synthetic")
    assert land_source_for(synthetic, "auto") == "scl"
    assert land_source_for(synthetic, "coastline") == "coastline"
    assert attach_land(synthetic).land == Land(source="scl")
    with pytest.raises(ValueError, match="land source 'sea'"):
        land_source_for(spec, "sea")  # type: ignore[arg-type]


def test_buffer_must_be_a_distance(coastline):
    grid = RasterGrid("EPSG:32651", (10.0, 0.0, 230400.0, 0.0, -10.0, 1598400.0), (10, 10))
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="buffer_m"):
            coastline.land(grid, buffer_m=bad)
