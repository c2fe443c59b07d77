"""Hostile input: item ids that try to leave their scene group, model bundles carrying a pickle
payload or the wrong bands, and malformed or out-of-range configuration files.

The pickle payload is the one of ``tests/model/test_bundle.py::test_pickle_payload_is_refused_and_
never_runs`` (which proves, in a control process, that it really runs when unpickled); here it is
handed to a whole scan, through the library and through ``oceanscan scan``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
import zarr

from oceanscan.cli import main
from oceanscan.errors import BundleError
from oceanscan.model import AttentionUNet, save_bundle
from oceanscan.scan.config import ScanConfig
from oceanscan.scan.pipeline import scan_scenes
from oceanscan.scan.store import create_scene, open_root, read_scene_attrs, store_url
from oceanscan.scene import scene_key
from oceanscan.stac import Rejected
from tests.helpers.bundles import save_tiny_bundle
from tests.helpers.scenes import scene_spec, write_scene

HOSTILE_IDS = (
    "../../escaped",
    "../scenes.zarr/../../escaped2",
    "/etc/oceanscan-owned",
    "..",
    "a/../../b",
    "..\\..\\windows",
    "scene\x00nul",
    ".hidden",
    "zarr.json",
)


def _files_outside(base: Path, root: Path) -> list[Path]:
    """Every file under ``base`` that is not under ``root`` (the scan root)."""
    return [p for p in base.rglob("*") if p.is_file() and root not in p.parents]


def _scene_dirs(root: Path) -> set[str]:
    scenes = Path(store_url(str(root))) / "scenes"
    return {p.name for p in scenes.iterdir() if p.is_dir()}


def test_hostile_ids_cannot_leave_their_group_at_store_creation(tmp_path):
    root = tmp_path / "base" / "out"
    group = open_root(str(root))
    before = set((tmp_path / "base").rglob("*")) - set(root.rglob("*")) - {root}
    for item_id in HOSTILE_IDS:
        create_scene(group, scene_spec(item_id, shape=(32, 32)), tile_size=32, attrs={})
    assert set((tmp_path / "base").rglob("*")) - set(root.rglob("*")) - {root} == before
    assert not Path("/etc/oceanscan-owned").exists()
    keys = _scene_dirs(root)
    assert keys == {scene_key(i) for i in HOSTILE_IDS}
    assert "_zarr.json" in keys  # not the metadata document of the scenes group
    for key in keys:
        assert "/" not in key and ".." not in key and not key.startswith(".")
    # Each group holds its own item id, and the root group's metadata was not overwritten.
    stored = read_scene_attrs(open_root(str(root)))
    assert {a["item_id"] for a in stored.values()} == set(HOSTILE_IDS)
    reopened = zarr.open_group(store_url(str(root)), mode="r", use_consolidated=False)
    assert reopened.attrs["runs"] == [] and sorted(reopened.group_keys()) == ["scenes"]


@pytest.mark.ray
@pytest.mark.slow
def test_a_scan_of_hostile_ids_writes_only_inside_its_scene_groups(ray_session, tmp_path):
    base = tmp_path / "base"
    bundle = save_tiny_bundle(tmp_path / "bundle")
    good = write_scene(tmp_path / "files", "../../../escaped-scan", size=96, seed=1)
    rejected = Rejected("../../rejected/../../x", "missing band asset(s) ['B8A']")
    root = base / "out"
    config = ScanConfig(
        model=str(bundle),
        root=str(root),
        tile_size_px=32,
        margin_px=8,
        device="cpu",
        progress_bars=False,
    )
    result = scan_scenes([good, rejected], config)
    assert result.counts.complete == [scene_key(good.id)]
    assert list(result.counts.failed) == [rejected.item_id]
    assert _files_outside(base, root) == []
    assert not (tmp_path / "escaped-scan").exists() and not (base / "escaped-scan").exists()
    assert _scene_dirs(root) == {scene_key(good.id), scene_key(rejected.item_id)}
    attrs = read_scene_attrs(open_root(str(root)))
    assert attrs[scene_key(good.id)]["item_id"] == good.id  # the real id is kept, as data
    assert attrs[scene_key(rejected.item_id)]["status"] == "failed"


class _Payload:
    """Unpickling this runs ``touch marker`` (see tests/model/test_bundle.py)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _poisoned_bundle(tmp_path: Path) -> tuple[Path, Path]:
    bundle = save_tiny_bundle(tmp_path / "poisoned")
    marker = tmp_path / "payload-ran"
    state = torch.load(bundle / "model.pt", weights_only=True)
    state["payload"] = _Payload(marker)
    torch.save(state, bundle / "model.pt")
    meta = json.loads((bundle / "model.json").read_text())
    meta["sha256"] = hashlib.sha256((bundle / "model.pt").read_bytes()).hexdigest()
    (bundle / "model.json").write_text(json.dumps(meta))  # the checksum cannot save it
    return bundle, marker


