"""Small builders shared by the scan tests: scene specs without files, a tiny model bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from oceanscan.scene import BandAsset, RasterGrid, SceneSpec
from oceanscan.sentinel2 import BANDS


def make_spec(
    item_id: str = "S2A_MSIL2A_20240101T000000_T31UDQ",
    *,
    shape: tuple[int, int] = (130, 150),
    crs: str = "EPSG:32631",
    origin: tuple[float, float] = (500000.0, 5600000.0),
) -> SceneSpec:
    """A SceneSpec on a 10 m UTM grid whose hrefs point nowhere (for layout tests)."""
    grid = RasterGrid(crs, (10.0, 0.0, origin[0], 0.0, -10.0, origin[1]), shape)
    bands = tuple(BandAsset(b, f"/nonexistent/{item_id}/{b}.tif", grid) for b in BANDS)
    return SceneSpec(
        id=item_id,
        collection="sentinel-2-l2a",
        provider="synthetic",
        datetime="2024-01-01T00:00:00.000000Z",
        bands=bands,
        grid=grid,
        scale=1e-4,
        offset=0.0,
        properties={"platform": "sentinel-2a", "s2:mgrs_tile": "31UDQ", "eo:cloud_cover": 5.0},
    )


def save_tiny_bundle(directory: Path, *, threshold: float = 0.2, seed: int = 0) -> Path:
    """A randomly initialised AttentionUNet of base width 4 saved as a bundle.

    Fresh BatchNorm statistics (mean 0, variance 1) let activations collapse in a random
    network, which then predicts one constant everywhere; a few forward passes in train mode
    on standard-normal inputs (what normalized reflectance looks like) set realistic running
    statistics, and a steeper head spreads the probabilities, so tests see spatially varying
    output (roughly 0.0 to 0.4 on the test scenes; hence the default threshold of 0.2).
    """
    import torch

    from oceanscan.model import AttentionUNet, save_bundle

    torch.manual_seed(seed)
    model = AttentionUNet(in_channels=11, num_classes=2, base_width=4, dropout=0.0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration passes
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 11, 64, 64))
        model.head.weight.mul_(4.0)
    model.eval()
    return save_bundle(directory, model, class_mapping="binary", threshold=threshold)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny bundle for the whole session."""
    return save_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")
