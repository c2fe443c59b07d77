"""Fixtures of the scan tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.bundles import save_tiny_bundle


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny bundle for the whole session."""
    return save_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")
