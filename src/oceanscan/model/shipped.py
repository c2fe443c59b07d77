"""The default model bundle that ships inside the package, so a scan needs no training first.

It is trained with the recipe and the one command of ``docs/model.md`` (synthetic MARIDA-layout
patches, local-contrast input, radiometric augmentation, real plastic and look-alike spectra,
threshold tuned at a realistic debris fraction) and checked in CI against the real scenes of
``benchmarks/real_sea.py``. ``oceanscan scan`` uses it when no ``--model`` is given.
"""

from __future__ import annotations

from pathlib import Path

from oceanscan.errors import BundleError

__all__ = ["DEFAULT_BUNDLE_PATH", "default_bundle_dir"]

#: Where the shipped bundle lies: ``default/`` beside this module. A configuration may name it
#: before it is checked; :func:`default_bundle_dir` checks.
DEFAULT_BUNDLE_PATH = Path(__file__).resolve().with_name("default")


def default_bundle_dir() -> Path:
    """Directory of the model bundle shipped with oceanscan (``model.pt`` + ``model.json``).

    Returns:
        An absolute path, loadable with :func:`oceanscan.model.load_bundle`.

    Raises:
        BundleError: when the installation lacks the bundle (a source tree without its
            package data), saying how to get a model instead.
    """
    path = DEFAULT_BUNDLE_PATH
    if not (path / "model.json").is_file() or not (path / "model.pt").is_file():
        raise BundleError(
            f"the default model bundle is missing from this installation ({path}); reinstall "
            "oceanscan, or train one (docs/model.md) and pass it with --model"
        )
    return path
