"""Choosing a bundle's decision threshold again: another debris fraction, another way of running it.

Training tunes the threshold on its validation split, for the network run once per patch. Two
things a user may change afterwards move the best threshold, and this module re-tunes it for them
on labelled patches, without training again:

* test-time augmentation (:mod:`oceanscan.model.tta`): averaged views are smoother, so the
  probabilities of both debris and water move;
* the debris fraction of the sea the bundle will scan: real seas are clean almost everywhere
  (marinedebrisdetector marks about 0.07 % of Durban's water on the 2019-04-24 flood-debris event,
  Rußwurm et al. 2023), far below the 3-4 % of debris in MARIDA-style patches, so a threshold
  chosen for F1 on patches flags far too much of a real sea. The threshold is chosen for F1 as if
  that fraction of the pixels were debris (:meth:`oceanscan.metrics.ThresholdSweep.curve`).

The new bundle holds the same weights file (same sha256 and model id), the chosen threshold, the view set in
``inference.tta`` and how the choice was made in ``extra.threshold_tuning``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import fsspec
import torch

from oceanscan.classes import IGNORE_INDEX
from oceanscan.data.marida import Split, labelled_batches
from oceanscan.metrics import ThresholdSweep
from oceanscan.model.bundle import ModelBundle
from oceanscan.model.bundle_format import WEIGHTS_FILE, check_inference
from oceanscan.model.export import write_bundle_files
from oceanscan.model.loading import load_bundle
from oceanscan.model.spectral_check import SpectralCheck, fit_spectral_check
from oceanscan.model.tta import check_views

__all__ = ["ThresholdChoice", "add_spectral_check", "retune_bundle", "tune_threshold"]


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold chosen on labelled patches, and what it was chosen for.

    Attributes:
        threshold: the probability at and above which a pixel is flagged.
        f1: the F1 at that threshold, at ``debris_fraction`` when one is given.
        debris_fraction: the fraction of debris pixels the choice assumes; None: as labelled.
        tta: the view set the probabilities were averaged over.
        data_root: the MARIDA-layout directory.
        split: its split the threshold was chosen on.
        patches: patches scored.
        debris_pixels: labelled debris pixels among them.
        augmented: whether the patches carried a training run's fixed validation draws
            (:func:`oceanscan.train.datasets.validation_transform`) rather than being as stored.
    """

    threshold: float
    f1: float
    debris_fraction: float | None
    tta: str
    data_root: str
    split: str
    patches: int
    debris_pixels: int
    augmented: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


Transform = Callable[[dict[str, Any]], dict[str, Any]]


def _sweep(
    bundle: ModelBundle,
    root: str | Path,
    split: Split,
    tta: str,
    batch_size: int,
    transform: Transform | None,
) -> tuple[ThresholdSweep, int]:
    """Counts of labelled pixels per probability bin, over ``split``; and the patch count."""
    mapping = str(bundle.meta.get("class_mapping", "binary"))
    sweep = ThresholdSweep(positive=1, ignore_index=IGNORE_INDEX)
    patches = 0
    batches = labelled_batches(root, split, mapping, batch_size=batch_size, transform=transform)  # type: ignore[arg-type]
    for images, targets in batches:
        prob = bundle.predict_proba(images, tta=tta)
        sweep.update(torch.from_numpy(prob), torch.from_numpy(targets))
        patches += len(images)
    return sweep, patches


