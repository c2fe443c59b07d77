"""False detections: flagged components on clean water, counted and divided by its area."""

from __future__ import annotations

import numpy as np
import pytest

from oceanscan.metrics import FalseDetections, count_false_detections


def _grid(rows: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """flagged, positive, negative from a picture: ``D`` debris, ``.`` clean water, ``?``
    unlabelled; lower case where the pixel is flagged."""
    chars = np.array([list(r) for r in rows])
    flagged = np.char.islower(chars)
    upper = np.char.upper(chars)
    return flagged, upper == "D", np.isin(upper, [".", "W"])


def test_a_component_touching_debris_is_not_false():
    # One blob over clean water that reaches a debris pixel at its corner: a true detection.
    flagged, positive, negative = _grid(
        [
            "......",
            ".ww...",
            ".ww...",
            "...d..",
            "......",
        ]
    )
    assert count_false_detections(flagged, positive, negative) == 0
    # The same blob one pixel further away is its own component, and a false one.
    flagged, positive, negative = _grid(
        [
            "......",
            ".ww...",
            ".ww...",
            "....d.",
            "......",
        ]
    )
    assert count_false_detections(flagged, positive, negative) == 1


def test_separate_blobs_on_clean_water_are_counted_one_each():
    flagged, positive, negative = _grid(
        [
            "ww....w",
            "w.....w",
            ".......",
            "...w...",
            "....w..",  # diagonal neighbours: one 8-connected component
            "..D...d",
        ]
    )
    # Top left, top right and the diagonal pair; the flagged debris pixel is a true detection.
    assert count_false_detections(flagged, positive, negative) == 3
    assert count_false_detections(np.zeros_like(flagged), positive, negative) == 0


def test_components_on_unlabelled_pixels_only_are_not_judged():
    flagged, positive, negative = _grid(
        [
            "??....",
            "??..??",
            "....?w",  # flagged pixels reaching clean water: judged
            "......",
        ]
    )
    flagged[0:2, 0:2] = True  # a component wholly on unlabelled pixels
    flagged[1, 4:6] = True
    assert count_false_detections(flagged, positive, negative) == 1


def test_false_detections_per_km2_divides_by_the_debris_free_area():
    side = 100  # 100 x 100 px of 10 m = 1 km2
    flagged = np.zeros((side, side), dtype=bool)
    positive = np.zeros_like(flagged)
    flagged[10, 10] = flagged[50, 50:53] = flagged[90, 90] = True
    positive[90, 90] = True  # a hit, not a false detection
    negative = ~positive
    fd = FalseDetections()
    fd.update(flagged, positive, negative)
    assert fd.count == 2
    assert fd.debris_free_km2 == pytest.approx((side * side - 1) / 1e4)
    assert fd.per_km2 == pytest.approx(2 / ((side * side - 1) / 1e4))
    # Only labelled non-debris pixels are area: unlabelled ones neither add area nor detections.
    half = negative.copy()
    half[:, side // 2 :] = False
    fd_half = FalseDetections()
    fd_half.update(flagged, positive, half)
    assert (fd_half.count, fd_half.debris_free_km2) == (1, pytest.approx(0.5))
    # 20 m pixels cover four times the area.
    coarse = FalseDetections()
    coarse.update(flagged, positive, negative, pixel_area_m2=400.0)
    assert coarse.per_km2 == pytest.approx(fd.per_km2 / 4)
    # Patches merge by summing counts and areas, not by averaging rates.
    both = fd + fd_half
    assert both.count == 3 and both.per_km2 == pytest.approx(3 / (0.9999 + 0.5))
    assert set(both.as_dict()) == {
        "false_detections",
        "debris_free_km2",
        "false_detections_per_km2",
    }
    assert FalseDetections().per_km2 == 0.0


def test_false_detections_reject_bad_input():
    a = np.zeros((4, 4), dtype=bool)
    with pytest.raises(ValueError, match=r"flagged \(4, 4\), positive \(4, 5\)"):
        count_false_detections(a, np.zeros((4, 5), dtype=bool), a)
    with pytest.raises(ValueError, match="2-D"):
        count_false_detections(a[0], a[0], a[0])
    with pytest.raises(ValueError, match="pixel_area_m2"):
        FalseDetections().update(a, a, a, pixel_area_m2=0.0)
