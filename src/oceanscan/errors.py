"""The exceptions oceanscan raises. Each message names the input at fault and, where possible, the fix."""

from __future__ import annotations

__all__ = [
    "BundleError",
    "CatalogError",
    "ConfigError",
    "DatasetNotFoundError",
    "OceanscanError",
    "SceneError",
]


class OceanscanError(Exception):
    """Base class of every error oceanscan raises on purpose."""


class ConfigError(OceanscanError, ValueError):
    """A configuration file or setting is malformed or out of range; the message names the field."""


class CatalogError(OceanscanError):
    """A STAC API could not be searched (after retries).

    Attributes:
        status_code: HTTP status of the last response, or None when there was no response.
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class SceneError(OceanscanError):
    """A scene cannot be scanned (missing band, missing projection, unreadable asset...).

    The scan records ``reason`` in the scene's status and carries on with the other scenes.
    """

    def __init__(self, scene_id: str, reason: str) -> None:
        super().__init__(f"scene {scene_id!r}: {reason}")
        self.scene_id = scene_id
        self.reason = reason


class BundleError(OceanscanError):
    """A model bundle is missing, malformed, unsafe, or does not fit the data it is asked to score."""


class DatasetNotFoundError(OceanscanError, FileNotFoundError):
    """A MARIDA-layout directory, split file or patch file is missing; the message says how to fix it."""
