import re

import numpy as np
import pytest
import rasterio

from oceanscan.cli import build_parser, main
from oceanscan.data import load_patch, read_split_ids
from oceanscan.sentinel2 import BANDS
from oceanscan.synth.patches import SPLIT_PROPORTIONS, plan_acquisitions, write_patches

FOLDER = re.compile(r"^S2_(\d{1,2})-(\d{1,2})-(\d{2})_(\d{2}[C-X][A-Z]{2})$")


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "marida"
    rc = main(["synth", "patches", "--out", str(out), "--n", "12", "--size", "32", "--seed", "3"])
    assert rc == 0
    return out


def test_layout_and_names_follow_marida(dense):
    folders = sorted((dense / "patches").iterdir())
    assert folders
    ids = {s: read_split_ids(dense, s) for s in ("train", "val", "test")}
    all_ids = [i for v in ids.values() for i in v]
    assert len(all_ids) == len(set(all_ids)) == 12
    files = set()
    for folder in folders:
        m = FOLDER.match(folder.name)
        assert m, folder.name
        day, month = int(m.group(1)), int(m.group(2))
        assert 1 <= day <= 31 and 1 <= month <= 12
        for f in folder.iterdir():
            assert re.match(rf"^{folder.name}_\d+(_cl|_conf)?\.tif$", f.name), f.name
            files.add(f.name)
    for pid in all_ids:
        assert not pid.startswith("S2_")
        for suffix in ("", "_cl", "_conf"):
            assert f"S2_{pid}{suffix}.tif" in files
    assert len(files) == 3 * 12


def test_splits_are_by_acquisition(dense):
    owner = {}
    for split in ("train", "val", "test"):
        ids = read_split_ids(dense, split)
        assert ids, f"split {split} is empty"
        for pid in ids:
            scene = pid.rsplit("_", 1)[0]
            assert owner.setdefault(scene, split) == split


def test_split_proportions_approach_marida():
    acqs = plan_acquisitions(600, seed=0)
    total = {s: sum(a.crops for a in acqs if a.split == s) for s in SPLIT_PROPORTIONS}
    assert sum(total.values()) == 600
    for split, p in SPLIT_PROPORTIONS.items():
        assert abs(total[split] / 600 - p) < 0.05
    assert len({a.scene_id for a in acqs}) == len(acqs)


def test_files_have_marida_types_crs_and_grid(dense):
    pid = read_split_ids(dense, "train")[0]
    folder = dense / "patches" / f"S2_{pid.rsplit('_', 1)[0]}"
    with rasterio.open(folder / f"S2_{pid}.tif") as src:
        assert src.count == 11 and src.dtypes[0] == "float32"
        assert src.descriptions == BANDS
        epsg = src.crs.to_epsg()
        assert 32601 <= epsg <= 32660 or 32701 <= epsg <= 32760  # UTM north / south
        assert src.res == (10.0, 10.0)
        grid = (src.crs, src.transform, src.shape)
    for suffix in ("_cl", "_conf"):
        with rasterio.open(folder / f"S2_{pid}{suffix}.tif") as src:
            assert src.count == 1 and src.dtypes[0] == "uint8"
            assert (src.crs, src.transform, src.shape) == grid
    refl, classes, conf = load_patch(dense, pid)
    assert refl.shape == (11, 32, 32) and refl.dtype == np.float32
    assert classes.shape == conf.shape == (32, 32)
    assert ((conf == 0) == (classes == 0)).all()
    assert set(np.unique(conf)) <= {0, 1, 2, 3}


def test_crops_of_one_acquisition_share_a_grid(dense):
    ids = [i for s in ("train", "val", "test") for i in read_split_ids(dense, s)]
    scene = ids[0].rsplit("_", 1)[0]
    same = [i for i in ids if i.rsplit("_", 1)[0] == scene]
    transforms = []
    for pid in same:
        with rasterio.open(dense / "patches" / f"S2_{scene}" / f"S2_{pid}.tif") as src:
            transforms.append(src.transform)
            crs = src.crs
    # on one 10 m grid: origins differ by whole multiples of the patch width
    for t in transforms:
        assert ((t.c - transforms[0].c) / 320) % 1 == 0 and ((t.f - transforms[0].f) / 320) % 1 == 0
    assert crs is not None


def test_dense_labels_cover_water_and_nan_marks_nodata(tmp_path):
    out = write_patches(tmp_path / "d", 30, size=24, seed=5)
    labelled, nan_pixels, nan_labelled = [], 0, 0
    for split in ("train", "val", "test"):
        for pid in read_split_ids(out, split):
            refl, classes, _ = load_patch(out, pid)
            labelled.append((classes > 0).mean())
            nan = np.isnan(refl).any(axis=0)
            nan_pixels += nan.sum()
            nan_labelled += (classes[nan] > 0).sum()
    assert np.mean(labelled) > 0.8
    assert nan_pixels > 0 and nan_labelled == 0


def test_sparse_labels_leave_most_pixels_unlabelled(tmp_path):
    dense = write_patches(tmp_path / "dense", 6, size=64, seed=9)
    sparse = write_patches(tmp_path / "sparse", 6, size=64, seed=9, sparse_labels=True)
    for pid in read_split_ids(sparse, "train"):
        refl_d, cl_d, _ = load_patch(dense, pid)
        refl_s, cl_s, conf_s = load_patch(sparse, pid)
        np.testing.assert_array_equal(refl_d, refl_s)  # same scene, only the labels differ
        assert (cl_s == 0).mean() > 0.5
        kept = cl_s > 0
        np.testing.assert_array_equal(cl_s[kept], cl_d[kept])
        assert (cl_s[cl_d == 1] == 1).all()  # every object pixel stays labelled
        assert (conf_s[~kept] == 0).all()


def test_same_seed_writes_the_same_data(tmp_path):
    a = write_patches(tmp_path / "a", 4, size=16, seed=2)
    b = write_patches(tmp_path / "b", 4, size=16, seed=2)
    for split in ("train", "val", "test"):
        assert read_split_ids(a, split) == read_split_ids(b, split)
        for pid in read_split_ids(a, split):
            for x, y in zip(load_patch(a, pid), load_patch(b, pid), strict=True):
                np.testing.assert_array_equal(x, y)


def test_help_documents_every_flag(capsys):
    for cmd in ("patches", "catalog"):
        with pytest.raises(SystemExit):
            main(["synth", cmd, "--help"])
        text = capsys.readouterr().out
        flags = ["--out", "--seed", "--size"] + (
            ["--n", "--sparse-labels"] if cmd == "patches" else ["--scenes", "--profile"]
        )
        for flag in flags:
            assert flag in text


def test_catalog_subcommand_parses_to_its_handler():
    args = build_parser().parse_args(
        [
            "synth",
            "catalog",
            "--out",
            "x",
            "--scenes",
            "2",
            "--size",
            "64",
            "--profile",
            "planetarycomputer",
        ]
    )
    assert (args.scenes, args.size, args.seed, args.profile) == (2, 64, 0, "planetarycomputer")
    assert callable(args.func)


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError, match="must be >= 3"):
        write_patches(tmp_path, 2)
    with pytest.raises(ValueError, match="patch size"):
        write_patches(tmp_path, 5, size=8)
    with pytest.raises(SystemExit):
        main(["synth", "patches", "--out", str(tmp_path), "--n", "0"])
