"""Writing model bundles: the weights and ``model.json``, atomically, with nothing executable.

Bundles are written into a temporary sibling directory and renamed into place, so a crash while
saving leaves the previous bundle (or nothing), never half of one. What the files hold is
described in :mod:`oceanscan.model.bundle_format`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from oceanscan import __version__, sentinel2
from oceanscan import classes as _classes
from oceanscan.data.inputs import input_channels, input_spec
from oceanscan.errors import BundleError
from oceanscan.model.bundle_format import (
    BUNDLE_FORMAT_VERSION,
    META_FILE,
    WEIGHTS_FILE,
    check_inference,
    check_normalization,
    check_threshold,
)
from oceanscan.model.unet import AttentionUNet, count_parameters

__all__ = ["save_bundle", "unwrap_model", "write_bundle_files"]

#: Prefixes that wrappers add to state-dict keys: DistributedDataParallel and torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def unwrap_model(model: nn.Module) -> nn.Module:
    """The bare network inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            inner = getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def _clean_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """CPU copies of the weights with wrapper prefixes stripped from every key."""
    out: dict[str, Tensor] = {}
    for key, value in unwrap_model(model).state_dict().items():
        for prefix in _WRAPPER_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value.detach().to("cpu").contiguous().clone()
    return out


def _json_default(value: Any) -> Any:
    """Make numpy / torch scalars and arrays and paths JSON-serialisable."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serialisable: {value!r}")


def _resolve_arch(model: nn.Module, arch: Mapping[str, Any] | None) -> dict[str, Any]:
    """The full hyperparameters of ``model``, checked against the ``arch`` the caller claims."""
    net = unwrap_model(model)
    if not isinstance(net, AttentionUNet):
        raise TypeError(
            f"model must be an AttentionUNet (or a wrapper of one), got {type(net).__name__}"
        )
    full = dict(net.hparams)
    for key, value in (arch or {}).items():
        if key not in full:
            raise ValueError(f"arch has unknown key {key!r}; AttentionUNet takes {sorted(full)}")
        if full[key] != value:
            raise ValueError(
                f"arch[{key!r}] = {value!r} but the model was built with {full[key]!r}"
            )
    return full


def _write_bundle_files(tmp: Path, weights: bytes, meta: dict[str, Any]) -> None:
    for name, data in ((WEIGHTS_FILE, weights), (META_FILE, json.dumps(meta, indent=2).encode())):
        with open(tmp / name, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def _commit(tmp: Path, directory: Path) -> None:
    """Move the finished ``tmp`` bundle to ``directory``, replacing an older bundle there."""
    if directory.exists() and any(directory.iterdir()):
        if not (directory / META_FILE).is_file():
            raise BundleError(
                f"{directory} exists and is not a model bundle (no {META_FILE}); refusing to "
                "replace it, choose another directory"
            )
        old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, directory)  # onto a missing or empty directory: atomic on POSIX


# save_bundle is over 60 lines: its signature and docstring are 50 of them, the rest one record.
def save_bundle(
    directory: str | Path,
    model: nn.Module,
    *,
    arch: Mapping[str, Any] | None = None,
    class_mapping: str,
    threshold: float,
    bands: Sequence[str] = sentinel2.BANDS,
    normalization: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    data_summary: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    inference: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model bundle (``model.pt`` + ``model.json``) to ``directory``.

    Args:
        directory: local directory to create; an existing bundle there is replaced, atomically.
        model: the trained :class:`AttentionUNet`, bare or wrapped in DDP / torch.compile.
        arch: its constructor arguments (checked against the model); defaults to
            ``model.hparams``.
        class_mapping: the mapping it was trained on, one of
            :data:`oceanscan.classes.CLASS_MAPPINGS`.
        threshold: decision threshold on the positive-class probability, tuned on validation.
        bands: input band names in channel order, defaults to :data:`oceanscan.sentinel2.BANDS`.
        normalization: how reflectance becomes model input (:func:`oceanscan.data.inputs.input_spec`:
            the method, per-band ``mean`` and ``std``, and the method's settings); defaults to
            MARIDA's standardization with its published statistics.
        metrics: training / validation metrics (JSON-serialisable).
        data_summary: what it was trained on (patch counts, class pixel counts...).
        extra: any other JSON-serialisable facts (run name, best epoch...).
        inference: how scans run the network (:data:`~oceanscan.model.bundle_format.DEFAULT_INFERENCE`
            when omitted): ``tta``, the view set averaged (:mod:`oceanscan.model.tta`), which
            ``threshold`` must have been tuned with.

    Returns:
        The bundle directory.

    Raises:
        ValueError: for an unknown class mapping, a threshold outside [0, 1], an unknown
            test-time augmentation, bands or normalization that do not fit the model, or
            ``arch`` values the model was not built with.
        TypeError: for a model that is not an AttentionUNet or non-serialisable metadata.
        BundleError: if ``directory`` exists, is not empty and holds no bundle.
    """
    full_arch = _resolve_arch(model, arch)
    names = _classes.class_names(class_mapping)  # type: ignore[arg-type]  # validates the name
    if full_arch["num_classes"] != len(names):
        raise ValueError(
            f"model has {full_arch['num_classes']} classes but class mapping {class_mapping!r} "
            f"has {len(names)}: {names}"
        )
    bands = tuple(bands)
    norm = _check_inputs(bands, normalization, full_arch["in_channels"])
    buffer = io.BytesIO()
    torch.save(_clean_state_dict(model), buffer)
    weights = buffer.getvalue()
    sha256 = hashlib.sha256(weights).hexdigest()
    meta: dict[str, Any] = {
        "format_version": BUNDLE_FORMAT_VERSION,
        "architecture": {
            "name": type(unwrap_model(model)).__name__,
            "hyperparameters": full_arch,
            "parameters": count_parameters(unwrap_model(model), trainable_only=False),
        },
        "bands": list(bands),
        "normalization": norm,
        "class_mapping": class_mapping,
        "class_names": list(names),
        "positive_class": _classes.positive_class(class_mapping),  # type: ignore[arg-type]
        "threshold": check_threshold(threshold),
        "inference": check_inference(inference),
        "metrics": dict(metrics or {}),
        "data_summary": dict(data_summary or {}),
        "extra": dict(extra or {}),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "oceanscan_version": __version__,
        "sha256": sha256,
    }
    return write_bundle_files(directory, weights, meta)


