"""The reference data in ``../shared`` beside the project: real crops, STAC items, fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

__all__ = ["SHARED", "real_dir", "shared_path", "stac_fixture"]

SHARED = Path(__file__).resolve().parents[3] / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; fails (not skips) under CI=true when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared reference data missing: {path}")
        pytest.skip(f"shared reference data missing: {path}")
    return path


def real_dir() -> Path:
    """``../shared/real``; skips the test when it is missing, fails under CI=true."""
    return shared_path("real")


def stac_fixture(name: str) -> dict[str, Any]:
    """One fetched STAC document of ``../shared/fixtures/stac``, as JSON."""
    return json.loads(shared_path("fixtures", "stac", name).read_text())
