"""Where a store lives and how it is opened: ``<root>/scenes.zarr``, its format, its scene groups.

Everything that opens the store by path goes through :func:`zarr_store`, so local paths,
``file://`` URLs and fsspec URLs (``s3://``, ``memory://``...) behave alike; metadata is read
without consolidation, so the driver always sees the current statuses.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import zarr
import zarr.storage
from zarr.errors import ZarrUserWarning

from oceanscan.errors import ConfigError

__all__ = [
    "DEFAULT_ZARR_FORMAT",
    "SCENES_STORE",
    "ZARR_FORMATS",
    "ZarrFormat",
    "append_run",
    "consolidate",
    "get_scene_attrs",
    "open_root",
    "open_scene_attrs",
    "read_probability",
    "read_runs",
    "read_scene_attrs",
    "scene_status",
    "scenes_group",
    "store_url",
    "store_zarr_format",
    "update_scene_attrs",
    "zarr_store",
]

#: Name of the Zarr group under ``<root>``.
SCENES_STORE = "scenes.zarr"

#: The Zarr formats a store may be written in.
ZarrFormat = Literal[2, 3]
ZARR_FORMATS: tuple[ZarrFormat, ...] = (2, 3)
#: Format of new stores. Zarr v2, because GDAL before 3.11 (the GDAL 3.10.3 bundled in the
#: rasterio 1.4.4 wheels included) cannot decode the v3 arrays zarr-python 3 writes: it only knows
#: the ``endian`` codec, which the Zarr v3 specification renamed ``bytes`` (OSGeo/gdal#11787,
#: fixed in GDAL 3.11). Zarr v2 arrays written by zarr-python 3 open in every GDAL >= 3.4.
DEFAULT_ZARR_FORMAT: ZarrFormat = 2

#: Tries at opening-or-creating a new root that other runs are creating at the same moment.
_CREATE_ATTEMPTS = 5


def store_url(root: str) -> str:
    """URL of the ``scenes.zarr`` group under an output root (path or fsspec URL)."""
    return root.rstrip("/") + "/" + SCENES_STORE


def zarr_store(
    url: str, *, storage_options: Mapping[str, Any] | None = None, read_only: bool = False
) -> zarr.abc.store.Store:
    """A zarr-python 3 store for a local path or an fsspec URL.

    Local paths (and ``file://``) use :class:`zarr.storage.LocalStore`; every other URL goes
    through fsspec (:class:`zarr.storage.FsspecStore`) with ``storage_options`` (for S3:
    ``key``, ``secret``, ``client_kwargs={"endpoint_url": ...}``).
    """
    url = url.removeprefix("file://")
    if "://" not in url:
        return zarr.storage.LocalStore(url, read_only=read_only)
    return zarr.storage.FsspecStore.from_url(
        url, storage_options=dict(storage_options or {}), read_only=read_only
    )


def _check_format(zarr_format: object) -> ZarrFormat:
    if zarr_format not in ZARR_FORMATS or isinstance(zarr_format, bool):
        raise ValueError(f"zarr_format must be one of {ZARR_FORMATS}, got {zarr_format!r}")
    return zarr_format  # type: ignore[return-value]


def open_root(
    root: str,
    *,
    storage_options: Mapping[str, Any] | None = None,
    create: bool = True,
    zarr_format: ZarrFormat | None = None,
) -> zarr.Group:
    """Open (and with ``create`` make) ``<root>/scenes.zarr`` with its ``scenes`` subgroup.

    Metadata is read without consolidation, so the driver always sees the current statuses.
    An existing store keeps the Zarr format it was created with, so that one store never mixes
    v2 and v3 scene groups (which no reader expects).

    Args:
        root: output root, a path or fsspec URL.
        storage_options: fsspec options for ``root``.
        create: make the store when there is none.
        zarr_format: format of a new store (defaults to :data:`DEFAULT_ZARR_FORMAT`); for an
            existing store, the format it must have (defaults to whichever it has).

    Raises:
        FileNotFoundError: when ``create`` is False and there is no store at ``root``.
        ConfigError: when the existing store's format differs from ``zarr_format``.
        ValueError: for a ``zarr_format`` other than 2 or 3.
    """
    if zarr_format is not None:
        zarr_format = _check_format(zarr_format)
    store = zarr_store(store_url(root), storage_options=storage_options)
    try:
        group = zarr.open_group(store, mode="r+", use_consolidated=False)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as err:
        if not create:
            raise FileNotFoundError(f"no scan store at {store_url(root)!r}") from err
        group = _create_root(store, zarr_format or DEFAULT_ZARR_FORMAT)
    found = group.metadata.zarr_format
    if zarr_format is not None and found != zarr_format:
        raise ConfigError(
            f"the scan store {store_url(root)!r} is Zarr format {found}, but zarr_format="
            f"{zarr_format} was asked for; a store keeps the format it was created with: set "
            f"zarr_format: {found}, or write to a new root"
        )
    if "runs" not in group.attrs:
        group.attrs["runs"] = []
    if "scenes" not in group:
        try:
            group.create_group("scenes")
        except zarr.errors.ContainsGroupError:
            pass  # another run on this root made it since the check: scans may start together
    return group


def _create_root(store: zarr.storage.StoreLike, zarr_format: ZarrFormat) -> zarr.Group:
    """Make the root group, or open it when another run made it first (scans may start together).

    ``mode="a"`` opens a group that exists and creates one that does not; between its check and
    its write another run may create the group, which it reports as ``ContainsGroupError``: the
    next attempt then opens that group.
    """
    for _ in range(_CREATE_ATTEMPTS - 1):
        try:
            return zarr.open_group(store, mode="a", zarr_format=zarr_format, use_consolidated=False)
        except zarr.errors.ContainsGroupError:
            time.sleep(0.05)
    return zarr.open_group(store, mode="a", zarr_format=zarr_format, use_consolidated=False)


def store_zarr_format(root: str, *, storage_options: Mapping[str, Any] | None = None) -> ZarrFormat:
    """The Zarr format of the existing store under ``root``.

    Raises:
        FileNotFoundError: when there is no store at ``root``.
    """
    return _check_format(
        open_root(root, storage_options=storage_options, create=False).metadata.zarr_format
    )


def scenes_group(root_group: zarr.Group) -> zarr.Group:
    """The ``scenes`` subgroup of an opened root."""
    return root_group["scenes"]  # type: ignore[return-value]


def read_scene_attrs(root_group: zarr.Group) -> dict[str, dict[str, Any]]:
    """Attributes of every scene group, by scene key (the ledger's view of the store)."""
    scenes = scenes_group(root_group)
    return {name: dict(node.attrs) for name, node in scenes.groups()}


def get_scene_attrs(root_group: zarr.Group, key: str) -> dict[str, Any]:
    """Attributes of one scene group.

    Raises:
        KeyError: when the store has no scene ``key``.
    """
    return dict(scenes_group(root_group)[key].attrs)


def open_scene_attrs(root_group: zarr.Group, key: str) -> dict[str, Any]:
    """Attributes of one scene group, making a bare group when the scene has none yet.

    How a scene that never got its arrays (a rejected item, a scene whose planning failed) is
    still recorded in the store, with its failure, for the ledger and ``index.parquet``.
    """
    scenes = scenes_group(root_group)
    group = scenes[key] if key in scenes else scenes.create_group(key)
    return dict(group.attrs)


def scene_status(
    root: str, key: str, *, storage_options: Mapping[str, Any] | None = None
) -> str | None:
    """A scene's status as the store has it now, read afresh (None: no such scene, no status).

    The driver asks this after claiming a scene, since another run may have completed the scene
    after this run read the ledger.
    """
    store = zarr_store(store_url(root), storage_options=storage_options)
    try:
        group = zarr.open_group(store, path=f"scenes/{key}", mode="r", use_consolidated=False)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        return None
    status = group.attrs.get("status")
    return None if status is None else str(status)


def update_scene_attrs(root_group: zarr.Group, key: str, **attrs: Any) -> None:
    """Set attributes of one scene group (status, reason, summary...) in one metadata write.

    ``group.attrs.update`` would rewrite the group's metadata (``.zattrs``, or ``zarr.json`` in
    Zarr v3) once per key (zarr-python's ``Attributes`` is a plain ``MutableMapping``): a driver
    killed between two of those writes left a scene
    ``complete`` without its summary, and the next run skipped it (tests/reliability/
    test_driver_death.py). ``update_attributes`` merges and writes once, atomically on local
    stores (write to a temporary file, then rename) and as one PUT on object stores.
    """
    scenes_group(root_group)[key].update_attributes(attrs)


def read_probability(root_group: zarr.Group, key: str) -> npt.NDArray[np.uint8]:
    """A scene's whole stored ``probability`` array (bytes, 255 where not scored).

    Raises:
        TypeError: when ``scenes/<key>/probability`` is not an array.
    """
    array = scenes_group(root_group)[key]["probability"]
    if not isinstance(array, zarr.Array):
        raise TypeError(f"scenes/{key}/probability is not a Zarr array")
    return np.asarray(array[:], dtype=np.uint8)


def consolidate(root: str, *, storage_options: Mapping[str, Any] | None = None) -> None:
    """Write Zarr consolidated metadata for the whole store (one read for xarray).

    In Zarr v2 this is the ``.zmetadata`` document of the specification's era (GDAL reads it
    too); in Zarr v3 zarr-python warns that consolidated metadata is not yet in the
    specification. Either way it is what xarray reads first, and the store stays readable
    without it.
    """
    store = zarr_store(store_url(root), storage_options=storage_options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZarrUserWarning)
        zarr.consolidate_metadata(store)


def read_runs(root_group: zarr.Group) -> list[dict[str, Any]]:
    """The run records of an opened root (``runs``: id, times, regions, counts), oldest first."""
    return list(root_group.attrs.get("runs", []))


def append_run(
    root: str, record: Mapping[str, Any], *, storage_options: Mapping[str, Any] | None = None
) -> None:
    """Append one run record to the root's ``runs``, from freshly read metadata.

    The root is opened again rather than reused: another run on the same root may have appended
    its own record since this run opened the store (callers hold the ``_root`` claim).
    """
    fresh = open_root(root, storage_options=storage_options)
    runs = read_runs(fresh)
    runs.append(dict(record))
    fresh.attrs["runs"] = runs
