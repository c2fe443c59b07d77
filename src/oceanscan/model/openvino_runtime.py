"""The folded network compiled by OpenVINO, the CPU runtime of scans.

On a CPU, OpenVINO's graph compiler runs the attention U-Net faster than eager PyTorch on the
same weights and in the same float32 arithmetic: it fuses each convolution with its activation
and keeps the feature maps in its own blocked layout between them. Measured on this project's
2-core AMD EPYC (width 8, one 576 px scan tile, OpenVINO 2026.4, torch 2.13): 0.30 s against
0.37 s on one thread, 0.165 s against 0.23 s on two. Its logits differ from torch's by at most
~3e-6, less than BatchNorm folding moved them.

The network is traced once by OpenVINO's PyTorch frontend (3 s for the width-8 network) and the
result is kept on disk (:func:`oceanscan.cache.cache_dir`) under the bundle's weights digest, so
a later scan, or the next actor on the same node, only reads it back (0.05 s). Shapes are left
dynamic: one compiled model serves the full tiles and the smaller ones at scene edges. Two
processes under one-thread actors on this CPU: 0.19 s a tile together against 0.28 s for torch
(``predict_proba``, input transform included), the gap that matters to a scan.

OpenVINO is an optional dependency (``pip install 'oceanscan[openvino]'``):
:func:`openvino_available` says whether it can be imported, and everything else in oceanscan
runs on torch alone. Importing it starts OpenVINO's anonymous usage telemetry to Intel unless
the machine has opted out (``opt_in_out --opt_out``, or ``CI=true``); docs/scan.md says so
where it recommends it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from oceanscan.cache import cache_dir

__all__ = ["OpenVINONetwork", "convert_to_cache", "openvino_available"]

log = logging.getLogger(__name__)

#: Side of the example input the network is traced with; any multiple of 16 works, since the
#: converted model keeps height and width dynamic.
_TRACE_PX = 64


def openvino_available() -> bool:
    """Whether the ``openvino`` package can be imported here."""
    return importlib.util.find_spec("openvino") is not None


class OpenVINONetwork:
    """A callable with the network's contract: ``(N, C, H, W)`` float32 in, logits out.

    Tiles go through one at a time, as :func:`oceanscan.model.inference.forward_tiles` sends
    them through torch on a CPU. Each call makes its own infer request, so one instance can
    serve several threads.

    Args:
        network: the eval-mode network to convert (BatchNorm already folded), on the CPU.
        in_channels: channels of its input.
        key: identifies ``network``'s weights (the bundle's sha256); the converted model is
            cached on disk under it. ``None`` converts without caching.
        threads: inference threads; defaults to torch's current number of threads, which the
            scan's predictor has sized for its actor.
        bf16: bf16 inference precision, on CPUs with bf16 instructions (OpenVINO otherwise
            keeps float32); defaults to False.

    Raises:
        ImportError: when OpenVINO is not installed, saying how to install it.
    """

    def __init__(
        self,
        network: nn.Module,
        in_channels: int,
        *,
        key: str | None,
        threads: int | None = None,
        bf16: bool = False,
    ) -> None:
        try:
            import openvino as ov
        except ImportError as err:  # pragma: no cover - the project installs it
            raise ImportError(
                "the openvino runtime needs OpenVINO: pip install 'oceanscan[openvino]'"
            ) from err
        model = _converted(network, in_channels, key)
        self.threads = threads if threads is not None else torch.get_num_threads()
        self.bf16 = bf16
        self._compiled = ov.Core().compile_model(
            model,
            "CPU",
            {
                "INFERENCE_NUM_THREADS": self.threads,
                # OpenVINO picks bf16 by itself on CPUs with AMX; float32 unless asked.
                "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
                "PERFORMANCE_HINT": "LATENCY",
                # Several single-thread actors share a node: pinning would stack them on the
                # same cores.
                "ENABLE_CPU_PINNING": False,
            },
        )

    def __call__(self, x: Tensor) -> Tensor:
        """Logits ``(N, classes, H, W)`` of ``x`` ``(N, C, H, W)``, computed on the CPU."""
        request = self._compiled.create_infer_request()
        tiles = x.detach().cpu().float().numpy()
        out = [
            np.array(request.infer({0: np.ascontiguousarray(tile[None])})[0], copy=True)
            for tile in tiles
        ]
        return torch.from_numpy(np.concatenate(out))


def convert_to_cache(network: nn.Module, in_channels: int, *, key: str) -> None:
    """Convert ``network`` into the on-disk cache under ``key``, unless it is there already.

    Nothing is compiled: this is the part of :class:`OpenVINONetwork` that every process on a
    node would otherwise repeat, done once ahead of them (a scan's driver does it while Ray
    starts, so its CPU actors only read the result back).

    Raises:
        ImportError: when OpenVINO is not installed.
    """
    path = _cache_path(key, in_channels)
    if not (path.exists() and path.with_suffix(".bin").exists()):
        _converted(network, in_channels, key)


def _cache_path(key: str, in_channels: int) -> Path:
    import openvino as ov

    version = ov.get_version().split("-")[0]
    return cache_dir() / "openvino" / f"{key}-{in_channels}-ov{version}.xml"


def _converted(network: nn.Module, in_channels: int, key: str | None) -> Any:
    """``network`` as an OpenVINO model: read from the cache, or traced (and cached)."""
    import openvino as ov

    path = None if key is None else _cache_path(key, in_channels)
    if path is not None and path.exists() and path.with_suffix(".bin").exists():
        try:
            return ov.Core().read_model(path)
        except RuntimeError as err:  # a damaged cache entry is converted again
            log.warning("could not read the cached network %s (%s); converting again", path, err)
    model = _trace(network.eval(), in_channels)
    if path is not None:
        _save_atomically(model, path)
    return model


def _trace(network: nn.Module, in_channels: int) -> Any:
    """``network`` traced by OpenVINO's PyTorch frontend, with batch, height and width dynamic.

    The frontend is called directly rather than through :func:`openvino.convert_model`, which
    would also start OpenVINO's usage telemetry (and write its files under ``~/intel``) on the
    machines of everyone who scans.
    """
    from openvino.frontend import FrontEndManager
    from openvino.frontend.pytorch.ts_decoder import TorchScriptPythonDecoder

    example = torch.zeros(1, in_channels, _TRACE_PX, _TRACE_PX)
    with torch.inference_mode(), warnings.catch_warnings():
        # The network's own checks of its input shape (``if H % 16: raise``) become constants
        # in the trace; predict_proba pads every input to a multiple of 16 before it gets here.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # torch 2.13 deprecates torch.jit.trace, which this decoder runs; OpenVINO's
        # TorchFXPythonDecoder.from_exported_program is the way off it (twice as slow today).
        warnings.filterwarnings("ignore", "`torch.jit.trace", DeprecationWarning)
        decoder = TorchScriptPythonDecoder(network, example_input=(example,), shared_memory=False)
    frontend = FrontEndManager().load_by_framework("pytorch")
    return frontend.convert(frontend.load(decoder))


def _save_atomically(model: Any, path: Path) -> None:
    """Save ``model`` at ``path`` (and its ``.bin``) so a concurrent reader sees all or nothing.

    A cache that cannot be written (read-only home on a cluster node) is skipped with a warning:
    the scan goes on with the model in memory.
    """
    import openvino as ov

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            staged = Path(tmp) / path.name
            ov.save_model(model, staged, compress_to_fp16=False)
            # The .xml names no weights file: read_model takes the .bin beside it, so the .bin
            # lands first and the .xml, which readers look for, last.
            os.replace(staged.with_suffix(".bin"), path.with_suffix(".bin"))
            os.replace(staged, path)
    except OSError as err:
        log.warning("could not cache the converted network at %s: %s", path, err)
