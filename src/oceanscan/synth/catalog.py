"""Synthetic STAC catalogs of Cloud-Optimized GeoTIFFs, shaped like a real provider's.

:func:`write_catalog` renders full synthetic L2A scenes (:func:`oceanscan.synth.scene.synthesize_scene`)
and writes each band as a COG at its native resolution (10, 20 or 60 m; coarser bands are area
averages of the 10 m reflectance, as the sensor integrates over its larger footprint), uint16 DN
with the ``BOA_ADD_OFFSET`` of processing baseline >= 04.00 (DN = (reflectance + 0.1) * 10000),
nodata 0, SCL at 20 m and the ground truth (MARIDA class ids) at 10 m. The seas are as clean as
real ones: most scenes hold no debris, the others a fraction of order 1e-4 to 1e-3 of their clear
water (:data:`CLEAN_SCENE_PROBABILITY`, :data:`DEBRIS_FRACTION_RANGE`). Items look like the
provider named by ``profile`` (asset keys, roles, ``raster:bands`` or ``s2:processing_baseline``,
``proj:code`` or ``proj:epsg``) so they go through the same parsing as real items, and are placed
in real UTM zones over real seas, in their real MGRS 100 km squares.

Layout (STAC best practices, self-contained, relative links, servable by stac-fastapi-static)::

    <out>/catalog.json
    <out>/<collection>/collection.json
    <out>/<collection>/<item id>/<item id>.json   and its COGs beside it
    <out>/items.ndjson                            items with absolute hrefs, for pypgstac

:func:`api_records` rewrites hrefs for any base URL (a path, ``file://`` or ``http://host/...``)
for loading into a STAC API.

The catalog is *self-contained* in the sense of pystac's ``CatalogType.SELF_CONTAINED``: every
link is relative and no document has a ``self`` link. The STAC specification requires a ``self``
link to be absolute, and a relative one is not merely untidy: stac-fastapi-static takes a
document's ``self`` link as the base of its other links, a relative one leaves them without a
scheme, and it answers every request with HTTP 500 ("No scheme supplied"). Without ``self``
links, readers resolve the relative links against the URL they fetched each document from, so the directory can be moved, copied or served as it is.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from affine import Affine

from oceanscan.sentinel2 import BAND_INFO, DN_NODATA
from oceanscan.stac.profiles import (
    EARTH_SEARCH_NAMING,
    PLANETARY_COMPUTER_NAMING,
    baseline_offset,
)
from oceanscan.synth._canvas import GRID_M, SCL_M
from oceanscan.synth._cog import area_mean, to_dn, write_cog
from oceanscan.synth._stac_documents import (
    COLLECTION_ID,
    api_records,
    asset,
    band_asset,
    catalog_document,
    cloud_cover,
    collection_document,
    grid_fields,
    item_document,
    item_id,
    item_properties,
)
from oceanscan.synth.scene import SyntheticScene, synthesize_scene
from oceanscan.synth.sites import SEA_SITES, Placement, SeaSite, footprint, mgrs_tile, place

__all__ = [
    "CLEAN_SCENE_PROBABILITY",
    "COLLECTION_ID",
    "DEBRIS_FRACTION_RANGE",
    "SEA_SITES",
    "CatalogProfile",
    "SeaSite",
    "api_records",
    "draw_debris_fraction",
    "mgrs_tile",
    "write_catalog",
]

CatalogProfile = Literal["earthsearch", "planetarycomputer"]
_PROFILES: tuple[str, ...] = ("earthsearch", "planetarycomputer")

#: Probability that a synthetic scene holds no debris at all.
CLEAN_SCENE_PROBABILITY = 0.6
#: Range of the debris fraction (of a scene's clear-water pixels) of the scenes that hold some,
#: drawn log-uniform.
#:
#: Both are a judgement, not a measurement: no survey gives the share of debris pixels in
#: Sentinel-2 scenes of the sea. What bounds them: MARIDA, a dataset of scenes *selected* for
#: debris, has 0.45 % of its labelled pixels labelled Marine Debris (the class distribution in
#: MARIDA's reference code, Kikaki et al. 2022, PLoS ONE 17(1): e0262247; 0.00452 in
#: ``../shared/reference/marida_constants.json``), and those are pixels its annotators chose to
#: label, not whole scenes. In the Durban flood-debris event of 2019-04-24, the event MARIDA and
#: most debris papers use, marinedebrisdetector (Russwurm et al. 2023) marks about 0.07 % of the
#: water pixels of a 4.8 km square of that scene (``../shared/real/README.md``).
#: Scenes away from such events hold far less, mostly none. So a scene with debris gets 1e-4 to
#: 1e-3 of its clear water, a Durban-like event at most, and most scenes get none.
DEBRIS_FRACTION_RANGE = (1e-4, 1e-3)

#: Days between the acquisitions of consecutive scenes.
_DAYS_BETWEEN_SCENES = 5


def draw_debris_fraction(rng: np.random.Generator) -> float:
    """The debris fraction of a synthetic scene's clear water, as :func:`write_catalog` draws it.

    Args:
        rng: the scene's generator; two numbers are drawn from it whatever the outcome, so
            later draws do not depend on it.

    Returns:
        0.0 with probability :data:`CLEAN_SCENE_PROBABILITY`, else a fraction drawn log-uniform
        in :data:`DEBRIS_FRACTION_RANGE` and rounded to 3 significant digits.
    """
    clean = rng.random() < CLEAN_SCENE_PROBABILITY
    lo, hi = DEBRIS_FRACTION_RANGE
    fraction = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return 0.0 if clean else float(f"{fraction:.3g}")


def _draw_synthesis(
    rng: np.random.Generator, seed: int, debris_fraction: float | None
) -> dict[str, Any]:
    """:func:`synthesize_scene`'s arguments for one scene; ``debris_fraction`` wins if given."""
    synthesis = {
        "seed": seed,
        "land_fraction": round(float(rng.uniform(0.0, 0.25)), 4),
        "cloud_fraction": round(float(rng.uniform(0.0, 0.25)), 4),
        "debris_fraction": draw_debris_fraction(rng),
    }
    if debris_fraction is not None:
        synthesis["debris_fraction"] = float(debris_fraction)
    return synthesis


