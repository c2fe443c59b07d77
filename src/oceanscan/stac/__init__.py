"""STAC: provider profiles, Item -> SceneSpec, and search with pystac-client.

``from oceanscan.stac import item_to_scene, search_scenes`` is the public entry point; the
submodules hold the profiles (:mod:`.profiles`), the HTTP session with retries (:mod:`.http`),
the lazy search (:mod:`.search`) and signers by name (:mod:`.signing`).
"""

from oceanscan.stac.profiles import (
    EARTH_SEARCH_NAMING,
    PLANETARY_COMPUTER_NAMING,
    PROFILES,
    SYNTHETIC_PROPERTY,
    AssetNaming,
    HrefModifier,
    OffsetRule,
    ProviderProfile,
    baseline_offset,
    detect_profile,
    item_to_scene,
)
from oceanscan.stac.search import DEFAULT_COLLECTIONS, Rejected, cloud_cover_filter, search_scenes
from oceanscan.stac.signing import SIGNERS, resolve_signer

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
    "cloud_cover_filter",
    "detect_profile",
    "item_to_scene",
    "resolve_signer",
    "search_scenes",
]
