from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from scipy import ndimage
from shapely.geometry import LineString

from oceanscan.realsea.filaments import (
    Filaments,
    load_filaments,
    rasterize_filaments,
    trace_precision,
)
from oceanscan.realsea.scenes import load_scene
from oceanscan.sentinel2 import BANDS, fdi
from tests.helpers.shared import real_dir


@pytest.fixture(scope="module")
def durban():
    return load_scene("durban", real_dir())


def test_trace_file_is_documented_linestrings_in_the_scene_crs():
    trace = load_filaments()
    assert trace.crs.to_epsg() == 32736
    assert len(trace.lines) == len(trace.ids) >= 10
    assert "by eye" in trace.description and "before any model" in trace.description
    for line in trace.lines:
        x0, y0, x1, y1 = line.bounds
        # north-east of the harbour mouth: pixel window x 290-500, y 0-330 of the scene
        assert 310000 + 2900 <= x0 and x1 <= 315000
        assert 6695000 - 3300 <= y0 and y1 <= 6695000


def test_trace_rasterises_onto_fdi_bright_water(durban):
    trace = load_filaments()
    traced = rasterize_filaments(
        trace, shape=durban.shape, transform=durban.transform, crs=durban.crs
    )
    length_px = sum(line.length for line in trace.lines) / 10.0
    assert 0.8 * length_px <= traced.sum() <= 1.6 * length_px  # about one pixel wide
    assert (durban.water[traced]).all()
    index = fdi(durban.reflectance)
    anomaly = index - ndimage.median_filter(np.nan_to_num(index), size=15)
    other = durban.water & ~ndimage.binary_dilation(traced, iterations=2)
    traced_median = np.median(anomaly[traced])
    assert traced_median > np.percentile(anomaly[other], 95)
    assert traced_median > 0.005 and abs(np.median(anomaly[other])) < 0.001


def _one_line(*coords: tuple[float, float]) -> Filaments:
    """A trace of one line in pixel coordinates of a 40 x 40 grid (identity-like transform)."""
    return Filaments((LineString(coords),), ("f",), _GRID_CRS, "")


_GRID_CRS = load_filaments().crs
#: 1 m pixels, row 0 at y = 40: pixel (row r, column c) has its centre at (c + 0.5, 39.5 - r).
_GRID = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 40.0)


def test_trace_precision_says_whether_the_line_runs_on_the_brightest_pixels():
    line = _one_line((5.5, 19.5), (34.5, 19.5))  # along row 20, columns 5-34
    nir = np.full((40, 40), 0.02)
    nir[20, 5:35] = 0.05  # the filament on the line
    on = trace_precision(line, nir, transform=_GRID, crs=_GRID_CRS)
    assert on["traced_pixels"] == on["chain_pixels"] == 30
    assert on["clipped_share"] == 0.0 and on["beside_brighter_share"] == 0.0
    beside = nir.copy()
    beside[20, 5:35], beside[21, 5:35] = 0.03, 0.05  # the brightest row one pixel off the line
    off = trace_precision(line, beside, transform=_GRID, crs=_GRID_CRS)
    assert off["beside_brighter_share"] == 1.0
    diagonal = trace_precision(
        _one_line((5.5, 30.5), (34.5, 10.5)), nir, transform=_GRID, crs=_GRID_CRS
    )
    assert diagonal["traced_pixels"] > diagonal["chain_pixels"]  # all_touched adds clipped pixels
    assert 0.0 < diagonal["clipped_share"] < 0.5


def test_durban_trace_is_one_pixel_precise(durban):
    """Model-free: the case for matching the trace within one pixel (TRACE_MATCH_PX)."""
    precision = trace_precision(
        load_filaments(),
        durban.reflectance[BANDS.index("B08")],
        transform=durban.transform,
        crs=durban.crs,
    )
    assert precision["traced_pixels"] == 444 and precision["chain_pixels"] == 328
    assert 0.2 < precision["clipped_share"] < 0.3  # measured 0.261
    assert 0.45 < precision["beside_brighter_share"] < 0.65  # measured 0.543


def test_rasterise_refuses_another_crs(durban):
    with pytest.raises(ValueError, match="EPSG:32651"):
        rasterize_filaments(
            load_filaments(), shape=durban.shape, transform=durban.transform, crs="EPSG:32651"
        )


def test_load_filaments_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.geojson"):
        load_filaments(tmp_path / "nothing.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(ValueError, match="crs"):
        load_filaments(bad)
