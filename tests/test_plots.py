"""Quicklook, training-curve and precision-recall PNGs: written, readable, drawn where expected."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from matplotlib import colormaps
from matplotlib._pylab_helpers import Gcf
from matplotlib.colors import to_rgba
from shapely.geometry import Point, box

from oceanscan.metrics import ThresholdSweep
from oceanscan.plots import (
    DETECTION_COLOUR,
    MASK_COLOURS,
    best_epoch,
    pr_curve_png,
    quicklook_png,
    training_curves_png,
)
from oceanscan.plots._raster import (
    block_max,
    block_mean,
    block_mode,
    downsample_factor,
    stretch_rgb,
)
from oceanscan.sentinel2 import MASK_CLOUD, MASK_LAND, MASK_NODATA, MASK_SCORED

SIZE = 64
TOL = 1.5 / 255  # PNG stores 8 bits per channel


def _read_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[0] > 100 and image.shape[1] > 100
    return image[..., :3]


def _pixels_of(image: np.ndarray, colour: str, tol: float = TOL) -> np.ndarray:
    """Boolean image of the pixels drawn in ``colour`` (to 8-bit precision by default)."""
    rgb = np.asarray(to_rgba(colour))[:3]
    return np.abs(image - rgb).max(axis=-1) <= tol


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
    return _read_png(out)


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
    land = _pixels_of(masked, MASK_COLOURS[MASK_LAND][1])
    cloud = _pixels_of(masked, MASK_COLOURS[MASK_CLOUD][1])
    nodata = _pixels_of(masked, MASK_COLOURS[MASK_NODATA][1])
    # Each masked quadrant covers a quarter of the image area: thousands of output pixels,
    # against a few hundred for its legend patch in the unmasked picture.
    for drawn, code in ((land, MASK_LAND), (cloud, MASK_CLOUD)):
        assert drawn.sum() > 0.05 * drawn.size
        assert _pixels_of(clear, MASK_COLOURS[code][1]).sum() < 0.1 * drawn.sum()
    assert nodata.sum() > 4 * _pixels_of(clear, MASK_COLOURS[MASK_NODATA][1]).sum()
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
    outline = _pixels_of(drawn, DETECTION_COLOUR, tol=0.1).sum()
    assert outline > _pixels_of(empty, DETECTION_COLOUR, tol=0.1).sum() + 150


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


def test_downsampling_helpers():
    a = np.arange(25, dtype=np.float32).reshape(5, 5)
    a[0, 0] = np.nan
    assert downsample_factor(5, 5, 2) == 3
    assert downsample_factor(10, 4, 10) == 1
    mean = block_mean(a, 3)
    assert mean.shape == (2, 2)
    assert mean[0, 0] == pytest.approx(np.nanmean(a[:3, :3]))
    assert mean[1, 1] == pytest.approx(a[3:, 3:].mean())  # edge block over existing pixels
    assert block_max(a, 3)[1, 0] == a[3:, :3].max()
    assert np.isnan(block_max(np.full((4, 4), np.nan, dtype=np.float32), 2)).all()
    codes = np.array([[1, 1, 0], [2, 1, 0], [3, 3, 3]], dtype=np.uint8)
    np.testing.assert_array_equal(block_mode(codes, 2, 4), [[1, 0], [3, 3]])


def test_stretch_keeps_hue_ignores_clouds_and_blanks_nan():
    rgb = np.stack([np.full((8, 8), v, dtype=np.float32) for v in (0.02, 0.04, 0.08)])
    rgb += np.linspace(0, 0.01, 64, dtype=np.float32).reshape(8, 8)
    rgb[:, 0, 0] = np.nan
    rgb[:, 7, :] = 0.9  # a cloud row
    water = np.ones((8, 8), dtype=bool)
    water[7] = False
    out = stretch_rgb(rgb, where=water)
    assert out.shape == (8, 8, 3) and out.dtype == np.float32
    assert (out[0, 0] == 0).all()
    assert (out[1:7, :, 2] > out[1:7, :, 0]).all()  # blue water stays bluer than red
    assert out[3, 3, 2] > 0.5  # water fills the range when the cloud is left out
    assert (out[7] == 1.0).all()
    dull = stretch_rgb(rgb)
    assert dull[3, 3, 2] < out[3, 3, 2]
    with pytest.raises(ValueError, match="gamma"):
        stretch_rgb(rgb, gamma=0)


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


def _history(epochs: int = 12) -> list[dict[str, float]]:
    rows = []
    for e in range(epochs):
        rows.append(
            {
                "epoch": e,
                "train_loss": 1.0 / (e + 1),
                "val_loss": 1.0 / (e + 1) + 0.03 * max(0, e - 5),
                "val_f1": 0.08 * e if e <= 7 else 0.56 - 0.02 * (e - 7),
                "val_precision": 0.5 + 0.02 * e,
                "val_recall": 0.6,
                "val_iou": 0.04 * e,
                "lr": 1e-3 * min(1.0, (e + 1) / 3) * (0.5 + 0.5 * np.cos(np.pi * e / epochs))
                + 1e-6,
                "threshold": 0.4,
            }
        )
    return rows


def test_training_curves_png(tmp_path):
    out = training_curves_png(tmp_path / "curves.png", _history(), title="run 1")
    image = _read_png(out)
    assert image.var() > 0.001
    assert Gcf.get_num_fig_managers() == 0


def test_training_curves_tolerate_missing_values(tmp_path):
    rows = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_f1": None, "lr": 1e-3} for e in range(3)]
    image = _read_png(training_curves_png(tmp_path / "sparse.png", rows))
    assert image.var() > 0.001


def test_best_epoch_follows_the_checkpoint_ranking():
    assert best_epoch(_history()) == (7.0, "val_f1")
    no_f1 = [{k: v for k, v in row.items() if k != "val_f1"} for row in _history()]
    assert best_epoch(no_f1) == (5.0, "val_loss")  # val_loss bottoms out at epoch 5
    train_only = [{"epoch": e, "train_loss": 3.0 - e} for e in range(4)]
    assert best_epoch(train_only) == (3.0, "train_loss")
    assert best_epoch([{"epoch": 0}]) is None
    # A resumed run reports epoch 1 again: the later row counts, order does not matter.
    resumed = [
        {"epoch": 1, "val_f1": 0.9},
        {"epoch": 0, "val_f1": 0.5},
        {"epoch": 1, "val_f1": 0.1},
    ]
    assert best_epoch(resumed) == (0.0, "val_f1")


@pytest.mark.parametrize(
    ("history", "error", "names"),
    [
        ([], ValueError, "history"),
        ({"epoch": 1}, TypeError, "history"),
        ([{"epoch": 0}, {"train_loss": 1.0}], ValueError, r"history\[1\]"),
        ([{"epoch": 0, "val_f1": "high"}], TypeError, r"history\[0\]\['val_f1'\]"),
        ([{"epoch": 0}, 3], TypeError, r"history\[1\]"),
    ],
)
def test_training_curves_reject_bad_history_by_name(tmp_path, history, error, names):
    with pytest.raises(error, match=names):
        training_curves_png(tmp_path / "bad.png", history)


def _sweep_curve() -> tuple[dict[str, np.ndarray], float]:
    rng = np.random.default_rng(1)
    target = rng.random(4000) < 0.1
    prob = np.clip(0.35 * target + 0.65 * rng.random(4000), 0.0, 1.0)
    sweep = ThresholdSweep(bins=101)
    sweep.update(
        torch.from_numpy(prob.astype(np.float32)), torch.from_numpy(target.astype(np.int64))
    )
    threshold, _ = sweep.best_threshold()
    return sweep.curve(), threshold


def test_pr_curve_png_from_a_threshold_sweep(tmp_path):
    curve, threshold = _sweep_curve()
    image = _read_png(pr_curve_png(tmp_path / "pr.png", curve, threshold))
    assert image.var() > 0.001
    # The chosen point is drawn as a filled red marker.
    assert _pixels_of(image, "#d62728").sum() > 30
    assert Gcf.get_num_fig_managers() == 0


@pytest.mark.parametrize(
    ("edit", "threshold", "error", "names"),
    [
        (lambda c: c.pop("recall"), 0.5, ValueError, "recall"),
        (
            lambda c: c.update(precision=c["precision"][:-1]),
            0.5,
            ValueError,
            r"curve\['precision'\]",
        ),
        (lambda c: c.update(f1=c["f1"] + 2.0), 0.5, ValueError, r"curve\['f1'\]"),
        (
            lambda c: c.update(thresholds=c["thresholds"][::-1].copy()),
            0.5,
            ValueError,
            "increasing",
        ),
        (lambda c: None, 1.5, ValueError, "chosen_threshold"),
        (lambda c: None, "high", TypeError, "chosen_threshold"),
    ],
)
def test_pr_curve_rejects_bad_input_by_name(tmp_path, edit, threshold, error, names):
    curve, _ = _sweep_curve()
    curve = dict(curve)
    edit(curve)
    with pytest.raises(error, match=names):
        pr_curve_png(tmp_path / "bad.png", curve, threshold)
