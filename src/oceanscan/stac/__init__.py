"""STAC: provider profiles, Item -> SceneSpec, search with pystac-client, static catalogs.

``from oceanscan.stac import item_to_scene, search_scenes`` is the public entry point; the
submodules hold the profiles (:mod:`.profiles`), the item parsing (:mod:`.items`), href signing
and rewriting (:mod:`.hrefs`), the HTTP session with retries (:mod:`.http`), the lazy search
(:mod:`.search`), static catalogs read without a server (:mod:`.static`), the record of rejected
items (:mod:`.rejected`) and signers by name (:mod:`.signing`).
"""

from oceanscan.stac.hrefs import HrefModifier
from oceanscan.stac.items import item_to_scene
from oceanscan.stac.profiles import (
    EARTH_SEARCH_NAMING,
    PLANETARY_COMPUTER_NAMING,
    PROFILES,
    SYNTHETIC_PROPERTY,
    AssetNaming,
    OffsetRule,
    ProviderProfile,
    baseline_offset,
    detect_profile,
)
from oceanscan.stac.rejected import Rejected
from oceanscan.stac.search import DEFAULT_COLLECTIONS, cloud_cover_filter, search_scenes
from oceanscan.stac.signing import SIGNERS, resolve_signer
from oceanscan.stac.static import catalog_items, static_scenes

__all__ = [
    "DEFAULT_COLLECTIONS",
    "EARTH_SEARCH_NAMING",
    "PLANETARY_COMPUTER_NAMING",
    "PROFILES",
    "SIGNERS",
    "SYNTHETIC_PROPERTY",
    "AssetNaming",
    "HrefModifier",
    "OffsetRule",
    "ProviderProfile",
    "Rejected",
    "baseline_offset",
    "catalog_items",
    "cloud_cover_filter",
    "detect_profile",
    "item_to_scene",
    "resolve_signer",
    "search_scenes",
    "static_scenes",
]
