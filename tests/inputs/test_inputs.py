"""File inputs: the real GeoTIFFs, band folders and an L2A .SAFE built from them, STAC Item files.

Every kind must become the SceneSpec a catalog scene would be: the file's own grid and CRS,
reflectance that matches the GeoTIFF's pixel for pixel, the offset the product states.
"""

from __future__ import annotations

import json
import shutil
import sys
import warnings

import numpy as np
import pytest
import rasterio
import rasterio.windows

from oceanscan.errors import ConfigError, SceneError
from oceanscan.inputs import (
    band_name,
    input_kind,
    parse_bands,
    scene_from_input,
    scenes_from_inputs,
)
from oceanscan.scan.reader import read_window
from oceanscan.scene import PixelWindow
from oceanscan.sentinel2 import BANDS
from oceanscan.stac import resolve_signer
from tests.helpers.input_files import (
    BANDS_ARG,
    FILE_BANDS,
    PRODUCT,
    write_band,
    write_band_folder,
    write_safe,
)
from tests.helpers.shared import shared_path


@pytest.fixture(scope="module")
def mariveles():
    return shared_path("real", "mariveles_l2a_scl.tif")


@pytest.fixture(scope="module")
def geotiff_scene(mariveles):
    return scene_from_input(mariveles, bands=BANDS_ARG)


@pytest.fixture(scope="module")
def safe(mariveles, tmp_path_factory):
    return write_safe(mariveles, tmp_path_factory.mktemp("safe"))


def _reflectance(spec):
    return read_window(spec, PixelWindow(0, 0, 480, 480))


def test_geotiff_with_bands_is_the_file_grid_and_its_dn(geotiff_scene, mariveles):
    spec = geotiff_scene
    with rasterio.open(mariveles) as src:
        assert spec.grid.crs == "EPSG:32651" and src.crs.to_epsg() == 32651
        assert spec.grid.transform == tuple(src.transform)[:6]
        assert spec.grid.shape == (src.height, src.width)
        raw = src.read()
    assert spec.id == "mariveles_l2a_scl" and spec.provider == "geotiff"
    assert (spec.scale, spec.offset) == (1e-4, 0.0)  # harmonised L2A x 10000 (README)
    assert [b.band for b in spec.bands] == list(BANDS)
    # B09 sits between B8A and B11 in the file: B11 is band 11, B12 band 12, SCL band 13.
    assert {b.band: b.index for b in spec.bands}["B11"] == 11
    assert spec.scl is not None and spec.scl.index == 13
    chunk = _reflectance(spec)
    dn = np.where(raw == 0, np.nan, raw * 1e-4)  # DN 0 is nodata
    np.testing.assert_allclose(chunk.reflectance[BANDS.index("B11")], dn[10], rtol=1e-6)
    np.testing.assert_allclose(chunk.reflectance[BANDS.index("B8A")], dn[8], rtol=1e-6)
    lon, lat = np.array(spec.footprint["coordinates"][0]).mean(axis=0)
    assert 120.49 < lon < 120.55 and 14.40 < lat < 14.45
    assert spec.properties["oceanscan:offset_source"].startswith("L2A DN")


