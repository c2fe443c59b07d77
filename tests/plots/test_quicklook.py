"""Quicklook PNGs: written, readable, each layer drawn where it belongs; bad input named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib._pylab_helpers import Gcf
from shapely.geometry import Point, box

from oceanscan.plots import DETECTION_COLOUR, MASK_COLOURS, quicklook_png
from oceanscan.sentinel2 import MASK_CLOUD, MASK_LAND, MASK_NODATA, MASK_SCORED
from tests.helpers.plots import TOL, pixels_of, read_png

SIZE = 64


def _scene(size: int = SIZE) -> dict[str, np.ndarray]:
    """Blue water with noise; land top-left quadrant, cloud bottom-right, a nodata row band."""
    rng = np.random.default_rng(0)
    rgb = np.stack([np.full((size, size), v) for v in (0.02, 0.04, 0.07)])
    rgb = (rgb + rng.normal(0.0, 0.004, rgb.shape)).astype(np.float32)
    mask = np.full((size, size), MASK_SCORED, dtype=np.uint8)
    half = size // 2
    mask[:half, :half] = MASK_LAND
    mask[half:, half:] = MASK_CLOUD
    mask[: size // 8, half:] = MASK_NODATA
    rgb[:, : size // 8, half:] = np.nan
    probability = (rng.random((size, size)) * 0.05).astype(np.float32)
    probability[mask != MASK_SCORED] = np.nan
    return {"rgb": rgb, "probability": probability, "mask": mask}


def _quicklook(tmp_path: Path, name: str, **overrides: object) -> np.ndarray:
    kwargs: dict[str, object] = {
        **_scene(),
        "threshold": 0.5,
        "detections": [],
        "title": "S2B_MSIL2A_20210101T000000_T16PCC",
    }
    kwargs.update(overrides)
    out = quicklook_png(tmp_path / name, **kwargs)  # type: ignore[arg-type]
    assert out == tmp_path / name
    return read_png(out)


def test_quicklook_is_a_non_blank_png_and_leaves_no_figure_open(tmp_path):
    image = _quicklook(tmp_path / "nested", "scene.png")
    assert image.var() > 0.01
    assert Gcf.get_num_fig_managers() == 0


def test_quicklook_paints_each_mask_code_in_its_colour_where_it_is(tmp_path):
    masked = _quicklook(tmp_path, "masked.png")
    scene = _scene()
    scene["mask"][:] = MASK_SCORED
    clear = _quicklook(tmp_path, "clear.png", **scene)
    assert masked.shape == clear.shape
    land = pixels_of(masked, MASK_COLOURS[MASK_LAND][1])
    cloud = pixels_of(masked, MASK_COLOURS[MASK_CLOUD][1])
    nodata = pixels_of(masked, MASK_COLOURS[MASK_NODATA][1])
    # Each masked quadrant covers a quarter of the image area: thousands of output pixels,
    # against a few hundred for its legend patch in the unmasked picture.
    for drawn, code in ((land, MASK_LAND), (cloud, MASK_CLOUD)):
        assert drawn.sum() > 0.05 * drawn.size
        assert pixels_of(clear, MASK_COLOURS[code][1]).sum() < 0.1 * drawn.sum()
    assert nodata.sum() > 4 * pixels_of(clear, MASK_COLOURS[MASK_NODATA][1]).sum()
    # Where they are: land is up and left of the cloud, nodata is above the cloud.
    land_rc = np.argwhere(land).mean(axis=0)
    cloud_rc = np.argwhere(cloud).mean(axis=0)
    assert land_rc[0] < cloud_rc[0] and land_rc[1] < cloud_rc[1]
    nodata_rows = np.argwhere(nodata)[:, 0]
    assert np.median(nodata_rows) < cloud_rc[0]


def test_low_probability_is_transparent_and_high_probability_is_coloured(tmp_path):
    scene = _scene()
    unscored = scene["probability"].copy()
    unscored[:] = np.nan
    base = _quicklook(tmp_path, "nan.png", probability=unscored)
    low = _quicklook(tmp_path, "low.png")  # every scored pixel below 0.05
    np.testing.assert_array_equal(base, low)

    high = scene["probability"].copy()
    high[40:56, 4:20] = 1.0  # a scored 16 x 16 block, bottom-left quadrant
    hot = _quicklook(tmp_path, "high.png", probability=high)
    changed = np.abs(hot - low).max(axis=-1) > TOL
    assert changed.sum() > 0.03 * changed.size
    rows, cols = np.nonzero(changed)
    centre = hot[int(np.median(rows)), int(np.median(cols))]
    # Opacity 0.9 over the true colour beneath: the colour is within 10 % of the colormap's top.
    top = np.asarray(colormaps["plasma"](1.0))[:3]
    assert np.abs(centre - top).max() < 0.1 + TOL


@pytest.mark.parametrize("kind", ["polygons", "bool array"])
def test_detections_are_outlined(tmp_path, kind):
    scene = _scene()
    probability = scene["probability"].copy()
    probability[40:50, 8:20] = 0.9
    above = np.nan_to_num(probability) >= 0.5
    detections = [box(8, 40, 20, 50)] if kind == "polygons" else above
    none = [] if kind == "polygons" else np.zeros_like(above)
    drawn = _quicklook(tmp_path, "d.png", probability=probability, detections=detections)
    empty = _quicklook(tmp_path, "e.png", probability=probability, detections=none)
    # Anti-aliased 1.7 px lines: few pixels are exactly the outline colour, many are close to it.
    # The empty picture has the colour only in its legend and colourbar threshold mark.
    outline = pixels_of(drawn, DETECTION_COLOUR, tol=0.1).sum()
    assert outline > pixels_of(empty, DETECTION_COLOUR, tol=0.1).sum() + 150


def test_large_scene_is_downsampled_and_keeps_a_one_pixel_detection(tmp_path):
    size = 640
    scene = _scene(size)
    scene["mask"][:] = MASK_SCORED
    scene["rgb"] = np.nan_to_num(scene["rgb"], nan=0.03)
    probability = np.zeros((size, size), dtype=np.float32)
    probability[500, 100] = 1.0  # one pixel; a block mean at 1/10 would show 0.01
    small = _quicklook(
        tmp_path,
        "small.png",
        probability=probability,
        max_size_px=64,
        **{k: v for k, v in scene.items() if k != "probability"},
    )
    full = _quicklook(
        tmp_path,
        "full.png",
        probability=np.zeros_like(probability),
        max_size_px=64,
        **{k: v for k, v in scene.items() if k != "probability"},
    )
    assert small.shape[1] < 800
    changed = np.abs(small - full).max(axis=-1) > TOL
    assert changed.sum() > 9  # one 6 x 6 screen block at least


@pytest.mark.parametrize(
    ("change", "error", "names"),
    [
        ({"rgb": np.zeros((2, SIZE, SIZE), np.float32)}, ValueError, "rgb"),
        ({"probability": np.zeros((SIZE, SIZE + 1), np.float32)}, ValueError, "probability"),
        ({"mask": np.zeros((SIZE - 1, SIZE), np.uint8)}, ValueError, "mask"),
        ({"detections": np.zeros((SIZE, 3), bool)}, ValueError, "detections"),
        ({"probability": np.full((SIZE, SIZE), 1.5, np.float32)}, ValueError, "probability"),
        ({"mask": np.full((SIZE, SIZE), 7, np.uint8)}, ValueError, r"mask.*\(0, 1, 2, 3\)"),
        ({"mask": np.zeros((SIZE, SIZE), np.float32)}, TypeError, "mask"),
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"max_size_px": 4}, ValueError, "max_size_px"),
        ({"detections": [Point(1, 1)]}, TypeError, r"detections\[0\]"),
        ({"title": 3}, TypeError, "title"),
        ({"cmap": "no-such-map"}, ValueError, "cmap"),
    ],
)
def test_quicklook_rejects_bad_input_by_name(tmp_path, change, error, names):
    kwargs = {**_scene(), "threshold": 0.5, "detections": [], "title": "t", **change}
    with pytest.raises(error, match=names):
        quicklook_png(tmp_path / "bad.png", **kwargs)
    assert not (tmp_path / "bad.png").exists()


def test_quicklook_path_must_be_png(tmp_path):
    with pytest.raises(ValueError, match="path_out"):
        quicklook_png(tmp_path / "scene.jpg", **_scene(16), threshold=0.5, detections=[], title="t")
