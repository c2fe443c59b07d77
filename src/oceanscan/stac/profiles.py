"""Provider profiles: how each STAC provider names Sentinel-2 L2A assets and encodes reflectance.

A profile is data (asset keys per band, the SCL key, which rule gives the reflectance offset), like
torchgeo's declarative ``Sentinel2`` dataset; :func:`oceanscan.stac.items.item_to_scene` is the
one place that turns an item of any profile into a provider-independent
:class:`~oceanscan.scene.SceneSpec`.

The offset rules (DESIGN.md "Bands and reflectance", docs/reflectance.md) are:

* ``raster:bands`` where every band asset carries one ``scale`` and ``offset`` and they agree;
* Earth Search v1 ``sentinel-2-l2a`` items with ``earthsearch:boa_offset_applied: true`` had the
  offset removed from the COGs by Element 84, so their offset is 0 whatever ``raster:bands`` says;
* Planetary Computer items carry no ``raster:bands``: the offset is -0.1 from processing baseline
  04.00 on (ESA's ``BOA_ADD_OFFSET`` of -1000 DN, deployed on 25 January 2022; Sentinel-2 Products
  Specification Document S2-PDGS-TAS-DI-PSD, issue 14.9) and 0 before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlparse

import pystac

from oceanscan.errors import SceneError
from oceanscan.sentinel2 import BANDS

__all__ = [
    "EARTH_SEARCH_NAMING",
    "PLANETARY_COMPUTER_NAMING",
    "PROFILES",
    "SYNTHETIC_PROPERTY",
    "AssetNaming",
    "OffsetRule",
    "ProviderProfile",
    "baseline_offset",
    "detect_profile",
    "resolve_profile",
]

#: Where a profile takes the reflectance offset from (see the module docstring).
OffsetRule = Literal["raster_bands", "boa_offset_applied", "processing_baseline"]

#: The processing baseline from which L2A products carry BOA_ADD_OFFSET = -1000 DN.
_OFFSET_BASELINE = (4, 0)
_BASELINE_OFFSET = -0.1


@dataclass(frozen=True)
class AssetNaming:
    """One provider's asset keys for the 11 model bands and the scene classification layer.

    Attributes:
        bands: oceanscan band name (``"B8A"``) -> asset key (``"nir08"``), for every band of
            :data:`oceanscan.sentinel2.BANDS`.
        scl: asset key of the Sen2Cor scene classification layer.
    """

    bands: Mapping[str, str]
    scl: str


#: Earth Search v1 (``sentinel-2-l2a`` and ``sentinel-2-c1-l2a``): common names.
EARTH_SEARCH_NAMING = AssetNaming(
    bands=MappingProxyType(
        {
            "B01": "coastal",
            "B02": "blue",
            "B03": "green",
            "B04": "red",
            "B05": "rededge1",
            "B06": "rededge2",
            "B07": "rededge3",
            "B08": "nir",
            "B8A": "nir08",
            "B11": "swir16",
            "B12": "swir22",
        }
    ),
    scl="scl",
)

#: Planetary Computer ``sentinel-2-l2a``: ESA band names.
PLANETARY_COMPUTER_NAMING = AssetNaming(
    bands=MappingProxyType({b: b for b in BANDS}),
    scl="SCL",
)


@dataclass(frozen=True)
class ProviderProfile:
    """How one provider's Sentinel-2 L2A items are laid out.

    Attributes:
        name: profile name, stored as :attr:`SceneSpec.provider`.
        collections: collection ids this profile is known to serve.
        namings: asset namings to try, in order; the first whose ``B02`` key is among the item's
            assets is used (the synthetic catalog imitates either provider).
        offset_rule: where the reflectance offset comes from.
        hosts: host names in item links or asset hrefs that identify the provider.
    """

    name: str
    collections: tuple[str, ...]
    namings: tuple[AssetNaming, ...]
    offset_rule: OffsetRule
    hosts: tuple[str, ...] = ()


PROFILES: Mapping[str, ProviderProfile] = MappingProxyType(
    {
        "earthsearch": ProviderProfile(
            name="earthsearch",
            collections=("sentinel-2-l2a",),
            namings=(EARTH_SEARCH_NAMING,),
            offset_rule="boa_offset_applied",
            hosts=("earth-search.aws.element84.com", "sentinel-cogs.s3"),
        ),
        "earthsearch-c1": ProviderProfile(
            name="earthsearch-c1",
            collections=("sentinel-2-c1-l2a",),
            namings=(EARTH_SEARCH_NAMING,),
            offset_rule="raster_bands",
            hosts=("earth-search.aws.element84.com", "e84-earth-search-sentinel-data"),
        ),
        "planetarycomputer": ProviderProfile(
            name="planetarycomputer",
            collections=("sentinel-2-l2a",),
            namings=(PLANETARY_COMPUTER_NAMING,),
            offset_rule="processing_baseline",
            hosts=("planetarycomputer.microsoft.com", "sentinel2l2a01.blob.core.windows.net"),
        ),
        "synthetic": ProviderProfile(
            name="synthetic",
            collections=(),
            namings=(EARTH_SEARCH_NAMING, PLANETARY_COMPUTER_NAMING),
            offset_rule="raster_bands",
        ),
    }
)

#: Item property that marks oceanscan's synthetic catalog (see :mod:`oceanscan.synth.catalog`).
SYNTHETIC_PROPERTY = "oceanscan:synthetic"


def baseline_offset(baseline: str) -> float:
    """Reflectance offset implied by an ESA processing baseline such as ``"05.11"``.

    Args:
        baseline: ``s2:processing_baseline`` as ``"MM.mm"``.

    Returns:
        -0.1 for baseline 04.00 and later, 0.0 before.

    Raises:
        ValueError: if ``baseline`` is not of the form ``"MM.mm"``.
    """
    parts = str(baseline).strip().split(".")
    try:
        major, minor = (int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"Invalid processing baseline {baseline!r}; expected 'MM.mm' such as '04.00'"
        ) from None
    return _BASELINE_OFFSET if (major, minor) >= _OFFSET_BASELINE else 0.0


def _hosts(item: pystac.Item) -> set[str]:
    # link.target, not link.href: resolving an href may fetch the root catalog over the network.
    urls = [link.target for link in item.links if isinstance(link.target, str)]
    urls += [a.href for a in item.assets.values()]
    return {urlparse(u).netloc for u in urls if "://" in u}


def detect_profile(item: pystac.Item) -> ProviderProfile:
    """Work out which provider an item comes from.

    In order: the synthetic marker property (:data:`SYNTHETIC_PROPERTY`); the collection id
    ``sentinel-2-c1-l2a``; ``earthsearch:*`` properties or an Earth Search host in links or hrefs;
    a Planetary Computer host; the asset keys (``blue`` for Earth Search, ``B02`` for Planetary
    Computer). Items re-served by another STAC API keep their properties and asset hrefs, so
    detection does not rely on links alone.

    Raises:
        SceneError: when no profile matches.
    """
    props = item.properties
    if props.get(SYNTHETIC_PROPERTY):
        return PROFILES["synthetic"]
    if item.collection_id == "sentinel-2-c1-l2a":
        return PROFILES["earthsearch-c1"]
    hosts = " ".join(_hosts(item))
    es_hosts = PROFILES["earthsearch"].hosts + PROFILES["earthsearch-c1"].hosts
    if any(k.startswith("earthsearch:") for k in props) or any(h in hosts for h in es_hosts):
        return PROFILES["earthsearch"]
    if any(h in hosts for h in PROFILES["planetarycomputer"].hosts):
        return PROFILES["planetarycomputer"]
    if EARTH_SEARCH_NAMING.bands["B02"] in item.assets:
        return PROFILES["earthsearch"]
    if PLANETARY_COMPUTER_NAMING.bands["B02"] in item.assets:
        return PROFILES["planetarycomputer"]
    raise SceneError(
        item.id,
        f"cannot tell the provider (collection {item.collection_id!r}, assets "
        f"{sorted(item.assets)}); pass profile= one of {tuple(PROFILES)}",
    )


def resolve_profile(item: pystac.Item, profile: str | None) -> ProviderProfile:
    """The profile named ``profile``, or the one :func:`detect_profile` finds for ``item``.

    Raises:
        ValueError: for a name not in :data:`PROFILES`.
        SceneError: when no name is given and no profile matches the item.
    """
    if profile is None:
        return detect_profile(item)
    if profile not in PROFILES:
        raise ValueError(
            f"Unknown STAC provider profile {profile!r}; must be one of {tuple(PROFILES)}"
        )
    return PROFILES[profile]
