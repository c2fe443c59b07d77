from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from oceanscan.classes import IGNORE_INDEX, map_labels
from oceanscan.data import (
    DatasetNotFoundError,
    MaridaDataset,
    RandomFlipRotate,
    label_counts,
    labelled_batches,
    labelled_patches,
    load_patch,
    normalize,
    patch_paths,
    read_split_ids,
)
from oceanscan.synth.patches import write_patches

SIZE = 8


def _write(path: Path, data: np.ndarray) -> None:
    profile = {
        "driver": "GTiff", "height": data.shape[1], "width": data.shape[2], "count": data.shape[0],
        "dtype": data.dtype.name, "crs": "EPSG:32616", "transform": Affine(10, 0, 300000, 0, -10, 1800000),
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


@pytest.fixture(scope="module")
def handmade(tmp_path_factory) -> tuple[Path, dict]:
    """Three tiny patches with known values, named as MARIDA names them."""
    root = tmp_path_factory.mktemp("marida")
    rng = np.random.default_rng(0)
    truth = {}
    for i, (scene, split) in enumerate(
        [("12-12-20_16PCC", "train"), ("12-12-20_16PCC", "train"), ("1-2-19_18QYF", "test")]
    ):
        pid = f"{scene}_{i}"
        folder = root / "patches" / f"S2_{scene}"
        folder.mkdir(parents=True, exist_ok=True)
        refl = rng.uniform(0.01, 0.1, (11, SIZE, SIZE)).astype(np.float32)
        refl[:, 0, 0] = np.nan
        classes = rng.integers(0, 16, (SIZE, SIZE)).astype(np.uint8)
        conf = np.where(classes > 0, rng.integers(1, 4, (SIZE, SIZE)), 0).astype(np.uint8)
        _write(folder / f"S2_{pid}.tif", refl)
        _write(folder / f"S2_{pid}_cl.tif", classes[None])
        _write(folder / f"S2_{pid}_conf.tif", conf[None])
        truth[pid] = (split, refl, classes, conf)
    (root / "splits").mkdir()
    for split in ("train", "val", "test"):
        ids = [p for p, v in truth.items() if v[0] == split]
        (root / "splits" / f"{split}_X.txt").write_text("".join(f"{p}\n" for p in ids))
    return root, truth


def test_read_split_ids(handmade):
    root, _ = handmade
    assert read_split_ids(root, "train") == ["12-12-20_16PCC_0", "12-12-20_16PCC_1"]
    assert read_split_ids(root, "val") == []
    assert read_split_ids(root, "test") == ["1-2-19_18QYF_2"]


def test_patch_paths_resolve_marida_naming(tmp_path):
    img, cl, conf = patch_paths(tmp_path, "12-12-20_16PCC_6")
    assert img == tmp_path / "patches/S2_12-12-20_16PCC/S2_12-12-20_16PCC_6.tif"
    assert cl.name == "S2_12-12-20_16PCC_6_cl.tif" and conf.name == "S2_12-12-20_16PCC_6_conf.tif"
    assert patch_paths(tmp_path, "S2_12-12-20_16PCC_6") == (img, cl, conf)
    for bad in ("16PCC", "12-12-20_16PCC_x", "a__1"):
        with pytest.raises(ValueError, match="Invalid MARIDA patch id"):
            patch_paths(tmp_path, bad)


def test_load_patch_returns_the_stored_values(handmade):
    root, truth = handmade
    for pid, (_, refl, classes, conf) in truth.items():
        r, c, f = load_patch(root, pid)
        assert r.dtype == np.float32 and c.dtype == np.uint8 and f.dtype == np.uint8
        np.testing.assert_array_equal(r, refl)  # NaN included
        np.testing.assert_array_equal(c, classes)
        np.testing.assert_array_equal(f, conf)


@pytest.mark.parametrize("cache", [True, False])
@pytest.mark.parametrize("mapping", ["binary", "marida11", "floating"])
def test_dataset_items(handmade, cache, mapping):
    root, truth = handmade
    ds = MaridaDataset(root, "train", mapping=mapping, cache=cache)
    assert len(ds) == 2
    for i, pid in enumerate(read_split_ids(root, "train")):
        item = ds[i]
        assert item["id"] == pid
        assert item["image"].dtype == torch.float32 and item["image"].shape == (11, SIZE, SIZE)
        assert item["mask"].dtype == torch.int64 and item["mask"].shape == (SIZE, SIZE)
        _, refl, classes, _ = truth[pid]
        expected = normalize(refl)
        tol = 2e-3 if cache else 1e-6  # the cache keeps float16
        np.testing.assert_allclose(item["image"].numpy(), expected, atol=tol * 4, rtol=tol)
        assert (item["image"][:, 0, 0] == 0).all()  # NaN -> band mean -> 0
        np.testing.assert_array_equal(item["mask"].numpy(), map_labels(classes, mapping))
        assert (item["mask"][torch.from_numpy(classes == 0)] == IGNORE_INDEX).all()
    with pytest.raises(IndexError):
        ds[5]


def test_dataset_applies_transform(handmade):
    root, _ = handmade
    torch.manual_seed(0)
    ds = MaridaDataset(root, "train", transform=RandomFlipRotate())
    plain = MaridaDataset(root, "train")
    outs = {tuple(ds[0]["mask"].flatten().tolist()) for _ in range(40)}
    assert len(outs) > 1
    assert tuple(plain[0]["mask"].flatten().tolist()) in outs


def test_label_counts_from_dataset_and_root_agree(handmade):
    root, truth = handmade
    expected = np.zeros(2, dtype=np.int64)
    for split, _, classes, _ in truth.values():
        if split == "train":
            expected += [(classes > 1).sum(), (classes == 1).sum()]
    np.testing.assert_array_equal(label_counts(root, "train", "binary"), expected)
    np.testing.assert_array_equal(label_counts(MaridaDataset(root, "train")), expected)
    assert label_counts(root, "train", "marida11").shape == (11,)
    assert label_counts(root, "train", "marida11").sum() == expected.sum()


def test_missing_data_errors_say_how_to_fix(tmp_path, handmade):
    with pytest.raises(DatasetNotFoundError, match="oceanscan synth patches") as err:
        MaridaDataset(tmp_path / "nowhere", "train")
    assert "nowhere" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"splits/val_X\.txt"):
        read_split_ids(tmp_path / "empty", "val")
    root, _ = handmade
    with pytest.raises(DatasetNotFoundError, match=r"S2_1-1-21_16PCC_0\.tif"):
        load_patch(root, "1-1-21_16PCC_0")
    with pytest.raises(ValueError, match="Invalid split 'validation'"):
        read_split_ids(root, "validation")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="class mapping"):
        MaridaDataset(root, "train", mapping="multiclass")  # type: ignore[arg-type]


