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
        real_materials_weight=8.0,
        real_materials_lookalike_weight=20.0,
        real_materials_min_strength=0.3,
        real_materials_native_resolution=True,
    )
    train, _ = build_datasets(cfg)
    (paste,) = [s for s in train.transform.steps if isinstance(s, PasteRealMaterials)]
    assert (paste.max_pastes, paste.p_plastic) == (9, 0.25)
    assert (paste.weight, paste.lookalike_weight, paste.min_strength) == (8.0, 20.0, 0.3)
    assert paste.native_resolution
    assert train[0]["weight"].shape == train[0]["mask"].shape


def test_debris_colour_options_follow_the_config(data_dir):
    from oceanscan.data.spectral import RandomDebrisSpectrum
    from oceanscan.train.config import TrainConfig
    from oceanscan.train.datasets import build_datasets

    cfg = TrainConfig(
        data_root=str(data_dir),
        out_dir="unused",
        debris_colour_tilt=True,
        debris_min_contrast=0.003,
    )
    train, _ = build_datasets(cfg)
    (spectrum,) = [s for s in train.transform.steps if isinstance(s, RandomDebrisSpectrum)]
    assert (spectrum.tilt, spectrum.min_contrast) == (True, 0.003)
    with pytest.raises(ValueError, match="debris_min_contrast"):
        TrainConfig(data_root=str(data_dir), out_dir="unused", debris_min_contrast=0.0)


def _augmented_config(data_dir, **overrides):
    from oceanscan.train.config import TrainConfig

    fields = {"atmosphere_augment": True, "debris_spectrum_augment": True}
    fields["validate_augmented"] = True
    return TrainConfig(data_root=str(data_dir), out_dir="unused", **{**fields, **overrides})


def test_fixed_draws_repeat_per_patch_and_leave_the_training_draws_alone():
    from oceanscan.train.datasets import FixedDraws

    fixed = FixedDraws(lambda s: {**s, "image": s["image"] + torch.rand(())})
    sample = {"image": torch.zeros(1, 2, 2), "mask": torch.zeros(2, 2), "id": "S2_1-1-19_16PCC_0"}
    torch.manual_seed(5)
    before = torch.get_rng_state()
    first = fixed(sample)["image"]
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(fixed(sample)["image"], first)
    other = fixed({**sample, "id": "S2_1-1-19_16PCC_1"})["image"]
    assert not torch.equal(other, first)
    assert not torch.equal(FixedDraws(fixed.transform, seed=1)(sample)["image"], first)


def test_augmented_validation_is_fixed_and_is_what_threshold_tuning_sees(data_dir):
    from oceanscan.data import labelled_patches
    from oceanscan.data.inputs import model_input
    from oceanscan.train.datasets import build_datasets, validation_transform

    cfg = _augmented_config(data_dir)
    _, val = build_datasets(cfg)
    _, plain = build_datasets(cfg.model_copy(update={"validate_augmented": False}))
    assert val.transform is not None and plain.transform is None
    # augmented: not the stored patch, but the same patch on every epoch
    assert not torch.allclose(val[0]["image"], plain[0]["image"])
    assert torch.equal(val[0]["image"], val[0]["image"])
    # threshold tuning (labelled_patches with the run's validation transform) scores the very
    # patches validation scored, up to the float16 cache
    reflectance, target = next(
        labelled_patches(data_dir, "val", transform=validation_transform(cfg))
    )
    expected = model_input(reflectance, val.normalization)
    assert torch.allclose(val[0]["image"], expected, atol=2e-2)
    assert np.array_equal(target >= 0, val[0]["mask"].numpy() >= 0)


def test_validation_is_as_stored_without_validate_augmented_or_augmentations(data_dir):
    from oceanscan.train.datasets import validation_transform

    assert validation_transform(_augmented_config(data_dir, validate_augmented=False)) is None
    none_to_draw = _augmented_config(
        data_dir, atmosphere_augment=False, debris_spectrum_augment=False
    )
    assert validation_transform(none_to_draw) is None
