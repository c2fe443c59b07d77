import pytest
import torch

from oceanscan.data.transforms import RandomFlipRotate, flip_rotate


def _sample(h=5, w=5):
    mask = torch.arange(h * w).reshape(h, w)
    image = torch.stack([mask.float(), -mask.float(), torch.zeros(h, w)])
    return {"image": image, "mask": mask, "id": "x"}


def test_image_and_mask_move_together():
    aug = RandomFlipRotate()
    torch.manual_seed(0)
    for _ in range(30):
        out = aug(_sample())
        assert torch.equal(out["image"][0], out["mask"].float())
        assert torch.equal(out["image"][1], -out["mask"].float())
        assert out["id"] == "x"
        assert sorted(out["mask"].flatten().tolist()) == list(range(25))  # a permutation


def test_all_eight_dihedral_outcomes_appear_uniformly():
    aug = RandomFlipRotate()
    torch.manual_seed(123)
    seen: dict[tuple[int, ...], int] = {}
    for _ in range(800):
        key = tuple(aug(_sample())["mask"].flatten().tolist())
        seen[key] = seen.get(key, 0) + 1
    assert len(seen) == 8
    assert min(seen.values()) > 60  # about 100 each


def test_draws_follow_torch_seed_and_generator():
    aug = RandomFlipRotate()
    torch.manual_seed(7)
    a = [aug(_sample())["mask"] for _ in range(10)]
    torch.manual_seed(7)
    b = [aug(_sample())["mask"] for _ in range(10)]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    c = [RandomFlipRotate(generator=g1)(_sample())["mask"] for _ in range(5)]
    d = [RandomFlipRotate(generator=g2)(_sample())["mask"] for _ in range(5)]
    assert all(torch.equal(x, y) for x, y in zip(c, d, strict=True))


def test_flip_rotate_elements():
    s = _sample(2, 3)
    m = s["mask"]
    assert torch.equal(flip_rotate(s, hflip=True, vflip=False, k=0)["mask"], m.flip(-1))
    assert torch.equal(flip_rotate(s, hflip=False, vflip=True, k=0)["mask"], m.flip(-2))
    rot = flip_rotate(s, hflip=False, vflip=False, k=1)
    assert rot["mask"].shape == (3, 2) and rot["image"].shape == (3, 3, 2)
    assert torch.equal(rot["mask"], torch.rot90(m, 1))
    # both flips equal a half turn
    both = flip_rotate(s, hflip=True, vflip=True, k=0)["mask"]
    assert torch.equal(both, flip_rotate(s, hflip=False, vflip=False, k=2)["mask"])
    assert s["mask"] is m  # the input sample is left alone


def test_invalid_arguments():
    with pytest.raises(ValueError, match="quarter turns"):
        flip_rotate(_sample(), hflip=False, vflip=False, k=4)
    with pytest.raises(ValueError, match="p_hflip"):
        RandomFlipRotate(p_hflip=1.5)
    bad = {"image": torch.zeros(3, 4, 5), "mask": torch.zeros(5, 4)}
    with pytest.raises(ValueError, match="differ"):
        flip_rotate(bad, hflip=True, vflip=False, k=0)
