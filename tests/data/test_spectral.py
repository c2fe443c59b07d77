import pytest
import torch

from oceanscan.classes import IGNORE_INDEX
from oceanscan.data.spectral import RandomDebrisSpectrum
from oceanscan.sentinel2 import BANDS


def _sample():
    image = torch.full((11, 64, 64), 0.02)
    mask = torch.zeros(64, 64, dtype=torch.int64)
    image[:, 30, 10:50] += 0.03  # a filament, bright in every band like MARIDA's debris
    mask[30, 10:50] = 1
    mask[31, 10:50] = IGNORE_INDEX  # its unlabelled rim
    image[:, 31, 10:50] += 0.01
    image[:, 5, 5] += 0.05  # a bright negative pixel
    return {"image": image, "mask": mask, "id": "p"}


def test_rescales_debris_and_its_rim_only():
    sample = _sample()
    torch.manual_seed(0)
    out = RandomDebrisSpectrum(p=1.0, strength=(0.5, 0.5), visible=(0.0, 0.0))(sample)
    assert torch.equal(out["mask"], sample["mask"])
    b02, b08 = BANDS.index("B02"), BANDS.index("B08")
    debris = out["image"][:, 30, 20:40]
    assert float((debris[b02] - 0.02).abs().max()) < 0.003  # no visible contrast left
    assert abs(float(debris[b08].mean()) - 0.035) < 0.003  # half the NIR contrast
    assert float(out["image"][b08, 31, 20:40].mean()) < 0.03 - 1e-3  # the rim follows
    assert torch.equal(out["image"][:, 5, 5], sample["image"][:, 5, 5])


def test_leaves_patches_without_debris_alone():
    sample = _sample()
    sample["mask"] = torch.zeros(64, 64, dtype=torch.int64)
    out = RandomDebrisSpectrum(p=1.0)(sample)
    assert out is sample


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="p"):
        RandomDebrisSpectrum(p=1.5)
    with pytest.raises(ValueError, match="strength"):
        RandomDebrisSpectrum(strength=(1.0, 0.5))