def test_reads_a_synthetic_set_end_to_end(tmp_path):
    root = write_patches(tmp_path / "s", 10, size=32, seed=1)
    total = 0
    for split in ("train", "val", "test"):
        ds = MaridaDataset(root, split)
        total += len(ds)
        for i in range(len(ds)):
            item = ds[i]
            assert torch.isfinite(item["image"]).all()
            assert set(item["mask"].unique().tolist()) <= {IGNORE_INDEX, 0, 1}
    assert total == 10
    counts = label_counts(root)
    assert counts[1] > 0 and counts[0] > 50 * counts[1]  # debris is rare


def test_labelled_batches_stack_the_patches_in_order(tmp_path):
    root = write_patches(tmp_path / "synth", 24, size=32, seed=5)
    patches = list(labelled_patches(root, "val"))
    batches = list(labelled_batches(root, "val", batch_size=3))
    assert [len(images) for images, _ in batches] == [
        min(3, len(patches) - i) for i in range(0, len(patches), 3)
    ]
    np.testing.assert_array_equal(
        np.concatenate([images for images, _ in batches]), np.stack([r for r, _ in patches])
    )
    np.testing.assert_array_equal(
        np.concatenate([targets for _, targets in batches]), np.stack([t for _, t in patches])
    )
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        next(labelled_batches(root, "val", batch_size=0))
