"""The datasets of a run: the random training crop and the class mapping the splits are read with."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oceanscan.data import MaridaDataset
from oceanscan.synth.patches import write_patches
from oceanscan.train.datasets import RandomCrop


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_patches(tmp_path_factory.mktemp("marida") / "data", 24, size=32, seed=3)


def test_random_crop_keeps_image_and_mask_aligned():
    torch.manual_seed(0)
    image = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 8, 8)
    mask = torch.arange(8 * 8).reshape(8, 8)
    out = RandomCrop(4)({"image": image, "mask": mask, "id": "x"})
    assert out["image"].shape == (2, 4, 4) and out["mask"].shape == (4, 4)
    # the crop of the mask is the crop of band 0 at the same place
    assert torch.equal(out["image"][0].long(), out["mask"])
    with pytest.raises(ValueError, match="crop size"):
        RandomCrop(0)


def test_datasets_see_the_training_mapping(data_dir):
    ds = MaridaDataset(data_dir, "val", mapping="floating")
    assert set(np.unique(ds[0]["mask"].numpy())) <= {-100, 0, 1}


def test_real_material_pastes_follow_the_config(data_dir):
    from oceanscan.data.materials import PasteRealMaterials
    from oceanscan.train.config import TrainConfig
    from oceanscan.train.datasets import build_datasets
    from tests.helpers.shared import shared_path

    cfg = TrainConfig(
        data_root=str(data_dir),
        out_dir="unused",
        real_materials=str(shared_path("real", "duarte2023_train_pixels.csv")),
        real_materials_pastes=9,
        real_materials_plastic_share=0.25,
    )
    train, _ = build_datasets(cfg)
    (paste,) = [s for s in train.transform.steps if isinstance(s, PasteRealMaterials)]
    assert (paste.max_pastes, paste.p_plastic) == (9, 0.25)