def test_scan_refuses_a_bundle_with_a_pickle_payload(tmp_path, capsys):
    bundle, marker = _poisoned_bundle(tmp_path)
    spec = write_scene(tmp_path / "files", "S2A_MSIL2A_20240301_T31SDA", size=96)
    root = tmp_path / "out"
    config = ScanConfig(
        model=str(bundle),
        root=str(root),
        tile_size_px=32,
        margin_px=8,
        device="cpu",
        progress_bars=False,
    )
    with pytest.raises(BundleError, match="weights_only"):
        scan_scenes([spec], config)  # refused before Ray or the store is touched
    assert not marker.exists() and not root.exists()
    # Through the console script: exit code 2 and a message naming the bundle.
    code = main(
        [
            "scan",
            "--catalog",
            str(tmp_path / "nowhere"),
            "--model",
            str(bundle),
            "--root",
            str(root),
            "--no-progress",
        ]
    )
    assert code == 2
    assert "model.pt" in capsys.readouterr().err
    assert not marker.exists()
    assert not root.exists()  # the bundle is checked before the store is created


def test_scan_refuses_a_missing_catalog_before_writing(tmp_path, capsys):
    code = main(
        [
            "scan",
            "--catalog",
            str(tmp_path / "nowhere"),
            "--model",
            "m",
            "--root",
            str(tmp_path / "out"),
            "--no-progress",
        ]
    )
    assert code != 0


@pytest.mark.ray
@pytest.mark.slow
def test_bundle_with_other_bands_fails_each_scene_clearly(ray_session, tmp_path):
    bands = ("B02", "B03", "B04", "B08")
    model = AttentionUNet(in_channels=len(bands), num_classes=2, base_width=4, dropout=0.0)
    bundle = save_bundle(
        tmp_path / "rgbn",
        model,
        class_mapping="binary",
        threshold=0.5,
        bands=bands,
        normalization={"mean": [0.05] * 4, "std": [0.03] * 4},
    )
    spec = write_scene(tmp_path / "files", "S2A_MSIL2A_20240301_T31SDA", size=96)
    config = ScanConfig(
        model=str(bundle),
        root=str(tmp_path / "out"),
        tile_size_px=32,
        margin_px=8,
        device="cpu",
        progress_bars=False,
    )
    result = scan_scenes([spec], config)
    reason = result.counts.failed[spec.key]
    assert "B01" in reason and "unexpected" in reason
    attrs = read_scene_attrs(open_root(str(tmp_path / "out")))[spec.key]
    assert attrs["status"] == "failed" and "B12" in attrs["reason"]


SCAN_CASES = [
    ("model: [unclosed\nroot: out\n", "scan.yaml"),
    ("model: m\nroot: out\ntile_size_px: 100\n", "tile_size_px"),
    ("model: m\nroot: out\nmargin_px: -4\n", "margin_px"),
    ("model: m\nroot: out\nworkers: 0\n", "workers"),
    ("model: m\nroot: out\nbatch_size: many\n", "batch_size"),
    ("model: m\nroot: out\ntile_size: 64\n", "tile_size"),
    ("model: m\nroot: out\ndevice: tpu\n", "device"),
    ("model: m\n", "root"),  # the model has a default (the shipped bundle), the root has none
    ("model: m\nroot: out\nland_buffer_m: -5\n", "land_buffer_m"),
    ("- just\n- a list\n", "scan.yaml"),
    (
        (
            "model: m\nroot: out\nregions:\n  - name: r\n    bbox: [0, 0, 200, 10]\n"
            "    start: 2025-01-01\n"
        ),
        "bbox",
    ),
    (
        (
            "model: m\nroot: out\nregions:\n  - name: r\n    bbox: [0, 0, 10, 10]\n"
            "    start: 2025-01-01\n    max_cloud_cover: 150\n"
        ),
        "max_cloud_cover",
    ),
    (
        (
            "model: m\nroot: out\nregions:\n  - name: ../r\n    bbox: [0, 0, 10, 10]\n"
            "    start: 2025-01-01\n"
        ),
        "name",
    ),
]


@pytest.mark.parametrize(("text", "field"), SCAN_CASES)
def test_bad_scan_config_exits_2_naming_the_field(tmp_path, capsys, text, field):
    path = tmp_path / "scan.yaml"
    path.write_text(text)
    assert main(["scan", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("oceanscan scan: error:") and field in err, err
    assert not (tmp_path / "out").exists()


TRAIN_CASES = [
    ("data_root: d\nout_dir: o\nepochs: [1\n", "train.yaml"),
    ("data_root: d\nout_dir: o\nepochs: 0\n", "epochs"),
    ("data_root: d\nout_dir: o\nlr: -0.1\n", "lr"),
    ("data_root: d\nout_dir: o\ndropout: 1.5\n", "dropout"),
    ("data_root: d\nout_dir: o\nbatchsize: 4\n", "batchsize"),
    ("data_root: d\nout_dir: o\nrun_name: ../../elsewhere\n", "run_name"),
    ("out_dir: o\n", "data_root"),
    ("just a string\n", "train.yaml"),
]


@pytest.mark.parametrize(("text", "field"), TRAIN_CASES)
def test_bad_train_config_exits_2_naming_the_field(tmp_path, capsys, text, field):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    assert main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("oceanscan train: error:") and field in err, err
