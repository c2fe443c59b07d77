"""Reading MARIDA-layout directories: split files, patches, and a torch Dataset of them.

The layout is MARIDA's own (Kikaki et al. 2022, PLoS ONE 17(1): e0262247), so the real dataset and
the synthetic sets that ``oceanscan synth patches`` writes are read by the same code::

    <root>/patches/S2_<d-m-yy>_<TILE>/S2_<d-m-yy>_<TILE>_<crop>.tif       11-band float reflectance
    <root>/patches/S2_<d-m-yy>_<TILE>/S2_<d-m-yy>_<TILE>_<crop>_cl.tif    class ids (0 unlabelled)
    <root>/patches/S2_<d-m-yy>_<TILE>/S2_<d-m-yy>_<TILE>_<crop>_conf.tif  1 high, 2 moderate, 3 low
    <root>/splits/{train,val,test}_X.txt                                  ids without ``S2_``
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import rasterio
import torch
from torch.utils.data import Dataset

from oceanscan.classes import IGNORE_INDEX, ClassMapping, map_labels, num_classes, positive_class
from oceanscan.data.inputs import input_spec, model_input
from oceanscan.errors import DatasetNotFoundError
from oceanscan.sentinel2 import BANDS

__all__ = [
    "SPLITS",
    "MaridaDataset",
    "Split",
    "label_counts",
    "labelled_batches",
    "labelled_patches",
    "load_patch",
    "patch_paths",
    "read_split_ids",
]

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")
Sample = dict[str, Any]

_FIX = "make a synthetic one with `oceanscan synth patches --out DIR`, or point to a MARIDA copy"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Invalid split {split!r}; must be one of {SPLITS}")


def _check_root(root: Path) -> None:
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"no MARIDA-layout dataset at {str(root)!r}: not a directory; {_FIX}"
        )


def read_split_ids(root: str | os.PathLike[str], split: Split) -> list[str]:
    """The patch ids of one split, as listed in ``splits/<split>_X.txt`` (without ``S2_``).

    Args:
        root: the dataset directory.
        split: ``"train"``, ``"val"`` or ``"test"``.

    Returns:
        Ids in file order, e.g. ``["12-12-20_16PCC_6", ...]``.

    Raises:
        ValueError: for an unknown split.
        DatasetNotFoundError: when the root or the split file is missing.
    """
    _check_split(split)
    root = Path(root)
    _check_root(root)
    path = root / "splits" / f"{split}_X.txt"
    if not path.is_file():
        raise DatasetNotFoundError(
            f"dataset at {str(root)!r} has no split file splits/{split}_X.txt; {_FIX}"
        )
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def patch_paths(root: str | os.PathLike[str], patch_id: str) -> tuple[Path, Path, Path]:
    """Reflectance, class and confidence files of a patch id, in MARIDA's naming.

    ``12-12-20_16PCC_6`` -> ``patches/S2_12-12-20_16PCC/S2_12-12-20_16PCC_6{,_cl,_conf}.tif``.
    An id that already starts with ``S2_`` is accepted too.

    Raises:
        ValueError: for an id that is not ``<date>_<tile>_<crop>``.
    """
    pid = patch_id.removeprefix("S2_")
    parts = pid.split("_")
    if len(parts) < 3 or not all(parts) or not parts[-1].isdigit():
        raise ValueError(
            f"Invalid MARIDA patch id {patch_id!r}; must look like '<d-m-yy>_<TILE>_<crop>', "
            "e.g. '12-12-20_16PCC_6'"
        )
    scene = "_".join(parts[:-1])
    folder = Path(root) / "patches" / f"S2_{scene}"
    stem = f"S2_{pid}"
    return folder / f"{stem}.tif", folder / f"{stem}_cl.tif", folder / f"{stem}_conf.tif"


def _read(path: Path, root: Path, patch_id: str) -> npt.NDArray[Any]:
    if not path.is_file():
        raise DatasetNotFoundError(
            f"patch {patch_id!r} of the dataset at {str(root)!r} lacks {path.name} "
            f"(expected at {str(path)!r}); {_FIX}"
        )
    with rasterio.open(path) as src:
        return src.read()


def load_patch(
    root: str | os.PathLike[str], patch_id: str
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Read one patch: reflectance, class ids and annotation confidence.

    Args:
        root: the dataset directory.
        patch_id: id as the split files list it (``12-12-20_16PCC_6``).

    Returns:
        ``(reflectance, classes, confidence)``: float32 ``(11, H, W)`` with NaN where MARIDA has
        no data, uint8 ``(H, W)`` class ids 0..15, uint8 ``(H, W)`` confidence 0..3.

    Raises:
        ValueError: for a malformed id, or files that are not 11 bands / one band of equal size.
        DatasetNotFoundError: when a file is missing.
    """
    root = Path(root)
    image_path, cl_path, conf_path = patch_paths(root, patch_id)
    image = _read(image_path, root, patch_id).astype(np.float32, copy=False)
    classes = _read(cl_path, root, patch_id)
    confidence = _read(conf_path, root, patch_id)
    if image.shape[0] != len(BANDS):
        raise ValueError(
            f"{str(image_path)!r} has {image.shape[0]} bands; MARIDA patches have {len(BANDS)} "
            f"({', '.join(BANDS)})"
        )
    for path, arr in ((cl_path, classes), (conf_path, confidence)):
        if arr.shape != (1, *image.shape[1:]):
            raise ValueError(
                f"{str(path)!r} has shape {arr.shape}; expected one band of {image.shape[1:]}"
            )
    return (
        image,
        classes[0].astype(np.uint8, copy=False),
        confidence[0].astype(np.uint8, copy=False),
    )