def test_a_window_opens_a_multiband_file_once_for_its_bands(geotiff_scene, monkeypatch):
    from oceanscan.scan import reader

    opened = []
    real_open = reader.rasterio.open

    def counting_open(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(reader.rasterio, "open", counting_open)
    chunk = _reflectance(geotiff_scene)
    # The 11 bands in one read, SCL (band 13 of the same file) in one more.
    assert len(opened) == 2 and len(set(opened)) == 1
    assert np.isfinite(chunk.reflectance).all(axis=0).any()


def test_geotiff_band_descriptions_name_the_bands(tmp_path, mariveles):
    with rasterio.open(mariveles) as src:
        profile, data = src.profile, src.read()
    named = ["coastal", "B2", "B03", "red", "B5", "band 6", "B07", "nir", "B8a", "B9", "swir16"]
    named += ["B12", "scl"]
    path = tmp_path / "described.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = tuple(named)
    spec = scene_from_input(path)
    assert {b.band: b.index for b in spec.bands} == {
        "B01": 1, "B02": 2, "B03": 3, "B04": 4, "B05": 5, "B06": 6, "B07": 7, "B08": 8,
        "B8A": 9, "B11": 11, "B12": 12,
    }  # fmt: skip
    assert spec.scl is not None and spec.scl.index == 13


def test_geotiff_without_names_says_how_to_name_them(mariveles):
    with pytest.raises(SceneError, match="--bands") as info:
        scene_from_input(mariveles)
    assert "mariveles_l2a_scl" in str(info.value)
    with pytest.raises(SceneError, match=r"names 12 bands .* has 13"):
        scene_from_input(mariveles, bands=",".join(FILE_BANDS))
    with pytest.raises(ValueError, match="unknown band name 'B13'"):
        parse_bands(["B01", "B13"])
    with pytest.raises(ValueError, match="named twice"):
        parse_bands(["B02", "blue"])


def test_reflectance_from_gdal_metadata_float_files_and_the_offset_option(tmp_path, mariveles):
    with rasterio.open(mariveles) as src:
        profile, data = src.profile, src.read()
    scaled = tmp_path / "scaled.tif"
    with rasterio.open(scaled, "w", **profile) as dst:
        dst.write(data)
        dst.scales = (1e-4,) * 13
        dst.offsets = (-0.1,) * 13
    spec = scene_from_input(scaled, bands=BANDS_ARG)
    assert (spec.scale, spec.offset) == (1e-4, -0.1)
    assert spec.properties["oceanscan:offset_source"] == "GDAL band scale/offset"
    spec = scene_from_input(mariveles, bands=BANDS_ARG, reflectance_offset=-0.1)
    assert spec.offset == -0.1 and spec.properties["oceanscan:offset_source"].startswith("refl")

    floats = tmp_path / "floats.tif"
    window = rasterio.windows.Window(0, 0, 64, 64)
    with rasterio.open(mariveles) as src:
        refl = src.read(list(range(1, 13)), window=window).astype(np.float32) * 1e-4
        t = src.transform  # the window starts at the corner
    with rasterio.open(
        floats, "w", driver="GTiff", width=64, height=64, count=12, dtype="float32",
        crs="EPSG:32651", transform=t,
    ) as dst:  # fmt: skip
        dst.write(refl)
    spec = scene_from_input(floats, bands=",".join(FILE_BANDS))
    assert (spec.scale, spec.offset) == (1.0, 0.0) and spec.scl is None
    chunk = read_window(spec, PixelWindow(0, 0, 64, 64))
    np.testing.assert_allclose(chunk.reflectance[BANDS.index("B04")], refl[3], rtol=1e-6)


def test_geotiff_at_20_m_gets_a_10_m_grid(tmp_path, mariveles):
    with rasterio.open(mariveles) as src:
        data, t = src.read()[:, ::2, ::2], src.transform
    path = tmp_path / "stack20.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=240, height=240, count=13, dtype="uint16",
        crs="EPSG:32651", transform=t @ rasterio.Affine.scale(2),
    ) as dst:  # fmt: skip
        dst.write(data)
    spec = scene_from_input(path, bands=BANDS_ARG)
    assert spec.grid.shape == (480, 480) and spec.grid.transform == tuple(t)[:6]
    assert spec.bands[1].grid.resolution == 20


def test_geotiff_in_degrees_is_refused(tmp_path):
    path = tmp_path / "lonlat.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=8, height=8, count=13, dtype="uint16", crs="EPSG:4326",
        transform=rasterio.Affine(1e-4, 0, 120.5, 0, -1e-4, 14.4),
    ) as dst:  # fmt: skip
        dst.write(np.ones((13, 8, 8), dtype=np.uint16))
    with pytest.raises(SceneError, match=r"degrees.*gdalwarp"):
        scene_from_input(path, bands=BANDS_ARG)


def test_band_folder_reads_like_the_geotiff(tmp_path, mariveles, geotiff_scene):
    folder = write_band_folder(mariveles, tmp_path / "mariveles_20240305_bands")
    (folder / "notes.txt").write_text("not a band")
    spec = scene_from_input(folder)
    assert spec.id == "mariveles_20240305_bands" and spec.provider == "band-files"
    assert spec.grid == geotiff_scene.grid
    assert {b.band: b.grid.resolution for b in spec.bands}["B05"] == 20
    assert spec.scl is not None and spec.scl.grid.resolution == 20
    assert spec.datetime == "2024-03-05T00:00:00.000000Z"
    a, b = _reflectance(spec), _reflectance(geotiff_scene)
    for band in ("B02", "B03", "B04", "B08"):  # 10 m: the same pixels
        i = BANDS.index(band)
        np.testing.assert_array_equal(a.reflectance[i], b.reflectance[i])


