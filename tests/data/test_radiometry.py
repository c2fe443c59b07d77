import numpy as np
import pytest
import torch

from oceanscan.data.radiometry import RandomAtmosphere
from oceanscan.sentinel2 import fdi


def _sample():
    torch.manual_seed(0)
    image = torch.full((11, 64, 64), 0.02)
    image[:, 0, 0] = float("nan")
    mask = torch.randint(0, 2, (64, 64))
    return {"image": image, "mask": mask, "id": "p"}


def test_changes_reflectance_not_labels_and_keeps_nodata():
    sample = _sample()
    torch.manual_seed(1)
    out = RandomAtmosphere()(sample)
    assert torch.equal(out["mask"], sample["mask"])
    assert torch.isnan(out["image"][:, 0, 0]).all()
    assert not torch.allclose(out["image"][:, 1:, 1:], sample["image"][:, 1:, 1:])
    assert float(torch.nan_to_num(out["image"], nan=1.0).min()) >= 0.0


def test_repeatable_under_the_same_seed():
    a = RandomAtmosphere()
    torch.manual_seed(5)
    first = a(_sample())["image"]
    torch.manual_seed(5)
    second = a(_sample())["image"]
    assert torch.equal(torch.nan_to_num(first), torch.nan_to_num(second))


def test_haze_falls_with_wavelength_and_glint_is_flat():
    torch.manual_seed(2)
    haze = RandomAtmosphere(p_glint=0.0, noise=0.0, gain=(1.0, 1.0), p_haze=1.0, max_haze=0.05)
    out = haze(_sample())["image"][:, 1:, 1:]
    offset = out.mean(dim=(1, 2)) - 0.02
    assert offset[1] > offset[-1] > 0  # B02 more than B12
    torch.manual_seed(3)
    glint = RandomAtmosphere(p_haze=0.0, noise=0.0, gain=(1.0, 1.0), p_glint=1.0)
    img = glint(_sample())["image"][:, 1:, 1:].numpy()
    # a flat offset leaves FDI of water nearly unchanged: glint does not look like debris
    assert abs(float(np.median(fdi(img)) - fdi(np.full((11, 1, 1), 0.02))[0, 0])) < 0.01


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="p_haze"):
        RandomAtmosphere(p_haze=2.0)
    with pytest.raises(ValueError, match="noise"):
        RandomAtmosphere(noise=-1.0)
    with pytest.raises(ValueError, match="11"):
        RandomAtmosphere()({"image": torch.zeros(3, 8, 8), "mask": torch.zeros(8, 8)})
