"""oceanscan: floating marine debris in Sentinel-2 imagery, from training to scene-wide scans."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("oceanscan")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
