"""The Zarr layout of a scan (DESIGN.md, "Zarr layout"): the contract with analysts.

``<root>/scenes.zarr`` is a Zarr v3 group; each scene is ``scenes/<scene_key>`` with

* ``probability`` (y, x) uint8, chunks C x C: ``round(p * 254)``, 255 where not scored, with CF
  attributes (``scale_factor``, ``add_offset``, ``_FillValue``, ``grid_mapping``) so xarray decodes
  floats in [0, 1] with NaN;
* ``mask`` (y, x) uint8: 0 scored, 1 land, 2 cloud or shadow, 3 nodata;
* ``x``, ``y``: 1-D float64 pixel-centre coordinates in the scene CRS;
* ``spatial_ref``: scalar with ``crs_wkt``, ``spatial_ref`` and ``GeoTransform`` (the CF / rioxarray
  convention rioxarray and GDAL read), and GeoZarr-style ``proj:*`` / ``spatial:*`` attributes on
  the scene group.

Only the driver creates groups, arrays and attributes; workers only write whole chunks through
:func:`write_core`. ``<root>`` is a local path or any fsspec URL (``s3://``, ``memory://``...).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import zarr
import zarr.storage
from pyproj import CRS
from zarr.errors import ZarrUserWarning

from oceanscan.scene import PixelWindow, RasterGrid, SceneSpec

__all__ = [
    "FILL",
    "QUANT_STEPS",
    "SCENES_STORE",
    "consolidate",
    "create_scene",
    "dequantize",
    "grid_attrs",
    "open_root",
    "quantize",
    "read_scene_attrs",
    "scene_attrs_from_spec",
    "scenes_group",
    "store_url",
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


def open_root(
    root: str, *, storage_options: Mapping[str, Any] | None = None, create: bool = True
) -> zarr.Group:
    """Open (and with ``create`` make) ``<root>/scenes.zarr`` with its ``scenes`` subgroup.

    Metadata is read without consolidation, so the driver always sees the current statuses.

    Raises:
        FileNotFoundError: when ``create`` is False and there is no store at ``root``.
    """
    store = zarr_store(store_url(root), storage_options=storage_options)
    try:
        group = zarr.open_group(store, mode="r+", use_consolidated=False)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as err:
        if not create:
            raise FileNotFoundError(f"no scan store at {store_url(root)!r}") from err
        group = zarr.open_group(store, mode="a", zarr_format=3, use_consolidated=False)
    if "runs" not in group.attrs:
        group.attrs["runs"] = []
    if "scenes" not in group:
        group.create_group("scenes")
    return group


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
    """The item-derived attributes of a scene group (id, time, platform, tile, offset...)."""
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
    }


def _coordinate(grid: RasterGrid, axis: str) -> npt.NDArray[np.float64]:
    a, _, c, _, e, f = grid.transform
    h, w = grid.shape
    if axis == "x":
        return c + (np.arange(w, dtype=np.float64) + 0.5) * a
    return f + (np.arange(h, dtype=np.float64) + 0.5) * e


def create_scene(
    root_group: zarr.Group,
    spec: SceneSpec,
    *,
    tile_size: int,
    attrs: Mapping[str, Any],
) -> zarr.Group:
    """Create (or recreate) a scene's group, arrays, coordinates and attributes; status "created".

    Any previous content of the group is replaced, so a rerun of a failed or interrupted scene
    starts from empty chunks and ends bit-identical to a clean run.

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
    a, b, c, d, e, f = grid.transform
    scenes = scenes_group(root_group)
    group = scenes.create_group(spec.key, overwrite=True)
    chunks = (min(tile_size, h), min(tile_size, w))
    group.create_array(
        "probability",
        shape=(h, w),
        chunks=chunks,
        dtype="uint8",
        fill_value=FILL,
        dimension_names=("y", "x"),
        attributes={
            "long_name": "probability of floating marine debris",
            "units": "1",
            "scale_factor": 1.0 / QUANT_STEPS,
            "add_offset": 0.0,
            "_FillValue": FILL,
            "valid_range": [0, QUANT_STEPS],
            "grid_mapping": "spatial_ref",
        },
    )
    group.create_array(
        "mask",
        shape=(h, w),
        chunks=chunks,
        dtype="uint8",
        fill_value=3,
        dimension_names=("y", "x"),
        attributes={
            "long_name": "why a pixel was not scored",
            "flag_values": [0, 1, 2, 3],
            "flag_meanings": "scored land cloud_or_shadow nodata",
            "grid_mapping": "spatial_ref",
        },
    )
    for axis, n, name in (("x", w, "projection_x_coordinate"), ("y", h, "projection_y_coordinate")):
        coord = group.create_array(
            axis,
            shape=(n,),
            chunks=(n,),
            dtype="float64",
            fill_value=np.nan,
            dimension_names=(axis,),
            attributes={"standard_name": name, "units": "m", "axis": axis.upper()},
        )
        coord[:] = _coordinate(grid, axis)
    ref = group.create_array(
        "spatial_ref",
        shape=(),
        dtype="int64",
        fill_value=0,
        dimension_names=(),
        attributes={
            **crs.to_cf(),
            "crs_wkt": crs.to_wkt(),
            "spatial_ref": crs.to_wkt(),
            "GeoTransform": " ".join(repr(float(v)) for v in (c, a, b, f, d, e)),
        },
    )
    ref[()] = 0
    group.attrs.update(
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
    """Set attributes of one scene group (status, reason, summary...)."""
    scenes_group(root_group)[key].attrs.update(attrs)


def consolidate(root: str, *, storage_options: Mapping[str, Any] | None = None) -> None:
    """Write Zarr consolidated metadata for the whole store (one read for xarray).

    zarr-python warns that consolidated metadata is not yet in the Zarr v3 specification; it is
    still what xarray reads first, and the store stays readable without it.
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