def test_safe_offsets_come_from_its_metadata(safe, geotiff_scene):
    spec = scene_from_input(safe)
    assert spec.id == PRODUCT and spec.provider == "safe"
    assert spec.scale == pytest.approx(1e-4) and spec.offset == pytest.approx(-0.1)
    assert spec.properties["oceanscan:offset_source"] == "MTD_MSIL2A.xml BOA_ADD_OFFSET"
    assert spec.properties["s2:processing_baseline"] == "05.10"
    assert spec.properties["platform"] == "sentinel-2b"
    assert spec.properties["s2:mgrs_tile"] == "51PTS"
    assert spec.properties["eo:cloud_cover"] == pytest.approx(0.43)
    assert spec.datetime == "2024-03-05T02:21:09.024000Z"
    assert spec.grid == geotiff_scene.grid
    resolutions = {b.band: (b.grid.resolution, b.href.rsplit("/", 2)[-2]) for b in spec.bands}
    assert resolutions["B02"] == (10, "R10m") and resolutions["B05"] == (20, "R20m")
    assert resolutions["B01"] == (60, "R60m")
    assert spec.scl is not None and spec.scl.href.endswith("_SCL_20m.jp2")
    assert spec.footprint["type"] == "Polygon"
    # (DN + BOA_ADD_OFFSET) / 10000 is the real reflectance: the GeoTIFF's, at 10 m exactly.
    a, b = _reflectance(spec), _reflectance(geotiff_scene)
    for band in ("B02", "B03", "B04", "B08"):
        i = BANDS.index(band)
        np.testing.assert_allclose(a.reflectance[i], b.reflectance[i], atol=2e-6)
    # the MTD_MSIL2A.xml file itself names the product too
    assert scene_from_input(safe / "MTD_MSIL2A.xml").id == PRODUCT


def test_safe_before_baseline_4_has_no_offset(mariveles, tmp_path):
    safe = write_safe(mariveles, tmp_path, baseline="03.01", offset_dn=0)
    spec = scene_from_input(safe)
    assert spec.offset == 0.0
    assert spec.properties["oceanscan:offset_source"] == "MTD_MSIL2A.xml PROCESSING_BASELINE"


def test_safe_refusals(safe, tmp_path):
    l1c = tmp_path / "S2A_MSIL1C_20240305T022109_N0510_R003_T51PTS_20240305T040000.SAFE"
    l1c.mkdir()
    (l1c / "MTD_MSIL1C.xml").write_text("<x/>")
    with pytest.raises(SceneError, match="Level-1C"):
        scene_from_input(l1c)
    with pytest.raises(SceneError, match="band names are for a multi-band raster"):
        scene_from_input(safe, bands=BANDS_ARG)
    with pytest.raises(SceneError, match="carries its own offset"):
        scene_from_input(safe, reflectance_offset=-0.1)
    broken = tmp_path / "broken.SAFE"
    shutil.copytree(safe, broken)
    for jp2 in broken.rglob("*_B8A_*.jp2"):
        jp2.unlink()
    with pytest.raises(SceneError, match=r"lacks band\(s\) \['B8A'\]"):
        scene_from_input(broken)
    (tmp_path / "product.zip").write_bytes(b"PK")
    with pytest.raises(SceneError, match="unzip"):
        scene_from_input(tmp_path / "product.zip")
    with pytest.raises(SceneError, match="no such file"):
        scene_from_input(tmp_path / "nothing.tif")


def test_stac_item_files_become_catalog_scenes(tmp_path):
    fixture = shared_path(
        "fixtures",
        "stac",
        "planetarycomputer_sentinel-2-l2a_baseline0511_S2B_MSIL2A_20250312T014549_R074_T53NKG_20250312T041213.json",
    )
    spec = scene_from_input(fixture)
    assert spec.provider == "planetarycomputer" and spec.offset == -0.1
    assert spec.id == json.loads(fixture.read_text())["id"]
    with pytest.raises(SceneError, match="missing band asset"):
        scene_from_input(fixture, profile="earthsearch")

    signed = scene_from_input(fixture, href_modifier=lambda href: href + "?sig=fake")
    assert all(b.href.endswith("?sig=fake") for b in signed.bands)

    # An item saved next to its COGs: relative hrefs resolve against where it was read.
    from oceanscan.synth.catalog import write_catalog

    catalog = write_catalog(tmp_path / "catalog", scenes=1, size=64, seed=3)
    item_json = next(
        p for p in catalog.parent.rglob("*.json") if json.loads(p.read_text())["type"] == "Feature"
    )
    moved = tmp_path / "moved"
    shutil.copytree(item_json.parent, moved)
    spec = scene_from_input(moved / item_json.name)
    assert spec.provider == "synthetic"
    assert all(b.href.startswith(str(moved)) for b in spec.bands)
    assert read_window(spec, PixelWindow(0, 0, 16, 16)).reflectance.shape == (11, 16, 16)

    not_item = tmp_path / "collection.json"
    not_item.write_text(json.dumps({"type": "Collection", "id": "c"}))
    with pytest.raises(SceneError, match="not a STAC Item"):
        scene_from_input(not_item)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("https://example.org/items/S2B_X.json", "stac-item"),
        ("https://planetarycomputer.microsoft.com/api/stac/v1/collections/c/items/x", "stac-item"),
        ("https://example.org/stack.tif?token=1", "geotiff"),
        ("s3://bucket/stack.TIF", "geotiff"),
    ],
)
def test_input_kinds_of_urls(source, kind):
    assert input_kind(source) == kind


