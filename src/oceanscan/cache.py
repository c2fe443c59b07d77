"""Where oceanscan keeps files it can rebuild (the coastline index, converted networks)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """``$OCEANSCAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/oceanscan``, else ``~/.cache/oceanscan``."""
    explicit = os.environ.get("OCEANSCAN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "oceanscan"