def tune_threshold(
    bundle: ModelBundle,
    root: str | Path,
    split: Split = "val",
    *,
    debris_fraction: float | None = 1e-3,
    tta: str | None = None,
    batch_size: int = 16,
    transform: Transform | None = None,
) -> ThresholdChoice:
    """The threshold with the best F1 on ``split``, for ``tta`` and ``debris_fraction``.

    Args:
        bundle: the model bundle.
        root: MARIDA-layout directory with ``split``.
        split: the split to choose on (default val: never the test split you report).
        debris_fraction: tune as if this fraction of pixels were debris (default 1e-3); None
            tunes on the patches' own mix.
        tta: view set (:data:`oceanscan.model.tta.TTA_VIEWS`); defaults to the bundle's.
        batch_size: patches per forward pass.
        transform: applied to each patch first: the training run's
            :func:`~oceanscan.train.datasets.validation_transform`, so that the threshold is
            chosen on the patches the run validated on; default none (the split as stored).

    Returns:
        The choice, with its F1 and what it assumed.

    Raises:
        ValueError: for an unknown view set, a fraction outside (0, 1), or a split without
            labelled debris (no threshold can be chosen).
        DatasetNotFoundError: when the split's files are missing.
    """
    views = check_views(bundle.tta if tta is None else tta)
    sweep, patches = _sweep(bundle, root, split, views, batch_size, transform)
    if sweep.num_positive == 0:
        raise ValueError(f"split {split!r} of {root} holds no labelled debris pixel to tune on")
    threshold, f1 = sweep.best_threshold(prevalence=debris_fraction)
    return ThresholdChoice(
        threshold=float(threshold),
        f1=float(f1),
        debris_fraction=debris_fraction,
        tta=views,
        data_root=str(root),
        split=split,
        patches=patches,
        debris_pixels=int(sweep.num_positive),
        augmented=transform is not None,
    )


def retune_bundle(
    bundle_dir: str | Path,
    out_dir: str | Path,
    root: str | Path,
    split: Split = "val",
    *,
    debris_fraction: float | None = 1e-3,
    tta: str = "none",
    batch_size: int = 16,
    transform: Transform | None = None,
) -> tuple[Path, ThresholdChoice]:
    """Write ``bundle_dir``'s weights to ``out_dir`` with a threshold tuned for ``tta``.

    ``out_dir`` may be ``bundle_dir`` itself: the bundle is replaced atomically.

    Returns:
        The new bundle directory and the choice it records.

    Raises:
        As :func:`tune_threshold`, and :class:`~oceanscan.errors.BundleError` for a bundle that
        does not load.
    """
    bundle = load_bundle(bundle_dir)
    choice = tune_threshold(
        bundle,
        root,
        split,
        debris_fraction=debris_fraction,
        tta=tta,
        batch_size=batch_size,
        transform=transform,
    )
    weights = _read_weights(bundle)
    meta = dict(bundle.meta)
    meta.update(
        threshold=choice.threshold,
        inference=check_inference({**meta.get("inference", {}), "tta": choice.tta}),
        extra={**meta.get("extra", {}), "threshold_tuning": choice.as_dict()},
    )
    out = write_bundle_files(out_dir, weights, meta)
    load_bundle(out)  # the written bundle verifies: same sha256, a threshold in [0, 1]
    return out, choice


def add_spectral_check(
    bundle_dir: str | Path, out_dir: str | Path, pixels: str | Path
) -> tuple[Path, SpectralCheck]:
    """Write ``bundle_dir``'s weights to ``out_dir`` with a spectral check fitted on ``pixels``.

    ``pixels`` is the Duarte and Azevedo (2023) table; only its training split is fitted on
    (:func:`oceanscan.model.spectral_check.fit_spectral_check`). ``out_dir`` may be
    ``bundle_dir`` itself. The threshold is left as it is: tune it again afterwards
    (:func:`retune_bundle`) so that it is chosen for the bundle as it now runs.

    Raises:
        BundleError: for a bundle that does not load, or one whose bands are not MARIDA's.
        ValueError: for a pixel table without plastic, water or look-alikes in training.
    """
    from oceanscan.realsea.duarte import load_duarte_pixels

    bundle = load_bundle(bundle_dir)
    check = fit_spectral_check(load_duarte_pixels(pixels))
    meta = {**bundle.meta, "spectral_check": check.to_meta()}
    out = write_bundle_files(out_dir, _read_weights(bundle), meta)
    load_bundle(out)  # the written bundle verifies, its check included
    return out, check


def _read_weights(bundle: ModelBundle) -> bytes:
    """The bundle's weights file, byte for byte (so its sha256 and model id stay)."""
    with fsspec.open(f"{str(bundle.path).rstrip('/')}/{WEIGHTS_FILE}", "rb") as f:
        return f.read()  # type: ignore[no-any-return]
