"""The Zarr layout of a scan (DESIGN.md, "Zarr layout"): the contract with analysts.

``<root>/scenes.zarr`` is a Zarr group, format 2 by default (see :data:`DEFAULT_ZARR_FORMAT`),
3 on request; each scene is ``scenes/<scene_key>`` with

* ``probability`` (y, x) uint8, chunks C x C: ``round(p * 254)``, 255 where not scored, with CF
  attributes (``scale_factor``, ``add_offset``, ``_FillValue``, ``grid_mapping``) so xarray decodes
  floats in [0, 1] with NaN;
* ``mask`` (y, x) uint8: 0 scored, 1 land, 2 cloud or shadow, 3 nodata;
* ``x``, ``y``: 1-D float64 pixel-centre coordinates in the scene CRS;
* ``spatial_ref``: scalar with ``crs_wkt``, ``spatial_ref`` and ``GeoTransform`` (the CF / rioxarray
  convention rioxarray and GDAL read), and GeoZarr-style ``proj:*`` / ``spatial:*`` attributes on
  the scene group;
* on ``probability`` and ``mask`` also GDAL's own ``_CRS`` attribute (``{"wkt": ...}``), and the
  regular ``x`` / ``y`` indexing arrays from which GDAL's Zarr driver derives the geotransform.

Dimension names are ``dimension_names`` in Zarr v3 metadata and the ``_ARRAY_DIMENSIONS``
attribute in Zarr v2 (the convention xarray and GDAL both read). A store keeps the format it was
created with: :func:`open_root` detects it and refuses a different one.

Only the driver creates groups, arrays and attributes; workers only write whole chunks through
:func:`write_core`. ``<root>`` is a local path or any fsspec URL (``s3://``, ``memory://``...).
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
from pyproj import CRS
from zarr.errors import ZarrUserWarning

from oceanscan.errors import ConfigError
from oceanscan.scene import PixelWindow, RasterGrid, SceneSpec

__all__ = [
    "DEFAULT_ZARR_FORMAT",
    "FILL",
    "QUANT_STEPS",
    "SCENES_STORE",
    "ZARR_FORMATS",
    "ZarrFormat",
    "consolidate",
    "create_scene",
    "dequantize",
    "dimension_names",
    "grid_attrs",
    "open_root",
    "quantize",
    "read_scene_attrs",
    "scene_attrs_from_spec",
    "scenes_group",
    "store_url",
    "store_zarr_format",
    "threshold_step",
    "update_scene_attrs",
    "write_core",
    "zarr_store",
]

#: Name of the Zarr group under ``<root>``.
SCENES_STORE = "scenes.zarr"
#: Probabilities are stored as ``round(p * QUANT_STEPS)``: 0..254, one step = 1/254 ~ 0.004.
QUANT_STEPS = 254
#: The stored value of pixels that were not scored (land, cloud, nodata, or not yet written).
FILL = 255

#: The Zarr formats a store may be written in.
ZarrFormat = Literal[2, 3]
ZARR_FORMATS: tuple[ZarrFormat, ...] = (2, 3)
#: Format of new stores. Zarr v2, because GDAL before 3.11 (the GDAL 3.10.3 bundled in the
#: rasterio 1.4.4 wheels included) cannot decode the v3 arrays zarr-python 3 writes: it only knows
#: the ``endian`` codec, which the Zarr v3 specification renamed ``bytes`` (OSGeo/gdal#11787,
#: fixed in GDAL 3.11). Zarr v2 arrays written by zarr-python 3 open in every GDAL >= 3.4.
DEFAULT_ZARR_FORMAT: ZarrFormat = 2


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


#: Tries at opening-or-creating a new root that other runs are creating at the same moment.
_CREATE_ATTEMPTS = 5


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


def dimension_names(array: zarr.Array) -> tuple[str, ...] | None:
    """An array's dimension names, wherever its format keeps them.

    Zarr v3 has them in the array metadata (``dimension_names``); Zarr v2 has no such field, and
    xarray and GDAL read the ``_ARRAY_DIMENSIONS`` attribute instead. A scalar has none: ``()``.
    """
    if array.ndim == 0:
        return ()
    if array.metadata.zarr_format == 3:
        names = array.metadata.dimension_names
    else:
        names = array.attrs.get("_ARRAY_DIMENSIONS")
    return None if names is None else tuple(str(n) for n in names)


def scenes_group(root_group: zarr.Group) -> zarr.Group:
    """The ``scenes`` subgroup of an opened root."""
    return root_group["scenes"]  # type: ignore[return-value]


def grid_attrs(grid: RasterGrid) -> dict[str, Any]:
    """GeoZarr-style (``proj:`` and ``spatial:``) attributes of a grid.

    Follows the draft GeoZarr conventions (zarr-conventions ``proj:`` and ``spatial:``): the CRS
    code and WKT2, the affine transform in GDAL order ``(a, b, c, d, e, f)``, the bounding box
    ``(xmin, ymin, xmax, ymax)``, the shape and the dimension names.
    """
    crs = CRS.from_user_input(grid.crs)
    epsg = crs.to_epsg()
    return {
        "proj:code": f"EPSG:{epsg}" if epsg else None,
        "proj:wkt2": crs.to_wkt(),
        "spatial:dimensions": ["y", "x"],
        "spatial:transform": list(grid.transform),
        "spatial:shape": list(grid.shape),
        "spatial:bbox": list(grid.bounds),
        "spatial:registration": "pixel",
    }


def _first(props: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if props.get(name) is not None:
            return props[name]
    return None


def scene_attrs_from_spec(spec: SceneSpec) -> dict[str, Any]:
    """The item-derived attributes of a scene group (id, time, platform, tile, offset, land...)."""
    props = spec.properties
    return {
        "item_id": spec.id,
        "collection": spec.collection,
        "provider": spec.provider,
        "datetime": spec.datetime,
        "platform": _first(props, "platform"),
        "mgrs_tile": _first(props, "s2:mgrs_tile", "grid:code", "mgrs_tile", "tile"),
        "processing_baseline": _first(props, "s2:processing_baseline", "processing:version"),
        "cloud_cover": _first(props, "eo:cloud_cover", "cloud_cover"),
        "reflectance_scale": spec.scale,
        "reflectance_offset": spec.offset,
        "footprint": spec.footprint,
        "land": spec.land.describe() if spec.land is not None else None,
    }


def _coordinate(grid: RasterGrid, axis: str) -> npt.NDArray[np.float64]:
    a, _, c, _, e, f = grid.transform
    h, w = grid.shape
    if axis == "x":
        return c + (np.arange(w, dtype=np.float64) + 0.5) * a
    return f + (np.arange(h, dtype=np.float64) + 0.5) * e


def _create_array(
    group: zarr.Group,
    name: str,
    *,
    dims: tuple[str, ...],
    attributes: Mapping[str, Any],
    **kwargs: Any,
) -> zarr.Array:
    """Create an array with named dimensions in either Zarr format (see the module docstring)."""
    if group.metadata.zarr_format == 3:
        return group.create_array(name, dimension_names=dims, attributes=dict(attributes), **kwargs)
    return group.create_array(
        name, attributes={**attributes, "_ARRAY_DIMENSIONS": list(dims)}, **kwargs
    )


def create_scene(
    root_group: zarr.Group,
    spec: SceneSpec,
    *,
    tile_size: int,
    attrs: Mapping[str, Any],
) -> zarr.Group:
    """Create (or recreate) a scene's group, arrays, coordinates and attributes; status "created".

    Any previous content of the group is replaced, so a rerun of a failed or interrupted scene
    starts from empty chunks and ends bit-identical to a clean run. The arrays take the root's
    Zarr format.

    In Zarr v2, xarray reads an array's ``fill_value`` as a CF missing value; ``mask`` and
    ``spatial_ref`` therefore carry no fill value there (xarray would turn mask 3 and the
    ``spatial_ref`` scalar into NaN), and chunks of ``mask`` never written read as 0. Whether a
    pixel was scored is always ``probability != 255``.

    Args:
        root_group: the opened ``scenes.zarr`` root.
        spec: the scene.
        tile_size: chunk side C in pixels (= tile core size).
        attrs: run-level attributes to add (model id and sha256, threshold, run id, version).

    Returns:
        The scene group.
    """
    grid = spec.grid
    h, w = grid.shape
    crs = CRS.from_user_input(grid.crs)
    wkt = crs.to_wkt()
    a, b, c, d, e, f = grid.transform
    v3 = root_group.metadata.zarr_format == 3
    scenes = scenes_group(root_group)
    group = scenes.create_group(spec.key, overwrite=True)
    chunks = (min(tile_size, h), min(tile_size, w))
    # GDAL's Zarr driver reads the CRS of an array from its "_CRS" attribute (wkt, projjson or
    # url; https://gdal.org/drivers/raster/zarr.html, "SRS encoding") and the geotransform from
    # regularly spaced indexing arrays named like the dimensions (x, y).
    gdal_crs = {"_CRS": {"wkt": wkt}}
    _create_array(
        group,
        "probability",
        dims=("y", "x"),
        shape=(h, w),
        chunks=chunks,
        dtype="uint8",
        fill_value=FILL,
        attributes={
            "long_name": "probability of floating marine debris",
            "units": "1",
            "scale_factor": 1.0 / QUANT_STEPS,
            "add_offset": 0.0,
            "_FillValue": FILL,
            "valid_range": [0, QUANT_STEPS],
            "grid_mapping": "spatial_ref",
            **gdal_crs,
        },
    )
    _create_array(
        group,
        "mask",
        dims=("y", "x"),
        shape=(h, w),
        chunks=chunks,
        dtype="uint8",
        fill_value=3 if v3 else None,
        attributes={
            "long_name": "why a pixel was not scored",
            "flag_values": [0, 1, 2, 3],
            "flag_meanings": "scored land cloud_or_shadow nodata",
            "grid_mapping": "spatial_ref",
            **gdal_crs,
        },
    )
    for axis, n, name in (("x", w, "projection_x_coordinate"), ("y", h, "projection_y_coordinate")):
        coord = _create_array(
            group,
            axis,
            dims=(axis,),
            shape=(n,),
            chunks=(n,),
            dtype="float64",
            fill_value=np.nan,
            attributes={"standard_name": name, "units": "m", "axis": axis.upper()},
        )
        coord[:] = _coordinate(grid, axis)
    ref = _create_array(
        group,
        "spatial_ref",
        dims=(),
        shape=(),
        dtype="int64",
        fill_value=0 if v3 else None,
        attributes={
            **crs.to_cf(),
            "crs_wkt": wkt,
            "spatial_ref": wkt,
            "GeoTransform": " ".join(repr(float(v)) for v in (c, a, b, f, d, e)),
        },
    )
    ref[()] = 0
    group.update_attributes(  # one metadata write, not one per key (see update_scene_attrs)
        {
            **scene_attrs_from_spec(spec),
            **grid_attrs(grid),
            **dict(attrs),
            "tile_size": tile_size,
            "status": "created",
            "reason": None,
        }
    )
    return group


def read_scene_attrs(root_group: zarr.Group) -> dict[str, dict[str, Any]]:
    """Attributes of every scene group, by scene key (the ledger's view of the store)."""
    scenes = scenes_group(root_group)
    return {name: dict(node.attrs) for name, node in scenes.groups()}


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


def quantize(prob: npt.NDArray[np.floating], mask: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Probabilities to stored bytes: ``round(p * 254)``, 255 where ``mask != 0`` or ``p`` is NaN."""
    p = np.clip(np.nan_to_num(prob, nan=0.0), 0.0, 1.0)
    q = np.rint(p * QUANT_STEPS).astype(np.uint8)
    q[(mask != 0) | np.isnan(prob)] = FILL
    return q


def dequantize(stored: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Stored bytes back to probabilities, NaN where not scored."""
    out = stored.astype(np.float32) / np.float32(QUANT_STEPS)
    out[stored == FILL] = np.nan
    return out


def write_core(
    root: str,
    key: str,
    core: PixelWindow,
    probability: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.uint8],
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> None:
    """Write one tile core (exactly one chunk) of a scene's ``probability`` and ``mask``.

    Called from Ray workers. Because a core is a whole chunk, the write replaces the chunk
    without reading it, and no two tiles ever write the same chunk.

    Raises:
        ValueError: when the arrays do not have the core's shape.
    """
    shape = (core.height, core.width)
    if probability.shape != shape or mask.shape != shape:
        raise ValueError(
            f"core {core} of scene {key!r} needs arrays of shape {shape}, got probability "
            f"{probability.shape} and mask {mask.shape}"
        )
    store = zarr_store(store_url(root), storage_options=storage_options)
    rows, cols = core.to_slices()
    for name, data in (("probability", probability), ("mask", mask)):
        array = zarr.open_array(store, path=f"scenes/{key}/{name}", mode="r+")
        array[rows, cols] = data


def threshold_step(threshold: float) -> int:
    """The smallest stored value counted as debris at ``threshold``: ``ceil(threshold * 254)``.

    Comparing stored bytes with this integer (``stored >= step`` and ``stored != 255``) is how
    the summary, the detections and the evaluation all apply the bundle's threshold, so they agree
    pixel for pixel.

    Raises:
        ValueError: for a threshold outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return int(np.ceil(threshold * QUANT_STEPS - 1e-9))
