"""GDAL's settings for reading COGs in a scan, captured on the driver and re-entered on workers.

GDAL's cloud settings are one named constant, :data:`GDAL_CLOUD_DEFAULTS`, entered with
``rasterio.Env`` around every read (like odc-stac's ``capture_rio_env``/``restore_env``): the
driver may snapshot its own settings with :func:`capture_rio_env` and pass them to tasks on
other machines, which re-enter them with :func:`rasterio_env`. :func:`gdal_path` says which GDAL
virtual file system opens an asset href.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import rasterio
import rasterio.env
from rasterio.session import Session

__all__ = ["GDAL_CLOUD_DEFAULTS", "capture_rio_env", "gdal_path", "rasterio_env"]

#: GDAL configuration for reading COGs from object stores and HTTP servers. Values follow GDAL's
#: "Configuration options" page and odc-stac's defaults: no directory listing on open (a COG is
#: one file), only ``.tif`` suffixes go through /vsicurl (no probing for sidecar files), retries
#: on 429/5xx, merged range requests, and a block cache shared by the reads of a task.
GDAL_CLOUD_DEFAULTS: Mapping[str, str] = MappingProxyType(
    {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.TIF,.tiff,.TIFF",
        "GDAL_HTTP_MAX_RETRY": "5",
        "GDAL_HTTP_RETRY_DELAY": "1",
        "GDAL_HTTP_TIMEOUT": "60",
        "GDAL_HTTP_MULTIRANGE": "YES",
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        "GDAL_HTTP_VERSION": "2TLS",  # HTTP/2 where TLS negotiates it, HTTP/1.1 otherwise
        "VSI_CACHE": "TRUE",
        "VSI_CACHE_SIZE": str(64 * 1024**2),
        "GDAL_NUM_THREADS": "1",
    }
)

#: Settings never shipped to another machine: they are paths on the machine that captured them.
_MACHINE_LOCAL = ("GDAL_DATA", "PROJ_LIB", "PROJ_DATA")

#: GDAL options that rasterio refuses in ``rasterio.Env(**options)`` (it expects a boto3 session,
#: which oceanscan does not depend on); they are handed to GDAL through :class:`_StaticCredentials`.
_CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class _StaticCredentials(Session):
    """A rasterio session that gives GDAL fixed credentials (no boto3 needed)."""

    def __init__(self, credentials: Mapping[str, str]) -> None:
        self.credentials = dict(credentials)

    @classmethod
    def hascreds(cls, config: Mapping[str, Any]) -> bool:
        """The credentials are in the session itself, whatever ``config`` holds."""
        return True

    def get_credential_options(self) -> dict[str, str]:
        """The credentials as GDAL configuration options."""
        return dict(self.credentials)


def rasterio_env(options: Mapping[str, Any]) -> rasterio.Env:
    """``rasterio.Env`` for GDAL ``options``; AWS credentials among them go through a session."""
    config = {k: v for k, v in options.items() if k not in _CREDENTIAL_KEYS}
    credentials = {k: str(v) for k, v in options.items() if k in _CREDENTIAL_KEYS}
    session = _StaticCredentials(credentials) if credentials else None
    return rasterio.Env(session=session, **config)


def _gdal_value(value: Any) -> str:
    """A configuration value as GDAL writes it (rasterio keeps booleans as Python bools)."""
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    return str(value)


def capture_rio_env() -> dict[str, str]:
    """Snapshot the GDAL settings to use in reads: the cloud defaults plus any active ``rasterio.Env``.

    Call this on the driver (for instance inside ``with rasterio.Env(AWS_S3_ENDPOINT=...)``) and
    pass the result as ``read_window(..., rio_env=...)`` to tasks. Machine-local paths such as
    ``GDAL_DATA`` are dropped.
    """
    env = dict(GDAL_CLOUD_DEFAULTS)
    if rasterio.env.hasenv():
        env.update({k: _gdal_value(v) for k, v in rasterio.env.getenv().items()})
    for key in _MACHINE_LOCAL:
        env.pop(key, None)
    return env


def gdal_path(href: str) -> str:
    """The path GDAL opens for an asset href: ``s3://`` -> ``/vsis3/``, ``http(s)://`` -> ``/vsicurl/``.

    ``file://`` URIs become plain paths; anything else (local paths, ``/vsi*`` paths) is returned
    unchanged.
    """
    if href.startswith("s3://"):
        return "/vsis3/" + href.removeprefix("s3://")
    if href.startswith(("http://", "https://")):
        return "/vsicurl/" + href
    if href.startswith("file://"):
        return href.removeprefix("file://")
    return href