def _check_inputs(
    bands: tuple[str, ...], normalization: Mapping[str, Any] | None, in_channels: int
) -> dict[str, Any]:
    """The checked normalization of ``bands``, which must make the model's ``in_channels``."""
    if len(set(bands)) != len(bands):
        raise ValueError(f"bands must be distinct names, got {bands}")
    norm_in = dict(normalization) if normalization is not None else input_spec("standardize")
    method = norm_in.get("method", "standardize")
    expected = input_channels(method, len(bands))
    if expected != in_channels:
        raise ValueError(
            f"{len(bands)} bands under input method {method!r} make {expected} input "
            f"channels, but the model takes {in_channels}; bands: {bands}"
        )
    return check_normalization(norm_in, len(bands))


def write_bundle_files(directory: str | Path, weights: bytes, meta: Mapping[str, Any]) -> Path:
    """Write ``weights`` (a saved state dict) and ``meta`` as the bundle ``directory``, atomically.

    The one place bundle files are written; :func:`save_bundle` builds their content from a model,
    :func:`oceanscan.model.tuning.retune_bundle` reuses a bundle's weights byte for byte.

    Raises:
        TypeError: for metadata that is not JSON-serialisable.
        BundleError: if ``directory`` exists, is not empty and holds no bundle.
    """
    directory = Path(directory).absolute()
    # Round-trip through JSON now so a bad value fails before anything touches the disk.
    meta = json.loads(json.dumps(dict(meta), default=_json_default, allow_nan=True))
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        _write_bundle_files(tmp, weights, meta)
        _commit(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory
