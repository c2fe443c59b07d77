"""marinedebrisdetector's ``ScenePredictor``, and oceanscan's bundle behind its model interface.

Used by ``benchmarks/vs_marinedebrisdetector.py``. marinedebrisdetector (Russwurm et al. 2023,
PyPI ``marinedebrisdetector``) is installed without its dependencies (scripts/setup:
``pip install --no-deps marinedebrisdetector==0.0.2``): its package imports its CLI and training
stack (pytorch-lightning, wandb, torchvision) on import, while its scene predictor needs only
torch, rasterio, numpy and scipy.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings
from pathlib import Path
from typing import Any

#: marinedebrisdetector's ``L2ABANDS`` (data/floatingobjects.py) in oceanscan's band names: the
#: 12 bands, in this order, that its models take.
MDD_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
MDD_VERSION = "0.0.2"
#: The same, in marinedebrisdetector's own names.
_L2A = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12"]


def load_scene_predictor() -> type:
    """marinedebrisdetector's ``ScenePredictor`` class, from its ``predictor.py`` alone.

    The package's ``__init__`` imports its CLI and training stack; ``predictor.py`` needs from the
    package only two band lists and ``get_transform`` (its result is unused by ``predict``, and
    its module imports torchvision), plus ``tqdm`` for a progress bar. Those come from stand-ins
    while the module loads, and only where the real ones are missing for ``tqdm``.

    Raises:
        SystemExit: when marinedebrisdetector is not installed, saying how to install it.
    """
    spec = importlib.util.find_spec("marinedebrisdetector")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"marinedebrisdetector is not installed: pip install --no-deps "
            f"marinedebrisdetector=={MDD_VERSION} (scripts/setup does)"
        )
    source = Path(next(iter(spec.submodule_search_locations))) / "predictor.py"
    stand_ins = {
        "marinedebrisdetector": _module("marinedebrisdetector", __path__=[]),
        "marinedebrisdetector.data": _module(
            "data", L2ABANDS=_L2A, L1CBANDS=[*_L2A[:10], "B10", *_L2A[10:]]
        ),
        "marinedebrisdetector.transforms": _module(
            "transforms", get_transform=lambda *a, **k: None
        ),
    }
    if importlib.util.find_spec("tqdm") is None:
        stand_ins["tqdm"] = _module("tqdm", tqdm=lambda iterable, **_: iterable)
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        module_spec = importlib.util.spec_from_file_location("mdd_predictor", source)
        module = importlib.util.module_from_spec(module_spec)
        with warnings.catch_warnings():  # scipy.ndimage.filters is a deprecated alias
            warnings.simplefilter("ignore", DeprecationWarning)
            module_spec.loader.exec_module(module)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return module.ScenePredictor


def _module(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


def bundle_as_mdd(bundle: Any) -> Any:
    """The bundle's network behind marinedebrisdetector's model interface (see the docstring)."""
    import torch

    from oceanscan.data.inputs import model_input
    from oceanscan.model import DOWNSAMPLING

    if bundle.meta["architecture"]["hyperparameters"]["num_classes"] != 2:
        raise ValueError(f"a binary bundle gives one logit a pixel; {bundle.model_id} is not")
    keep = [MDD_BANDS.index(b) for b in bundle.bands]
    positive = bundle.positive_class

    class BundleAsMdd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = bundle.model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[-1] % DOWNSAMPLING or x.shape[-2] % DOWNSAMPLING:
                raise ValueError(f"tiles must be multiples of {DOWNSAMPLING} px: {x.shape}")
            x = x[:, keep]
            x = model_input(torch.where(x == 0, torch.nan, x), bundle.meta["normalization"])
            logits = self.net(x.contiguous(memory_format=torch.channels_last))
            return (logits[:, positive] - logits[:, 1 - positive]).unsqueeze(1)

    return BundleAsMdd().eval()