def _write_bands(
    item_dir: Path, scene: SyntheticScene, placement: Placement, profile: str, offset: float
) -> dict[str, Any]:
    """Write each band at its native resolution; return the band assets by provider key."""
    naming = EARTH_SEARCH_NAMING if profile == "earthsearch" else PLANETARY_COMPUTER_NAMING
    assets: dict[str, Any] = {}
    for i, info in enumerate(BAND_INFO):
        factor = info.resolution_m // GRID_M
        refl = area_mean(scene.reflectance[i], factor)
        transform = placement.transform10 @ Affine.scale(factor)
        dn = to_dn(refl, offset)
        write_cog(item_dir / f"{info.name}.tif", dn, transform, placement.epsg, DN_NODATA)
        grid = grid_fields(transform, refl.shape, placement.epsg, profile)
        assets[naming.bands[info.name]] = band_asset(
            info, profile=profile, grid=grid, offset=offset
        )
    return assets


def _write_scl(
    item_dir: Path, scene: SyntheticScene, placement: Placement, profile: str
) -> tuple[dict[str, Any], npt.NDArray[np.uint8]]:
    """Write the scene classification at 20 m; return its asset and its pixels."""
    factor = SCL_M // GRID_M
    scl20 = np.ascontiguousarray(scene.scl[::factor, ::factor]).astype(np.uint8)
    t20 = placement.transform10 @ Affine.scale(factor)
    write_cog(item_dir / "SCL.tif", scl20, t20, placement.epsg, DN_NODATA)
    scl_asset = asset(
        "./SCL.tif",
        profile=profile,
        roles=["data"],
        grid=grid_fields(t20, scl20.shape, placement.epsg, profile),
        gsd=SCL_M,
        raster={"nodata": DN_NODATA, "data_type": "uint8", "spatial_resolution": SCL_M},
        title="Scene classification map (SCL)",
    )
    return scl_asset, scl20


def _write_truth(
    item_dir: Path, scene: SyntheticScene, placement: Placement, profile: str
) -> dict[str, Any]:
    """Write the ground truth (MARIDA class ids) at 10 m; return its asset."""
    truth = scene.labels.astype(np.uint8)
    write_cog(item_dir / "truth.tif", truth, placement.transform10, placement.epsg, DN_NODATA)
    truth_asset = asset(
        "./truth.tif",
        profile=profile,
        roles=["data", "labels"],
        grid=grid_fields(placement.transform10, truth.shape, placement.epsg, profile),
        gsd=GRID_M,
        raster={"nodata": DN_NODATA, "data_type": "uint8", "spatial_resolution": GRID_M},
        title="Ground truth",
    )
    truth_asset["description"] = "MARIDA class ids 1..15 of the synthetic scene; 0 unlabelled"
    return truth_asset


@dataclass(frozen=True)
class _Settings:
    """What every scene of one catalog shares: :func:`write_catalog`'s arguments of that name."""

    size: int
    profile: str
    baseline: str
    start: dt.datetime


def _write_scene(
    item_dir_root: Path,
    index: int,
    stream: np.random.SeedSequence,
    debris_fraction: float | None,
    settings: _Settings,
) -> dict[str, Any]:
    """Render one scene, write its COGs and return its STAC item (hrefs relative to its folder)."""
    size, profile, baseline = settings.size, settings.profile, settings.baseline
    rng = np.random.default_rng(stream)
    placement = place(SEA_SITES[index % len(SEA_SITES)], size)
    synthesis = _draw_synthesis(rng, int(stream.generate_state(1)[0]), debris_fraction)
    scene = synthesize_scene(size, size, **synthesis)
    offset = baseline_offset(baseline)
    minutes = int(rng.integers(0, 60))
    when = settings.start + dt.timedelta(days=_DAYS_BETWEEN_SCENES * index, minutes=minutes)
    platform = ("S2A", "S2B")[index % 2]
    stac_id = item_id(profile, platform, when, placement.tile, index)
    item_dir = item_dir_root / stac_id
    naming = EARTH_SEARCH_NAMING if profile == "earthsearch" else PLANETARY_COMPUTER_NAMING

    assets = _write_bands(item_dir, scene, placement, profile, offset)
    assets[naming.scl], scl20 = _write_scl(item_dir, scene, placement, profile)
    assets["truth"] = _write_truth(item_dir, scene, placement, profile)
    properties = item_properties(
        profile,
        placement,
        when=when,
        platform=platform,
        cloud_cover=cloud_cover(scl20),
        baseline=baseline,
        site_name=SEA_SITES[index % len(SEA_SITES)].name,
        synthesis=synthesis,
    )
    geometry, bbox = footprint(placement)
    return item_document(
        stac_id, profile, geometry=geometry, bbox=bbox, properties=properties, assets=assets
    )


