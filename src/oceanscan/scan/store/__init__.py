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

This package is the only code of :mod:`oceanscan.scan` that opens Zarr: :mod:`._root` (where the
store is, opening it, the ledger's reads and writes of scene attributes, the run records),
:mod:`._layout` (a scene's arrays and attributes, the workers' chunk writes) and :mod:`._codec`
(probabilities to stored bytes and the threshold on them).
"""

from oceanscan.scan.store._codec import (
    FILL,
    QUANT_STEPS,
    dequantize,
    quantize,
    step_probability,
    threshold_step,
)
from oceanscan.scan.store._layout import (
    create_scene,
    dimension_names,
    grid_attrs,
    scene_attrs_from_spec,
    write_core,
)
from oceanscan.scan.store._root import (
    DEFAULT_ZARR_FORMAT,
    SCENES_STORE,
    ZARR_FORMATS,
    ZarrFormat,
    append_run,
    consolidate,
    get_scene_attrs,
    open_root,
    open_scene_attrs,
    read_probability,
    read_runs,
    read_scene_attrs,
    scene_status,
    scenes_group,
    store_url,
    store_zarr_format,
    update_scene_attrs,
    zarr_store,
)

__all__ = [
    "DEFAULT_ZARR_FORMAT",
    "FILL",
    "QUANT_STEPS",
    "SCENES_STORE",
    "ZARR_FORMATS",
    "ZarrFormat",
    "append_run",
    "consolidate",
    "create_scene",
    "dequantize",
    "dimension_names",
    "get_scene_attrs",
    "grid_attrs",
    "open_root",
    "open_scene_attrs",
    "quantize",
    "read_probability",
    "read_runs",
    "read_scene_attrs",
    "scene_attrs_from_spec",
    "scene_status",
    "scenes_group",
    "step_probability",
    "store_url",
    "store_zarr_format",
    "threshold_step",
    "update_scene_attrs",
    "write_core",
    "zarr_store",
]