def _item(image: npt.NDArray[np.float32], mask: npt.NDArray[np.int64], patch_id: str) -> Sample:
    """The item dict a transform sees: reflectance and mapped mask as tensors, and the patch id."""
    return {"image": torch.from_numpy(image), "mask": torch.from_numpy(mask), "id": patch_id}


class MaridaDataset(Dataset[Sample]):
    """One split of a MARIDA-layout directory as normalized images and mapped targets.

    With ``cache`` (default) every patch is read once and kept in memory (targets as int8;
    images as float16: the model input when there is no ``transform``, exact to 1e-3 of a
    standard deviation, else the reflectance, exact to 3e-5 at 0.05, well below sensor noise):
    MARIDA-sized splits fit in a few hundred MB and epochs then cost no I/O and, without a
    transform, no input computation.

    Each item is ``{"image": float32 (channels, H, W), "mask": int64 (H, W), "id": str}``,
    plus whatever keys ``transform`` adds (a ``"weight"`` map from
    :class:`oceanscan.data.materials.PasteRealMaterials`).
    ``transform`` (augmentation) sees the reflectance and the mapped mask; the image is then
    turned into model input by :func:`oceanscan.data.inputs.model_input` with
    ``normalization`` (MARIDA's standardization by default, NaN -> 0), the same function a
    model bundle scores scenes with. The mask is mapped by :func:`oceanscan.classes.map_labels`
    (``IGNORE_INDEX`` where unlabelled).

    Args:
        root: the dataset directory.
        split: ``"train"``, ``"val"`` or ``"test"``.
        mapping: class mapping of the targets (default ``"binary"``: debris against the rest).
        transform: called on each item dict while its image is reflectance (augmentation),
            default none. One with a true ``deterministic`` attribute returns the same output
            for a patch every time (:class:`oceanscan.train.datasets.FixedDraws`); its output
            is then cached like the untransformed input.
        normalization: how reflectance becomes model input, a bundle's ``normalization``
            entry (:func:`oceanscan.data.inputs.input_spec`); defaults to standardization.
        cache: read and keep every patch at construction (default True); otherwise read on access.

    Raises:
        ValueError: for an unknown split or mapping.
        DatasetNotFoundError: when the directory, the split file or a patch file is missing.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Split,
        *,
        mapping: ClassMapping = "binary",
        transform: Callable[[Sample], Sample] | None = None,
        normalization: Mapping[str, Any] | None = None,
        cache: bool = True,
    ) -> None:
        num_classes(mapping)  # validates the mapping name
        self.root = Path(root)
        self.split = split
        self.mapping = mapping
        self.transform = transform
        self.normalization = dict(normalization or input_spec("standardize"))
        self.ids = read_split_ids(self.root, split)
        self._images: list[npt.NDArray[np.float16]] | None = None
        self._masks: list[npt.NDArray[np.int8]] | None = None
        # Without a transform, or with one whose output is fixed per patch (``deterministic``,
        # as an augmented validation split's), every epoch would compute the same model input
        # again (the local background of each patch): the cache then holds the input.
        self._cached_input = cache and (
            transform is None or bool(getattr(transform, "deterministic", False))
        )
        if cache:
            images, masks = [], []
            for pid in self.ids:
                image, mask = self._load(pid)
                if self._cached_input:
                    if transform is not None:
                        fixed = transform(_item(image, mask, pid))
                        image, mask = fixed["image"], fixed["mask"].numpy()
                    image = model_input(image, self.normalization).numpy()
                images.append(image.astype(np.float16))
                masks.append(mask.astype(np.int8))
            self._images, self._masks = images, masks

    def _load(self, patch_id: str) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        reflectance, classes, _ = load_patch(self.root, patch_id)
        return reflectance, map_labels(classes, self.mapping)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Sample:
        if not -len(self.ids) <= index < len(self.ids):
            raise IndexError(f"index {index} out of range for a split of {len(self.ids)} patches")
        if self._images is not None and self._masks is not None:
            image = self._images[index].astype(np.float32)
            mask = self._masks[index].astype(np.int64)
        else:
            image, mask = self._load(self.ids[index])
        sample = _item(image, mask, self.ids[index])
        if self._cached_input:
            return sample
        if self.transform is not None:
            sample = self.transform(sample)
        sample["image"] = model_input(sample["image"], self.normalization)
        return sample

    def masks(self) -> list[npt.NDArray[np.int64]]:
        """Every target mask of the split, untransformed (read from disk when not cached)."""
        if self._masks is not None:
            return [m.astype(np.int64) for m in self._masks]
        return [self._load(pid)[1] for pid in self.ids]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, "
            f"mapping={self.mapping!r}, patches={len(self)})"
        )


def label_counts(
    dataset_or_root: MaridaDataset | str | os.PathLike[str],
    split: Split = "train",
    mapping: ClassMapping = "binary",
) -> npt.NDArray[np.int64]:
    """Labelled pixels per target class of a split (unlabelled pixels are not counted).

    Class weights of the loss are derived from these counts (MARIDA's reference code uses
    ``1 / ln(1.02 + p_c)``).

    Args:
        dataset_or_root: a :class:`MaridaDataset` (its own split and mapping are used, from its
            cache when it has one) or a dataset directory.
        split: split to count when a directory is given (default ``"train"``).
        mapping: class mapping when a directory is given (default ``"binary"``).

    Returns:
        int64 array of length ``num_classes(mapping)``.

    Raises:
        ValueError: for an unknown split or mapping.
        DatasetNotFoundError: when files are missing.
    """
    if isinstance(dataset_or_root, MaridaDataset):
        k = num_classes(dataset_or_root.mapping)
        masks = dataset_or_root.masks()
    else:
        k = num_classes(mapping)
        root = Path(dataset_or_root)
        masks = []
        for pid in read_split_ids(root, split):
            _, cl_path, _ = patch_paths(root, pid)
            masks.append(map_labels(_read(cl_path, root, pid)[0], mapping))
    counts = np.zeros(k, dtype=np.int64)
    for mask in masks:
        valid = mask[(mask >= 0) & (mask < k)]
        counts += np.bincount(valid, minlength=k)
    return counts


def labelled_patches(
    root: str | os.PathLike[str],
    split: Split,
    mapping: ClassMapping = "binary",
    *,
    transform: Callable[[Sample], Sample] | None = None,
) -> Iterator[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]]:
    """Each patch of ``split`` as reflectance and debris-or-not targets, for scoring a detector.

    Args:
        root: MARIDA-layout directory (``patches/``, ``splits/``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        mapping: class mapping whose positive class is debris (default ``"binary"``).
        transform: called on each item dict (reflectance, mapped mask, id) as
            :class:`MaridaDataset` calls it, before the targets are made binary; default none.
            Scoring on the validation split a run validated on takes that run's
            :func:`oceanscan.train.datasets.validation_transform`.

    Yields:
        float32 reflectance ``(11, H, W)`` (NaN where missing) and int64 targets ``(H, W)``: 1
        for the positive class, 0 for other labelled pixels, ``IGNORE_INDEX`` for unlabelled.

    Raises:
        DatasetNotFoundError: when the split file or a patch file is missing.
    """
    positive = positive_class(mapping)
    for patch_id in read_split_ids(root, split):
        reflectance, classes, _ = load_patch(root, patch_id)
        reflectance = np.asarray(reflectance, dtype=np.float32)
        targets = map_labels(classes, mapping)
        if transform is not None:
            sample = transform(_item(reflectance, targets, patch_id))
            reflectance = sample["image"].numpy().astype(np.float32, copy=False)
            targets = sample["mask"].numpy()
        binary = np.where(
            targets == IGNORE_INDEX, IGNORE_INDEX, (targets == positive).astype(np.int64)
        )
        yield reflectance, binary


def labelled_batches(
    root: str | os.PathLike[str],
    split: Split,
    mapping: ClassMapping = "binary",
    *,
    batch_size: int,
    transform: Callable[[Sample], Sample] | None = None,
) -> Iterator[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]]:
    """:func:`labelled_patches` stacked for a forward pass: up to ``batch_size`` patches of one shape.

    ``transform`` is passed on to :func:`labelled_patches`.

    A batch ends early where the patch shape changes, so splits of mixed sizes batch as well.

    Yields:
        float32 reflectance ``(N, 11, H, W)`` and int64 targets ``(N, H, W)``.

    Raises:
        ValueError: for ``batch_size < 1``.
        DatasetNotFoundError: when the split file or a patch file is missing.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    images: list[npt.NDArray[np.float32]] = []
    targets: list[npt.NDArray[np.int64]] = []
    for reflectance, binary in labelled_patches(root, split, mapping, transform=transform):
        if images and reflectance.shape != images[0].shape:
            yield np.stack(images), np.stack(targets)
            images, targets = [], []
        images.append(reflectance)
        targets.append(binary)
        if len(images) == batch_size:
            yield np.stack(images), np.stack(targets)
            images, targets = [], []
    if images:
        yield np.stack(images), np.stack(targets)