def _dump(path: Path, obj: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n")


def _write_item(
    root: Path,
    index: int,
    stream: np.random.SeedSequence,
    debris_fraction: float | None,
    settings: _Settings,
) -> dict[str, Any]:
    """Write scene ``index`` (drawn from its own ``stream``) and its item file; return the item."""
    item = _write_scene(root, index, stream, debris_fraction, settings)
    _dump(root / item["id"] / f"{item['id']}.json", item)
    return item


def _check_arguments(
    profile: str,
    scenes: int,
    size: int,
    processing_baseline: str,
    debris_fractions: Sequence[float | None],
) -> None:
    """Raise ValueError for arguments :func:`write_catalog` refuses, naming the argument."""
    if profile not in _PROFILES:
        raise ValueError(f"Unknown catalog profile {profile!r}; must be one of {_PROFILES}")
    if scenes < 1:
        raise ValueError(f"scenes must be >= 1, got {scenes}")
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels (synthesize_scene's minimum), got {size}")
    baseline_offset(processing_baseline)  # validates
    if len(debris_fractions) > scenes:
        raise ValueError(
            f"debris_fractions has {len(debris_fractions)} values for {scenes} scenes; give at "
            "most one per scene"
        )
    for i, fraction in enumerate(debris_fractions):
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError(f"debris_fractions[{i}] is {fraction!r}; must be within [0, 1]")


def write_catalog(
    out: Path,
    *,
    scenes: int,
    size: int,
    seed: int,
    profile: CatalogProfile = "earthsearch",
    processing_baseline: str = "05.11",
    start: dt.datetime = dt.datetime(2025, 6, 1, 10, 0, tzinfo=dt.UTC),
    debris_fractions: Sequence[float | None] = (),
) -> Path:
    """Write a static STAC catalog of synthetic Sentinel-2 L2A scenes as COGs.

    Args:
        out: directory to write into (created; existing files of the same names are replaced).
        scenes: number of scenes (items), >= 1; they cycle through :data:`SEA_SITES`, 5 days apart.
        size: side of each scene's 10 m grid in pixels, >= 16 (20/60 m grids cover it with
            ``ceil(size / 2)`` and ``ceil(size / 6)`` pixels).
        seed: seed of everything random; equal arguments write equal pixels.
        profile: provider whose item layout to imitate: ``"earthsearch"`` (common-name asset keys,
            ``raster:bands`` with scale and offset, ``proj:code``) or ``"planetarycomputer"``
            (ESA band keys, no ``raster:bands``, ``proj:epsg``).
        processing_baseline: ``s2:processing_baseline`` of every item; the DN carry the -0.1
            reflectance offset from ``"04.00"`` on (defaults to ``"05.11"``).
        start: acquisition time of the first scene (UTC).
        debris_fractions: the fraction of clear-water pixels labelled debris in the first
            scenes, in order (``synthesize_scene``'s ``debris_fraction``), e.g. ``(1e-3,)`` for
            one debris event followed by ordinary scenes; a scene beyond them, or given None,
            draws its own: none with probability :data:`CLEAN_SCENE_PROBABILITY`, else
            log-uniform in :data:`DEBRIS_FRACTION_RANGE`. Defaults to drawing every one.

    Returns:
        The path of ``catalog.json``.

    Raises:
        ValueError: for ``scenes < 1``, ``size < 16``, an unknown ``profile``, a malformed
            ``processing_baseline``, more ``debris_fractions`` than scenes or one outside [0, 1].
    """
    fractions = list(debris_fractions)
    _check_arguments(profile, scenes, size, processing_baseline, fractions)
    fractions += [None] * (scenes - len(fractions))
    out = Path(out)
    root = out / COLLECTION_ID
    streams = np.random.SeedSequence(seed).spawn(scenes)
    settings = _Settings(size, profile, processing_baseline, start)
    items = [
        _write_item(root, index, stream, fractions[index], settings)
        for index, stream in enumerate(streams)
    ]
    _dump(root / "collection.json", collection_document(items, profile))
    catalog_path = out / "catalog.json"
    _dump(catalog_path, catalog_document())
    _, absolute = api_records(catalog_path, base_url=str(out.resolve()))
    (out / "items.ndjson").write_text("".join(json.dumps(i) + "\n" for i in absolute))
    return catalog_path