def test_input_kinds_of_paths(tmp_path, safe, mariveles):
    folder = tmp_path / "bands"
    folder.mkdir()
    assert input_kind(folder) == "band-files"
    assert input_kind(safe) == "safe"
    assert input_kind(mariveles) == "geotiff"


def test_band_names():
    names = ("B2", "b8a", "nir08", "SCL", "band 11", "B13", "red", "4", "10")
    assert [band_name(n) for n in names] == [
        "B02",
        "B8A",
        "B8A",
        "SCL",
        "B11",
        None,
        "B04",
        None,  # bare numbers are band indices as often as band names: refused
        None,
    ]


def test_two_inputs_of_one_name_are_refused(tmp_path, mariveles):
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(mariveles, other / mariveles.name)
    with pytest.raises(ConfigError, match="both scene 'mariveles_l2a_scl'"):
        scenes_from_inputs([mariveles, other / mariveles.name], bands=BANDS_ARG)


def test_planetary_computer_signer_is_its_sign_inplace():
    with warnings.catch_warnings():  # planetary-computer 1.0 uses pydantic's class Config
        warnings.simplefilter("ignore", DeprecationWarning)
        import planetary_computer

    assert resolve_signer("planetary-computer") is planetary_computer.sign_inplace
    assert resolve_signer("json:dumps") is json.dumps


def test_missing_signer_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "planetary_computer", None)  # import now fails
    with pytest.raises(ConfigError, match="pip install planetary-computer"):
        resolve_signer("planetary-computer")
    with pytest.raises(ConfigError, match="unknown signer 'azure'"):
        resolve_signer("azure")
    with pytest.raises(ConfigError, match="not a callable"):
        resolve_signer("json:nothing_here")


def test_write_band_keeps_jp2_lossless(tmp_path):
    data = (np.arange(64 * 64).reshape(64, 64) % 9000 + 1).astype(np.uint16)
    t = rasterio.Affine(10, 0, 230400, 0, -10, 1598400)
    write_band(tmp_path / "x.jp2", data, t, "EPSG:32651", "JP2OpenJPEG")
    with rasterio.open(tmp_path / "x.jp2") as src:
        assert src.driver == "JP2OpenJPEG"
        np.testing.assert_array_equal(src.read(1), data)


def test_one_run_mixes_kinds_and_options_go_where_they_apply(mariveles, safe):
    tif, product = scenes_from_inputs([mariveles, safe], bands=BANDS_ARG)
    assert (tif.provider, product.provider) == ("geotiff", "safe")
    assert product.offset == pytest.approx(-0.1)
    with pytest.raises(ConfigError, match="bands applies to geotiff inputs"):
        scenes_from_inputs([safe], bands=BANDS_ARG)
    with pytest.raises(ConfigError, match="reflectance_offset applies"):
        scenes_from_inputs([safe], reflectance_offset=-0.1)
    with pytest.raises(ConfigError, match=r"sign \(href_modifier\) applies to stac-item"):
        scenes_from_inputs([safe], href_modifier=str.upper)


def test_scan_config_takes_inputs_profile_sign_and_land(tmp_path):
    from oceanscan.config import validate_config
    from oceanscan.scan.config import ScanConfig
    from oceanscan.scan.sources import source_options

    config = ScanConfig(root=str(tmp_path), model=str(tmp_path), input="scene.tif", bands="B1,b2")
    assert config.input == ["scene.tif"] and config.bands == ["B01", "B02"]
    assert (config.land, config.land_buffer_m, config.profile, config.sign) == (
        "auto",
        100.0,
        None,
        None,
    )
    signed = ScanConfig(root="r", model="m", sign="json:dumps", profile="planetarycomputer")
    assert source_options(signed) == {"profile": "planetarycomputer", "href_modifier": json.dumps}
    for field, value, message in (
        ("profile", "nasa", "unknown profile 'nasa'"),
        ("sign", "azure", "unknown signer 'azure'"),
        ("land", "osm", "land"),
        ("land_buffer_m", -5, "land_buffer_m"),
        ("bands", ["B02", "B99"], "unknown band name 'B99'"),
    ):
        with pytest.raises(ConfigError, match=message):
            validate_config({"root": "r", "model": "m", field: value}, ScanConfig, source="test")
