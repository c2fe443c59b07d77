import numpy as np
import pytest
import torch

from oceanscan.data.materials import PasteRealMaterials
from oceanscan.realsea.duarte import LOOKALIKES, PLASTIC, load_duarte_pixels
from tests.helpers.shared import shared_path


@pytest.fixture(scope="module")
def pixels():
    return load_duarte_pixels(shared_path("real", "duarte2023_train_pixels.csv"))


def _sample():
    return {
        "image": torch.full((11, 48, 48), 0.01),
        "mask": torch.zeros(48, 48, dtype=torch.int64),
        "id": "p",
    }


def test_pastes_only_training_spectra_and_labels_them(pixels):
    paste = PasteRealMaterials(pixels, max_pastes=8, p_plastic=0.5)
    train = pixels.select(split="train")
    test_only = pixels.select(split="test", label=PLASTIC)
    torch.manual_seed(0)
    seen_debris = seen_negative = 0
    for _ in range(40):
        sample = _sample()
        out = paste(sample)
        changed = (out["image"] != sample["image"]).any(dim=0)
        seen_debris += int((out["mask"] == 1).sum())
        seen_negative += int((changed & (out["mask"] == 0)).sum())
        # a replaced pixel carries a training spectrum exactly, never a held-out one
        for y, x in torch.nonzero(changed)[:5].tolist():
            spectrum = out["image"][:, y, x].numpy()
            if np.isclose(train.reflectance, spectrum, atol=1e-7).all(axis=1).any():
                assert not np.isclose(test_only.reflectance, spectrum, atol=1e-7).all(axis=1).any()
    assert seen_debris > 0 and seen_negative > 0


def test_a_paste_weight_marks_exactly_the_pasted_pixels(pixels):
    paste = PasteRealMaterials(pixels, max_pastes=8, weight=12.0)
    torch.manual_seed(1)
    pasted = 0
    for _ in range(20):
        sample = _sample()
        out = paste(sample)
        # every sample gets a map, so that a batch collates whether or not it was pasted into
        assert out["weight"].shape == (48, 48) and out["weight"].dtype == torch.float32
        changed = (out["image"] != sample["image"]).any(dim=0)
        assert torch.equal(out["weight"] == 12.0, changed)
        assert set(out["weight"].unique().tolist()) <= {1.0, 12.0}
        pasted += int(changed.sum())
    assert pasted > 0
    assert "weight" not in PasteRealMaterials(pixels)(_sample())


def test_plastic_and_lookalikes_can_weigh_apart(pixels):
    paste = PasteRealMaterials(
        pixels, max_pastes=8, p_plastic=0.5, weight=1.0, lookalike_weight=30.0
    )
    torch.manual_seed(2)
    kinds = set()
    for _ in range(20):
        sample = _sample()
        out = paste(sample)
        changed = (out["image"] != sample["image"]).any(dim=0)
        plastic = changed & (out["mask"] == 1)
        lookalike = changed & (out["mask"] == 0)
        assert (out["weight"][plastic] == 1.0).all() and (out["weight"][lookalike] == 30.0).all()
        assert (out["weight"][~changed] == 1.0).all()
        kinds |= {"plastic"} if plastic.any() else set()
        kinds |= {"lookalike"} if lookalike.any() else set()
    assert kinds == {"plastic", "lookalike"}
    for bad in (0.0, -2.0, float("inf")):
        with pytest.raises(ValueError, match="paste weight"):
            PasteRealMaterials(pixels, weight=bad)
        with pytest.raises(ValueError, match="paste weight"):
            PasteRealMaterials(pixels, lookalike_weight=bad)


def test_min_strength_pastes_sub_pixel_mixtures_with_the_patch_water(pixels):
    """Each pasted pixel lies between the patch water and the material, at a share >= min."""
    paste = PasteRealMaterials(pixels, max_pastes=1, p_plastic=0.5, min_strength=0.2)
    water = paste.water.numpy()
    pool = np.concatenate([paste.plastic.numpy(), *(x.numpy() for x in paste.lookalikes)])
    torch.manual_seed(3)
    shares = []
    for _ in range(60):
        sample = {**_sample(), "image": torch.full((11, 48, 48), 0.025)}  # one paste, no clamping
        out = paste(sample)
        changed = (out["image"] != sample["image"]).any(dim=0)
        for y, x in torch.nonzero(changed).tolist():
            delta = out["image"][:, y, x].numpy().astype(np.float64) - 0.025
            # replaced: a (spectrum - patch water); added: a (spectrum - training water)
            for ref in (0.025, water):
                target = pool - ref
                a = (target @ delta) / (target * target).sum(axis=1)
                fit = np.abs(a[:, None] * target - delta).max(axis=1)
                if fit.min() < 1e-5:
                    shares.append(float(a[fit.argmin()]))
                    break
            else:
                raise AssertionError(f"pixel ({y}, {x}) is no mixture of a training spectrum")
    shares = np.array(shares)
    assert shares.min() >= 0.2 - 1e-4 and shares.max() <= 1.0 + 1e-4
    assert (shares < 0.5).mean() > 0.2  # faint mixtures are common, not just whole pixels
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="min_strength"):
            PasteRealMaterials(pixels, min_strength=bad)


def test_native_resolution_dilutes_thin_pastes_in_the_coarse_bands(pixels):
    """A paste seen through 20 m and 60 m detectors: 10 m bands as pasted, coarser ones spread."""
    from oceanscan.sentinel2 import BAND_INFO

    def pasted(native: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(seed)
        paste = PasteRealMaterials(pixels, max_pastes=3, native_resolution=native)
        out = paste({**_sample(), "image": torch.full((11, 48, 48), 0.025)})
        return out["image"] - 0.025, out["mask"]

    checked = 0
    for seed in range(10):
        sharp, mask = pasted(False, seed)
        seen, seen_mask = pasted(True, seed)
        assert torch.equal(mask, seen_mask)  # the same pastes, labelled alike
        if not sharp.abs().sum():
            continue
        for b, info in enumerate(BAND_INFO):
            if info.resolution_m == 10:
                torch.testing.assert_close(seen[b], sharp[b], atol=1e-6, rtol=0)
            else:  # spread over more pixels, its peak lower, its sum about kept
                assert (seen[b].abs() > 1e-6).sum() > (sharp[b].abs() > 1e-6).sum()
                assert seen[b].abs().max() < sharp[b].abs().max()
                assert float(seen[b].sum()) == pytest.approx(float(sharp[b].sum()), rel=0.25)
        checked += 1
    assert checked >= 3


def test_durban_plastic_is_never_pasted(pixels):
    paste = PasteRealMaterials(pixels)
    durban = pixels.location == "Durban"
    assert durban.any()
    pool = paste.plastic.numpy()
    for spectrum in pixels.reflectance[durban]:
        assert not np.isclose(pool, spectrum, atol=1e-7).all(axis=1).any()


def test_split_holds_out_scenes_and_every_class(pixels):
    for label in (PLASTIC, *LOOKALIKES):
        assert len(pixels.select(split="train", label=label)) > 0
        assert len(pixels.select(split="test", label=label)) > 0
    train_scenes = set(
        zip(
            pixels.location[pixels.split == "train"],
            pixels.date[pixels.split == "train"],
            strict=True,
        )
    )
    assert ("Durban", "20190424") not in train_scenes
    plastic_train = pixels.select(split="train", label=PLASTIC)
    plastic_test = pixels.select(split="test", label=PLASTIC)
    assert not set(zip(plastic_train.location, plastic_train.date, strict=True)) & set(
        zip(plastic_test.location, plastic_test.date, strict=True)
    )
