"""The Ray Data predictor: a callable class that scores batches of padded tiles.

Ray Data builds one instance per actor (``map_batches(Predictor, concurrency=...)``), so the
model bundle is loaded once per actor and reused for every batch. The network runs in
``channels_last`` memory format with its BatchNorm folded (:mod:`oceanscan.model.inference`),
in bfloat16 where the hardware computes in it: bf16 autocast on CUDA, and on CPUs with bf16
instructions (AVX512-BF16, AMX) bf16 inference precision, as OpenVINO itself chooses on such CPUs.
On CPU the network is compiled by OpenVINO where that is installed
(:mod:`oceanscan.model.openvino_runtime`: in float32 1.2x the speed of eager torch on one thread,
logits within ~3e-6) and runs in eager torch otherwise.

On CPU the actor sizes its torch threads from its node, its CPUs shared by the scan's actors
(by default one actor per CPU, so one thread each: :func:`oceanscan.scan.execute.predictor_actors`
says why). Ray's own choice would not do: it sets ``OMP_NUM_THREADS=1`` for an actor that
reserves less than one CPU (the predictor reserves 0.75 so reads can always be scheduled beside
it), whatever the node holds.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from oceanscan.scan.tasks import read_batch, write_batch
from oceanscan.scan.tiling import crop_margin

if TYPE_CHECKING:
    from oceanscan.model import ModelBundle

__all__ = [
    "Predictor",
    "convert_ahead",
    "cpu_has_bf16",
    "cpu_threads",
    "resolve_device",
    "resolve_runtime",
]

log = logging.getLogger(__name__)

_converting: dict[str, threading.Thread] = {}
_converting_lock = threading.Lock()


def cpu_threads(threads: int | None, actors: int) -> int:
    """Torch threads of one predictor actor: ``threads``, or this node's CPUs shared by ``actors``.

    Raises:
        ValueError: for fewer than one thread or actor.
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if actors < 1:
        raise ValueError(f"actors must be >= 1, got {actors}")
    return threads if threads is not None else max(1, len(os.sched_getaffinity(0)) // actors)


def cpu_has_bf16() -> bool:
    """Whether this CPU has the bf16 instructions (AVX512-BF16, AMX) ``cpu_bf16`` runs on."""
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_runtime(
    runtime: Literal["auto", "torch", "openvino"], device: str
) -> Literal["torch", "openvino"]:
    """What runs the network on ``device``: ``auto`` means OpenVINO on a CPU where it is installed.

    CUDA always runs torch; ``runtime`` only chooses for the CPU.

    Raises:
        ValueError: for a runtime outside ``auto``, ``torch``, ``openvino``.
        ImportError: for ``openvino`` on a CPU where OpenVINO is not installed.
    """
    from oceanscan.model.openvino_runtime import openvino_available

    allowed = ("auto", "torch", "openvino")
    if runtime not in allowed:
        raise ValueError(f"cpu_runtime must be one of {allowed}, got {runtime!r}")
    if device != "cpu" or runtime == "torch":
        return "torch"
    if runtime == "openvino" and not openvino_available():
        raise ImportError(
            "cpu_runtime 'openvino' needs OpenVINO: pip install 'oceanscan[openvino]'"
        )
    return "openvino" if openvino_available() else "torch"


def convert_ahead(
    bundle: ModelBundle,
    *,
    device: Literal["auto", "cpu", "cuda"],
    cpu_runtime: Literal["auto", "torch", "openvino"],
) -> threading.Thread | None:
    """Convert ``bundle``'s network for the CPU actors' OpenVINO runtime, in the background.

    Started before Ray (about 10 s on a 2-core machine), the conversion (3 to 7 s there) is in
    this node's cache when the predictor actors start, and each reads it back in 0.05 s instead
    of all of them tracing the same network at once on the cores the scan is waiting for. The
    caller joins the thread before the actors start. Nothing happens (None) for a CUDA scan, or
    where the actors would run torch; a conversion of the same bundle still running is
    returned rather than started twice. A failure is logged, not raised: each actor then
    converts for itself and reports what goes wrong there.

    ``device`` and ``cpu_runtime`` are the scan's (:class:`~oceanscan.scan.config.ScanConfig`);
    ``auto`` on a driver that sees a GPU counts as a CUDA scan.
    """
    import torch

    from oceanscan.model.openvino_runtime import openvino_available

    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        return None
    if cpu_runtime == "torch" or not openvino_available():
        return None
    with _converting_lock:
        thread = _converting.get(bundle.sha256)
        if thread is None or not thread.is_alive():
            thread = threading.Thread(
                target=_convert, args=(bundle,), name="oceanscan-convert", daemon=True
            )
            thread.start()
            _converting[bundle.sha256] = thread
    return thread


def _convert(bundle: ModelBundle) -> None:
    try:
        bundle.convert_for_openvino()
    except Exception:  # the actors convert for themselves, and fail there with the cause
        log.warning(
            "converting %s for OpenVINO ahead of the scan failed", bundle.model_id, exc_info=True
        )


def resolve_device(device: Literal["auto", "cpu", "cuda"]) -> str:
    """Pick the torch device: ``auto`` means CUDA when this process sees a GPU.

    Raises:
        ValueError: for a device outside ``auto``, ``cpu``, ``cuda``, or ``cuda`` without a GPU.
    """
    import torch

    allowed = ("auto", "cpu", "cuda")
    if device not in allowed:
        raise ValueError(f"device must be one of {allowed}, got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA GPU in this process")
    return device


class Predictor:
    """Score padded tiles with a model bundle; crop predictions to the core square.

    Input batch columns (numpy): ``reflectance`` (N, 11, S, S) float32 with NaN at nodata, where
    ``S = tile_size + 2 * margin``; ``error`` (N,) str, empty for tiles that were read. Output:
    the input's scalar columns, plus ``probability`` (N, C, C) float32 (the core square; NaN for
    tiles whose read failed). ``reflectance`` is dropped so it does not travel further. With
    ``read``, the input is tile rows alone and the actor reads them first; with ``write``, the
    output is the per-tile summaries of :func:`oceanscan.scan.tasks.write_tile` instead.

    Args:
        bundle_dir: the model bundle directory.
        margin: context margin M in pixels (cropped off).
        tile_size: core side C in pixels.
        device: ``auto``, ``cpu`` or ``cuda``; defaults to ``auto``.
        autocast_bf16: bf16 autocast on CUDA; defaults to True.
        cpu_bf16: bf16 on a CPU with bf16 instructions (OpenVINO's bf16 precision, or torch
            autocast); ignored on other CPUs; defaults to True.
        cpu_runtime: what runs the network on a CPU (:func:`resolve_runtime`); defaults to
            ``auto``, OpenVINO where it is installed.
        tta: the views averaged (:data:`oceanscan.model.tta.TTA_VIEWS`); defaults to ``none``.
        threads: torch threads on CPU; defaults to the node's CPUs shared by ``actors``
            (:func:`cpu_threads`).
        actors: predictor actors of the scan, for the default ``threads``.
        read: when given, batches hold tile rows only and the actor reads their tiles itself
            (:func:`oceanscan.scan.tasks.read_batch` with these keyword arguments).
        write: when given, the actor writes the tiles it scored itself and returns their
            summaries alone (:func:`oceanscan.scan.tasks.write_batch` with these keyword
            arguments).
    """

    def __init__(
        self,
        bundle_dir: str,
        *,
        margin: int,
        tile_size: int,
        device: Literal["auto", "cpu", "cuda"] = "auto",
        autocast_bf16: bool = True,
        cpu_bf16: bool = True,
        cpu_runtime: Literal["auto", "torch", "openvino"] = "auto",
        tta: str = "none",
        threads: int | None = None,
        actors: int = 1,
        read: Mapping[str, Any] | None = None,
        write: Mapping[str, Any] | None = None,
    ) -> None:
        import torch

        from oceanscan.allocator import keep_freed_memory
        from oceanscan.model import load_bundle

        keep_freed_memory()  # every batch allocates the same arrays again
        self.device = resolve_device(device)
        if self.device == "cpu":
            torch.set_num_threads(cpu_threads(threads, actors))
        self.bundle = load_bundle(bundle_dir, map_location=self.device)
        if self.device == "cuda":
            self.autocast_bf16 = autocast_bf16
        else:
            self.autocast_bf16 = cpu_bf16 and cpu_has_bf16()
        self.runtime = resolve_runtime(cpu_runtime, self.device)
        self.margin = margin
        self.tile_size = tile_size
        self.tta = tta
        self.read = dict(read) if read is not None else None
        self.write = dict(write) if write is not None else None

    def _predict(self, tiles: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        # predict_proba moves the tiles to the device itself, view by view under test-time
        # augmentation, so they are not copied there (and back for the views) first.
        return self.bundle.predict_proba(
            tiles,
            device=self.device,
            autocast_bf16=self.autocast_bf16,
            tta=self.tta,
            runtime=self.runtime,
        )

    def __call__(self, batch: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """Score one batch (see the class docstring for the columns)."""
        if self.read is not None:
            batch = read_batch(batch, **self.read)
        tiles = np.asarray(batch.pop("reflectance"), dtype=np.float32)
        errors = batch.get("error")
        ok = np.ones(len(tiles), dtype=bool) if errors is None else (errors == "")
        c = self.tile_size
        probability = np.full((len(tiles), c, c), np.nan, dtype=np.float32)
        if ok.any():
            good = np.ascontiguousarray(tiles[ok])
            prob = self._predict(good)
            probability[ok] = crop_margin(prob, self.margin)
        batch["probability"] = probability
        return batch if self.write is None else write_batch(batch, **self.write)
