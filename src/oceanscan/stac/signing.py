"""Href modifiers by name, for providers whose asset URLs must be signed before they are read.

Planetary Computer serves its COGs from Azure Blob Storage behind short-lived SAS tokens; its
``planetary-computer`` package signs an item's hrefs in place (``sign_inplace``). oceanscan does
not depend on it: ``--sign planetary-computer`` (or ``sign:`` in the scan config) imports it on
use and says how to install it when it is missing. Any other signer is named as
``module:function`` and gets the same call (see :func:`oceanscan.stac.item_to_scene`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from oceanscan.errors import ConfigError
from oceanscan.stac.hrefs import HrefModifier

__all__ = ["SIGNERS", "resolve_signer"]

#: Signer names -> ``module:function``.
SIGNERS: Mapping[str, str] = MappingProxyType(
    {"planetary-computer": "planetary_computer:sign_inplace"}
)

#: What to install for a signer's module.
_INSTALL: Mapping[str, str] = MappingProxyType(
    {"planetary_computer": "pip install planetary-computer"}
)


def resolve_signer(name: str) -> HrefModifier:
    """The href modifier called ``name``: a key of :data:`SIGNERS` or ``module:function``.

    The module is imported now (not when oceanscan is imported), so a missing optional package
    only matters to the runs that sign.

    Raises:
        ConfigError: for an unknown name, a module that cannot be imported (naming the
            ``pip install`` that fixes it), or an attribute that is missing or not callable.
    """
    target = SIGNERS.get(name, name)
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(
            f"unknown signer {name!r}; must be one of {tuple(SIGNERS)} or 'module:function'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        fix = _INSTALL.get(module_name, f"install the package that provides {module_name!r}")
        raise ConfigError(
            f"signer {name!r} needs the {module_name!r} module, which is not installed: {fix}"
        ) from err
    modifier: object = module
    for part in attribute.split("."):
        modifier = getattr(modifier, part, None)
    if not callable(modifier):
        raise ConfigError(f"signer {name!r}: {target!r} is not a callable in {module_name!r}")
    return modifier
