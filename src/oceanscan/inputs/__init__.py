"""Scenes from files: a GeoTIFF stack, a folder of band files, a Sentinel-2 L2A ``.SAFE``, a STAC Item.

Each input becomes the same :class:`~oceanscan.scene.SceneSpec` a catalog search gives, so the scan
writes the same Zarr group, ledger entry, index row and detections for it::

    from oceanscan.inputs import scene_from_input
    spec = scene_from_input("mariveles_l2a_scl.tif",
                            bands="B01,B02,B03,B04,B05,B06,B07,B08,B8A,B09,B11,B12,SCL")

:func:`input_kind` tells the kinds apart: a ``.json`` file or any URL not ending in a raster
suffix is a STAC Item; a directory holding ``MTD_MSIL2A.xml`` (or named ``*.SAFE``) is a product;
any other directory is a folder of band files; any other file is a raster GDAL opens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from oceanscan.errors import ConfigError, SceneError
from oceanscan.inputs._bandfiles import band_folder_scene
from oceanscan.inputs._common import KNOWN_BANDS, band_name, parse_bands
from oceanscan.inputs._geotiff import geotiff_scene, scene_name
from oceanscan.inputs._safe import safe_scene
from oceanscan.inputs._stac_item import stac_item_scene
from oceanscan.scene import SceneSpec
from oceanscan.stac.hrefs import HrefModifier

__all__ = [
    "INPUT_KINDS",
    "KNOWN_BANDS",
    "InputKind",
    "band_name",
    "input_kind",
    "parse_bands",
    "scene_from_input",
    "scenes_from_inputs",
]

#: The kinds of file input (see the module docstring).
InputKind = Literal["geotiff", "band-files", "safe", "stac-item"]
INPUT_KINDS: tuple[str, ...] = ("geotiff", "band-files", "safe", "stac-item")

_RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2")


def input_kind(source: str | Path) -> InputKind:
    """Which kind of input ``source`` is.

    Raises:
        SceneError: for a local path that does not exist, a zipped product, or a single band
            file given alone.
    """
    text = str(source)
    name = scene_name(text)
    lower = text.split("?", 1)[0].lower().rstrip("/")
    if "://" in text and not text.startswith("file://"):
        return "geotiff" if lower.endswith(_RASTER_SUFFIXES) else "stac-item"
    path = Path(text.removeprefix("file://"))
    if path.is_dir():
        if path.name.upper().endswith(".SAFE") or (path / "MTD_MSIL2A.xml").exists():
            return "safe"
        if (path / "MTD_MSIL1C.xml").exists():
            return "safe"  # refused by safe_scene with the reason
        return "band-files"
    if not path.exists():
        raise SceneError(name, f"no such file or directory: {text!r}")
    if path.name == "MTD_MSIL2A.xml":
        return "safe"
    if lower.endswith(".zip"):
        raise SceneError(name, f"{text!r} is zipped: unzip it and give the .SAFE directory")
    if lower.endswith(".json"):
        return "stac-item"
    return "geotiff"


def scene_from_input(
    source: str | Path,
    *,
    bands: str | Sequence[str] | None = None,
    reflectance_offset: float | None = None,
    profile: str | None = None,
    href_modifier: HrefModifier | None = None,
) -> SceneSpec:
    """One input (path or URL) as a :class:`~oceanscan.scene.SceneSpec`.

    Args:
        source: a multi-band raster, a folder of band files, a ``.SAFE`` directory (or its
            ``MTD_MSIL2A.xml``), or a STAC Item JSON file or URL.
        bands: for a multi-band raster: its band names in file order, as a sequence or
            comma-separated (``"B01,B02,...,SCL"``); defaults to the file's band descriptions.
        reflectance_offset: for a raster or band folder: the reflectance offset of its DN
            (``-0.1`` for unharmonised L2A DN from baseline 04.00 on); defaults to the files'
            GDAL offset metadata, else 0. A ``.SAFE`` and a STAC Item carry their own.
        profile: for a STAC Item: the provider profile; defaults to detecting it.
        href_modifier: for a STAC Item: applied to its asset hrefs (signing).

    Returns:
        The scene, with ``provider`` ``geotiff``, ``band-files``, ``safe`` or the STAC profile's
        name, and ``properties["oceanscan:input"]`` naming the input.

    Raises:
        SceneError: naming the input and what is wrong with it.
        CatalogError: when a STAC Item URL cannot be fetched.
    """
    kind = input_kind(source)
    text = str(source)
    names = bands.split(",") if isinstance(bands, str) else bands
    if names is not None and kind != "geotiff":
        raise SceneError(
            scene_name(text),
            f"band names are for a multi-band raster; {text!r} is a {kind} input, whose bands "
            "are named by their files or assets",
        )
    if kind == "geotiff":
        return geotiff_scene(text, bands=names, offset=reflectance_offset)
    if reflectance_offset is not None and kind != "band-files":
        raise SceneError(
            scene_name(text),
            f"reflectance_offset is for rasters and band folders; {text!r} is a {kind} input "
            "that carries its own offset",
        )
    if kind == "band-files":
        folder = Path(text.removeprefix("file://")).resolve()
        return band_folder_scene(folder, offset=reflectance_offset)
    if kind == "safe":
        return safe_scene(Path(text.removeprefix("file://")).resolve())
    return stac_item_scene(text, profile=profile, href_modifier=href_modifier)


def scenes_from_inputs(
    sources: Iterable[str | Path],
    *,
    bands: str | Sequence[str] | None = None,
    reflectance_offset: float | None = None,
    profile: str | None = None,
    href_modifier: HrefModifier | None = None,
) -> list[SceneSpec]:
    """:func:`scene_from_input` for each source, all checked before any is scanned.

    ``bands`` go to the multi-band rasters among the sources, ``reflectance_offset`` to the
    rasters and band folders, ``profile`` and ``href_modifier`` to the STAC Items, so one run can
    mix kinds.

    Raises:
        SceneError: for the first input that cannot become a scene.
        ConfigError: when two inputs give the same scene id (they would share one Zarr group), or
            an option is given that no source takes (``bands`` without a multi-band raster...).
    """
    sources = list(sources)
    kinds = [input_kind(s) for s in sources]
    for value, option, takers in (
        (bands, "bands", ("geotiff",)),
        (reflectance_offset, "reflectance_offset", ("geotiff", "band-files")),
        (profile, "profile", ("stac-item",)),
        (href_modifier, "sign (href_modifier)", ("stac-item",)),
    ):
        if value is not None and not any(k in takers for k in kinds):
            raise ConfigError(
                f"{option} applies to {' and '.join(takers)} inputs; the inputs are {kinds}"
            )
    scenes = [
        scene_from_input(
            s,
            bands=bands if kind == "geotiff" else None,
            reflectance_offset=reflectance_offset if kind in ("geotiff", "band-files") else None,
            profile=profile,
            href_modifier=href_modifier,
        )
        for s, kind in zip(sources, kinds, strict=True)
    ]
    keys: dict[str, str] = {}
    for spec in scenes:
        where = str(spec.properties.get("oceanscan:input", spec.id))
        if spec.key in keys:
            raise ConfigError(
                f"inputs {keys[spec.key]!r} and {where!r} are both scene {spec.key!r}; rename one"
            )
        keys[spec.key] = where
    return scenes
