"""A loaded model bundle: score reflectance exactly as training did.

Bundles are written by :mod:`oceanscan.model.export` (layout: :mod:`oceanscan.model.bundle_format`)
and read, verified, by :func:`oceanscan.model.loading.load_bundle`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from oceanscan.data.inputs import input_channels, model_input
from oceanscan.errors import BundleError
from oceanscan.model.inference import (
    Runtime,
    fold_batchnorm,
    forward_tiles,
    prediction_network,
)
from oceanscan.model.spectral_check import SpectralCheck
from oceanscan.model.tta import average_views
from oceanscan.model.unet import DOWNSAMPLING

__all__ = ["ModelBundle"]


@dataclass(frozen=True, eq=False)
class ModelBundle:
    """A loaded model bundle, ready to score reflectance.

    Attributes:
        model: the network, in eval mode.
        meta: the parsed ``model.json``.
        sha256: sha256 of ``model.pt`` (verified on load); identifies the weights in scan outputs.
        threshold: decision threshold on the positive-class probability.
        bands: input band names in channel order.
        model_id: short readable id, ``<architecture>-<first 12 hex digits of sha256>``.
        path: where the bundle was loaded from (a local path or an fsspec URL string).
        tta: the test-time augmentation ``threshold`` was tuned with (``inference.tta`` of
            ``model.json``, :mod:`oceanscan.model.tta`); :meth:`predict_proba` applies it unless
            told otherwise.
        runtime: what :meth:`predict_proba` runs the network on unless told otherwise
            (:meth:`with_runtime`); ``torch`` as loaded.
        bf16: whether :meth:`predict_proba` runs the network in bfloat16 unless told otherwise;
            False as loaded.
        spectral_check: the per-pixel plastic-or-look-alike check :meth:`predict_proba`
            applies to candidate detections (``spectral_check`` of ``model.json``,
            :mod:`oceanscan.model.spectral_check`); None where the bundle has none.
    """

    model: nn.Module
    meta: dict[str, Any]
    sha256: str
    threshold: float
    bands: tuple[str, ...]
    model_id: str
    path: Path | str
    tta: str = "none"
    runtime: Runtime = "torch"
    bf16: bool = False
    spectral_check: SpectralCheck | None = None
    _networks: dict[tuple[str, str, bool], Callable[[Tensor], Tensor]] = field(
        default_factory=dict, init=False, repr=False
    )

    @property
    def class_mapping(self) -> str:
        """The class mapping the model was trained on."""
        return str(self.meta["class_mapping"])

    @property
    def positive_class(self) -> int:
        """Index of the class whose probability :meth:`predict_proba` returns."""
        return int(self.meta["positive_class"])

    @property
    def mean(self) -> npt.NDArray[np.float32]:
        """Per-band normalization mean, in :attr:`bands` order."""
        return np.asarray(self.meta["normalization"]["mean"], dtype=np.float32)

    @property
    def std(self) -> npt.NDArray[np.float32]:
        """Per-band normalization standard deviation, in :attr:`bands` order."""
        return np.asarray(self.meta["normalization"]["std"], dtype=np.float32)

    def check_bands(self, bands: Sequence[str]) -> None:
        """Make sure data with ``bands`` (in this order) can be fed to the model.

        Raises:
            BundleError: naming the missing, unexpected or misordered bands.
        """
        given = tuple(bands)
        if given == self.bands:
            return
        missing = [b for b in self.bands if b not in given]
        unexpected = [b for b in given if b not in self.bands]
        if missing or unexpected:
            detail = f"missing {missing}, unexpected {unexpected}"
        else:
            detail = "same bands in another order"
        raise BundleError(
            f"bundle {self.model_id} expects bands {list(self.bands)}, got {list(given)}: {detail}"
        )

    def predict_proba(
        self,
        reflectance: npt.NDArray[np.floating] | Tensor,
        *,
        device: str | torch.device | None = None,
        autocast_bf16: bool | None = None,
        tta: str | None = None,
        runtime: Runtime | None = None,
    ) -> npt.NDArray[np.float32]:
        """Probability of the positive class per pixel.

        With test-time augmentation, the mean over the views (:func:`oceanscan.model.tta.average_views`)
        of the single-view probabilities described next; with a :attr:`spectral_check`, that
        mean with the candidate pixels checked (:meth:`SpectralCheck.apply`).

        Turns reflectance into model input exactly as training did
        (:func:`oceanscan.data.inputs.model_input` with the bundle's ``normalization``), pads H and W by reflection up to a multiple of 16, runs the model
        under ``torch.inference_mode``, and crops back.

        Args:
            reflectance: ``(N, bands, H, W)`` surface reflectance, NaN where missing.
            device: where to run; defaults to the device of the model's parameters (the
                inference network of :meth:`_network` is built there).
            autocast_bf16: run the network in bfloat16 (torch autocast; OpenVINO's bf16
                precision); the softmax is always float32. Defaults to :attr:`bf16`.
            tta: view set to average (:data:`oceanscan.model.tta.TTA_VIEWS`); defaults to the
                bundle's own (:attr:`tta`), the one its threshold was tuned with.
            runtime: what runs the network: ``torch``, or ``openvino`` (CPU only,
                :mod:`oceanscan.model.openvino_runtime`); defaults to :attr:`runtime`.

        Returns:
            float32 array ``(N, H, W)`` of probabilities in [0, 1].

        Raises:
            ValueError: for an input that is not ``(N, len(bands), H, W)``, a view set that
                is unknown or does not fit its shape, or an unknown runtime or one that cannot
                run on ``device``.
        """
        views = self.tta if tta is None else tta
        bf16 = self.bf16 if autocast_bf16 is None else autocast_bf16
        runtime = self.runtime if runtime is None else runtime

        def predict(view: npt.NDArray[np.floating] | Tensor) -> npt.NDArray[np.float32]:
            return self._predict_view(view, device=device, autocast_bf16=bf16, runtime=runtime)

        if views == "none":
            probability = predict(reflectance)
        else:
            probability = average_views(predict, _host_array(reflectance), views)
        if self.spectral_check is None:
            return probability
        return self.spectral_check.apply(probability, _host_array(reflectance))

    def with_runtime(self, runtime: Runtime, *, bf16: bool = False) -> ModelBundle:
        """This bundle, predicting on ``runtime`` (in bfloat16 when ``bf16``) by default.

        For code that scores through a bundle it is handed, such as the real-sea measurement,
        to run it the way a scan on this machine would.
        """
        return replace(self, runtime=runtime, bf16=bf16)

    def convert_for_openvino(self) -> None:
        """Convert the folded network for OpenVINO into the node's cache; compile nothing.

        Every process that then predicts on the ``openvino`` runtime reads the conversion back
        instead of tracing the network itself: a scan's driver calls this while Ray starts.
        """
        from oceanscan.model.openvino_runtime import convert_to_cache

        convert_to_cache(fold_batchnorm(self.model), self._in_channels, key=self.sha256[:16])

    @property
    def _in_channels(self) -> int:
        return input_channels(self.meta["normalization"]["method"], len(self.bands))

    def _network(
        self, device: torch.device, runtime: Runtime = "torch", bf16: bool = False
    ) -> Callable[[Tensor], Tensor]:
        """What :meth:`predict_proba` runs: :attr:`model` with its BatchNorm folded.

        Built on first use per device, runtime and OpenVINO precision by
        :func:`oceanscan.model.inference.prediction_network`, which also says what it raises.
        """
        key = (str(device), runtime, bf16 and runtime == "openvino")
        if key not in self._networks:
            self._networks[key] = prediction_network(
                self.model,
                device,
                runtime=runtime,
                bf16=bf16,
                in_channels=self._in_channels,
                cache_key=self.sha256[:16],
            )
        return self._networks[key]

    def _predict_view(
        self,
        reflectance: npt.NDArray[np.floating] | Tensor,
        *,
        device: str | torch.device | None,
        autocast_bf16: bool,
        runtime: Runtime,
    ) -> npt.NDArray[np.float32]:
        """One forward pass: the positive-class probability of ``reflectance`` as it is."""
        x = (
            torch.from_numpy(np.asarray(reflectance))
            if not isinstance(reflectance, Tensor)
            else reflectance
        )
        if x.ndim != 4 or x.shape[1] != len(self.bands):
            raise ValueError(
                f"reflectance must be (N, {len(self.bands)}, H, W) in band order "
                f"{list(self.bands)}, "
                f"got shape {tuple(x.shape)}"
            )
        if not (x.is_floating_point()):
            raise ValueError(f"reflectance must be floating point, got {x.dtype}")
        dev = torch.device(device) if device is not None else next(self.model.parameters()).device
        network = self._network(dev, runtime, autocast_bf16)
        # The very function the training datasets call, so scan inputs match training inputs.
        x = model_input(x.to(device=dev, dtype=torch.float32), self.meta["normalization"])
        h, w = x.shape[-2:]
        x = _pad_to_multiple(x, DOWNSAMPLING)
        if runtime == "openvino":  # precision is compiled in; tiles go in as they are
            with torch.inference_mode():
                logits = network(x)
        else:
            with (
                torch.inference_mode(),
                torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast_bf16),
            ):
                logits = forward_tiles(network, x.contiguous(memory_format=torch.channels_last))
        prob = logits.float().softmax(dim=1)[:, self.positive_class]
        top, left = _pad_before(h), _pad_before(w)
        prob = prob[:, top : top + h, left : left + w]
        return prob.cpu().numpy().astype(np.float32, copy=False)


def _host_array(x: npt.NDArray[np.floating] | Tensor) -> npt.NDArray[np.floating]:
    """``x`` as a NumPy array in host memory."""
    return np.asarray(x.cpu() if isinstance(x, Tensor) else x)


def _pad_before(size: int, multiple: int = DOWNSAMPLING) -> int:
    return ((-size) % multiple) // 2


def _pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad H and W of ``x`` up to a multiple, centred, by reflection (replication if too small)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    # Reflection needs the image to be larger than the pad; tiny inputs fall back to replication.
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, pad, mode=mode)
