from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from oceanscan.realsea.filaments import load_filaments, rasterize_filaments
from oceanscan.realsea.scenes import load_scene
from oceanscan.sentinel2 import fdi
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
