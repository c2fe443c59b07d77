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


def test_cloud_parallax_moves_clouds_not_sea_level_objects():
    from oceanscan.data.radiometry import _cloud_parallax

    image = torch.full((11, 64, 64), 0.02)
    image[:, 20:40, 20:40] = 0.3  # a cloud, bright in the SWIR too
    image[:8, 50, 10:30] += 0.03  # a debris filament: no SWIR excess
    torch.manual_seed(4)
    out = _cloud_parallax(image, 3.0)
    moved = (out - image).abs().sum(dim=(1, 2))
    assert float(moved.max()) > 1.0  # the cloud edges moved in some bands
    torch.testing.assert_close(out[:, 50, 10:30], image[:, 50, 10:30])


def test_cloud_puffs_are_bright_white_and_cast_shadows():
    from oceanscan.data.radiometry import _cloud_puffs

    torch.manual_seed(7)
    image = torch.full((11, 96, 96), 0.02)
    out = _cloud_puffs(image, 3)
    assert float(out.max()) > 0.05  # a cloud core, brighter than any water
    assert float(out.min()) < 0.02  # a shadow somewhere
    brightest = out.sum(dim=0).argmax()
    core = out[:, brightest // 96, brightest % 96]
    assert float(core[BANDS_SWIR].min()) > 0.03  # clouds stay bright in the SWIR, unlike debris


BANDS_SWIR = [9, 10]
