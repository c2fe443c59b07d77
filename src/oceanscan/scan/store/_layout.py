"""A scene's group in the store: its arrays, coordinates, georeferencing and attributes.

The driver creates each scene's group with :func:`create_scene` before any tile is written;
workers then only replace whole chunks through :func:`write_core`. The layout is the contract of
:mod:`oceanscan.scan.store` (its docstring), read by xarray, rioxarray and GDAL alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import zarr
from pyproj import CRS

from oceanscan.scan.store._codec import FILL, QUANT_STEPS
from oceanscan.scan.store._root import scenes_group, store_url, zarr_store
from oceanscan.scene import PixelWindow, RasterGrid, SceneSpec
from oceanscan.sentinel2 import MASK_CLOUD, MASK_LAND, MASK_NODATA, MASK_SCORED

__all__ = [
    "create_scene",
    "dimension_names",
    "grid_attrs",
    "scene_attrs_from_spec",
    "write_core",
]


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


def _create_pixel_arrays(
    group: zarr.Group, shape: tuple[int, int], chunks: tuple[int, int], wkt: str, *, v3: bool
) -> None:
    """``probability`` and ``mask``, chunked by tile core, with their CF and GDAL attributes."""
    # GDAL's Zarr driver reads the CRS of an array from its "_CRS" attribute (wkt, projjson or
    # url; https://gdal.org/drivers/raster/zarr.html, "SRS encoding") and the geotransform from
    # regularly spaced indexing arrays named like the dimensions (x, y).
    gdal_crs = {"_CRS": {"wkt": wkt}}
    _create_array(
        group,
        "probability",
        dims=("y", "x"),
        shape=shape,
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
        shape=shape,
        chunks=chunks,
        dtype="uint8",
        fill_value=MASK_NODATA if v3 else None,
        attributes={
            "long_name": "why a pixel was not scored",
            "flag_values": [MASK_SCORED, MASK_LAND, MASK_CLOUD, MASK_NODATA],
            "flag_meanings": "scored land cloud_or_shadow nodata",
            "grid_mapping": "spatial_ref",
            **gdal_crs,
        },
    )


def _create_georeferencing(group: zarr.Group, grid: RasterGrid, crs: CRS, *, v3: bool) -> None:
    """The ``x`` and ``y`` pixel-centre coordinates and the CF ``spatial_ref`` scalar."""
    h, w = grid.shape
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
    wkt = crs.to_wkt()
    a, b, c, d, e, f = grid.transform
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
    v3 = root_group.metadata.zarr_format == 3
    group = scenes_group(root_group).create_group(spec.key, overwrite=True)
    chunks = (min(tile_size, h), min(tile_size, w))
    _create_pixel_arrays(group, (h, w), chunks, crs.to_wkt(), v3=v3)
    _create_georeferencing(group, grid, crs, v3=v3)
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
