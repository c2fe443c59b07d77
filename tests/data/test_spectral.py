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


def _visible_factors(out: dict) -> torch.Tensor:
    """Debris contrast of B01-B04 over the NIR's: the visible factor of each band."""
    debris = out["image"][:, 30, 20:40].mean(dim=1) - 0.02
    return torch.stack([debris[BANDS.index(b)] for b in ("B01", "B02", "B03", "B04")]) / float(
        debris[BANDS.index("B08")]
    )


def test_tilt_draws_blue_and_red_apart_and_interpolates_between():
    spread, untilted = [], []
    for seed in range(20):
        torch.manual_seed(seed)
        f = _visible_factors(RandomDebrisSpectrum(p=1.0, tilt=True)(_sample()))
        # B02 (490 nm) and B03 (560 nm) lie on the line from B01 (443 nm) to B04 (665 nm)
        for band, position in ((1, (490 - 443) / 222), (2, (560 - 443) / 222)):
            assert abs(float(f[band] - (f[0] + (f[3] - f[0]) * position))) < 0.03
        spread.append(float(f[3] - f[0]))
        torch.manual_seed(seed)
        g = _visible_factors(RandomDebrisSpectrum(p=1.0)(_sample()))
        untilted.append(float(g.max() - g.min()))
    assert max(untilted) < 0.02  # one factor for every visible band
    assert min(spread) < -0.3 and max(spread) > 0.3  # falling and rising colours both drawn


def test_min_contrast_unlabels_debris_too_faint_to_see():
    sample = _sample()
    sample["image"][:, 30, 40:50] -= 0.028  # the filament's end: 0.002 above its water
    torch.manual_seed(0)
    out = RandomDebrisSpectrum(p=0.0, min_contrast=0.003)(sample)  # labels only, no rescale
    assert torch.equal(out["image"], sample["image"])
    assert bool((out["mask"][30, 10:40] == 1).all())
    assert bool((out["mask"][30, 40:50] == IGNORE_INDEX).all())
    assert torch.equal(out["mask"][31], sample["mask"][31])  # the rim stays as it was
    torch.manual_seed(0)
    faded = RandomDebrisSpectrum(p=1.0, strength=(0.05, 0.05), min_contrast=0.003)(_sample())
    assert not bool((faded["mask"] == 1).any())  # a twentieth of 0.03 is out of sight


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
