"""Connected components above threshold become polygons with the right area and statistics."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer

from oceanscan.scan.detections import DETECTION_COLUMNS, find_detections
from oceanscan.scan.store import FILL

T = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 1700000.0)  # UTM 16N, Gulf of Honduras


def _find(stored, step=127):
    return find_detections(
        stored, transform=T, crs="EPSG:32616", step=step, scene="s", datetime="2025-06-01T10:00:00Z"
    )


def test_components_areas_and_statistics():
    stored = np.zeros((20, 20), dtype=np.uint8)
    stored[2:4, 2:5] = 200  # 6 px
    stored[3, 3] = 254
    stored[10, 10] = 130  # 1 px
    stored[11, 11] = 140  # diagonal neighbour: same component (8-connectivity)
    stored[15:17, 15:17] = 126  # below threshold
    stored[0, 19] = FILL  # not scored
    found = _find(stored).sort_values("pixels", ignore_index=True)
    assert list(found.columns) == [*DETECTION_COLUMNS, "geometry"]
    assert found.crs == "EPSG:4326"
    assert list(found["pixels"]) == [2, 6]
    assert list(found["area_m2"]) == [200.0, 600.0]
    assert found["max_probability"].tolist() == pytest.approx([140 / 254, 1.0])
    assert found["mean_probability"].tolist() == pytest.approx(
        [135 / 254, (5 * 200 + 254) / 6 / 254]
    )
    # The 6-pixel block: its centroid is the block centre, 3.5 px right, 3 px down.
    to_lonlat = Transformer.from_crs("EPSG:32616", "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(500000.0 + 35.0, 1700000.0 - 30.0)
    assert (found.loc[1, "lon"], found.loc[1, "lat"]) == pytest.approx((lon, lat), abs=1e-7)
    assert found.loc[1].geometry.contains(found.loc[1].geometry.centroid)
    assert (found["scene"] == "s").all()


def test_unscored_pixels_never_count():
    stored = np.full((8, 8), FILL, dtype=np.uint8)  # 255 >= any step but means "not scored"
    assert len(_find(stored, step=0)) == 0


def test_empty_result_has_the_schema():
    found = _find(np.zeros((5, 5), dtype=np.uint8))
    assert len(found) == 0 and list(found.columns) == [*DETECTION_COLUMNS, "geometry"]
    assert found.crs == "EPSG:4326"
