"""The embedded STAC API: a local static catalog served over HTTP, with no database.

``oceanscan demo`` writes a synthetic catalog of Cloud-Optimized GeoTIFFs to disk and scans it
through the same code path as a real provider: a STAC API searched by pystac-client. This module
starts that API for it.

Why stac-fastapi-static. Five STAC API servers were installed and measured on a two-core Debian
machine (``notes/servers.md`` beside the project):

- stac-fastapi-pgstac is the only one that honours ``query``, ``filter`` and ``sortby`` alike, but it
  needs PostgreSQL with PostGIS: right for the tests, too heavy for a demo on a laptop.
- stac-fastapi-static 1.0.1 serves a plain ``catalog.json`` tree, starts in about 1 s, and answers
  ``bbox``, ``datetime``, ``ids`` and CQL2 ``filter`` correctly. It silently ignores ``query`` and
  ``sortby``, so searches meant for it must filter with CQL2 ``filter`` and sort on the client.
- stac-fastapi-geoparquet and ``rustac serve`` need DuckDB extensions that cannot be fetched offline;
  ``rustac serve`` with its in-memory backend returns zero items for any filter without an error.

With a local catalog, stac-fastapi-static also mounts the catalog directory at ``/`` and rewrites
asset hrefs that lie inside it into URLs of that mount: the same server hands the catalog's COGs to
GDAL over HTTP with Range requests, as a cloud provider would. Its collections carry no ``items``
link, so fetch single items with ``search(ids=[...])``.

Requirements: ``stac-fastapi-static==1.0.1`` and ``starlette<0.51`` (with a newer starlette every
request answers 500); ``scripts/setup`` installs both into the project's virtualenv. The server runs
as a child process of the interpreter named by ``OCEANSCAN_STAC_SERVER_PYTHON``, else of the
current one.

The server gets only the settings oceanscan means. stac-fastapi reads its settings
(pydantic-settings, no prefix, any case) from the environment and from a ``.env`` file in its
working directory, even at import time, and uvicorn's command line reads ``UVICORN_*`` and
``WEB_CONCURRENCY``: a user's ``CACHE=/some/path`` became the boolean ``cache`` setting and the
server exited before answering. So the child starts in an empty working directory, removes from
its environment every variable the package's settings classes would read, builds its
``Settings`` from explicit values with every other source switched off, and runs uvicorn through
its Python API with explicit options (:data:`_LAUNCHER`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from oceanscan.errors import CatalogError

__all__ = ["STARTUP_TIMEOUT_S", "main", "serve"]

#: How long ``serve`` waits for the API's landing page before giving up (it takes ~1 s here).
STARTUP_TIMEOUT_S = 60.0

_PYTHON_ENV = "OCEANSCAN_STAC_SERVER_PYTHON"
_LOG_LEVEL = "warning"

#: The server process: ``python -c _LAUNCHER OPTIONS_JSON``, started in an empty directory (no
#: ``.env`` file to read, no module to shadow an import). It imports nothing from oceanscan (the
#: interpreter of ``OCEANSCAN_STAC_SERVER_PYTHON`` needs only stac-fastapi-static). Importing
#: ``stac_fastapi.types.core`` builds an ``ApiSettings()`` from the environment, so the launcher
#: first removes every variable a settings class of the installed package would read (its field
#: names, any case, after its ``env_prefix``, and their nested ``__`` forms); then it builds the
#: server's ``Settings`` from ``OPTIONS_JSON`` with every other source switched off
#: (``settings_customise_sources``), and runs uvicorn through its Python API, which reads no
#: ``UVICORN_*`` variable, with one worker and no reloading.
_LAUNCHER = """\
# oceanscan: the embedded STAC API (stac-fastapi-static), started by oceanscan.stac_server.serve
import json
import logging
import os
import sys

import uvicorn
from stac_fastapi.types.config import ApiSettings


def scrub_environment(settings_cls):
    config = settings_cls.model_config
    prefix = (config.get("env_prefix") or "").lower()
    nested = (config.get("env_nested_delimiter") or "__").lower()
    names = {prefix + name.lower() for name in settings_cls.model_fields}
    names |= {
        field.alias.lower()
        for field in settings_cls.model_fields.values()
        if isinstance(field.alias, str)
    }
    for key in list(os.environ):
        low = key.lower()
        if low in names or any(low.startswith(name + nested) for name in names):
            del os.environ[key]


scrub_environment(ApiSettings)
from stac_fastapi.static.api import Settings, make_api  # noqa: E402

scrub_environment(Settings)


class ExplicitSettings(Settings):
    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **other_sources):
        return (init_settings,)


options = json.loads(sys.argv[1])
settings = ExplicitSettings(**options["settings"])
logging.basicConfig(level=settings.log_level.upper())
config = uvicorn.Config(
    make_api(settings).app,
    fd=options["fd"],
    log_level=settings.log_level,
    workers=1,
    reload=False,
    proxy_headers=False,
    forwarded_allow_ips="127.0.0.1",
    env_file=None,
)
uvicorn.Server(config).run()
"""
_STDERR_TAIL_CHARS = 4000
_ROOT_TYPES = frozenset({"Catalog", "Collection"})


@contextlib.contextmanager
def serve(catalog_json: Path, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve a static STAC catalog as a STAC API for the duration of a ``with`` block.

    The socket is bound here, before the server starts, and handed to uvicorn by file descriptor:
    with ``port=0`` the kernel picks a free port and no other process can take it in between.

    Args:
        catalog_json: the root ``catalog.json`` of a catalog saved in the best-practice layout
            (items at ``<collection>/<item id>/<item id>.json``, as pystac writes them).
        host: the address to listen on; defaults to loopback only.
        port: the TCP port; defaults to 0, a free port chosen by the kernel.

    Yields:
        The API's root URL, e.g. ``http://127.0.0.1:41234``, ready to answer searches.

    Raises:
        CatalogError: when ``catalog_json`` is missing or is not a STAC Catalog or Collection
            (the server would silently answer every search with no items), when
            stac-fastapi-static is not installed, or when the server exits, answers an error or
            stays silent for ``STARTUP_TIMEOUT_S``; the message names the catalog and carries
            the server's stderr.
    """
    catalog_json = Path(catalog_json).resolve()
    _check_catalog(catalog_json)
    python = _server_python()
    with (
        tempfile.TemporaryFile(mode="w+b", prefix="oceanscan-stac-") as stderr,
        tempfile.TemporaryDirectory(prefix="oceanscan-stac-") as workdir,
    ):
        with _bound_socket(host, port) as sock:
            bound_host, bound_port = sock.getsockname()[:2]
            url = f"http://{_url_host(bound_host)}:{bound_port}"
            options = {"settings": _server_settings(catalog_json), "fd": sock.fileno()}
            proc = subprocess.Popen(
                [python, "-c", _LAUNCHER, json.dumps(options)],
                cwd=workdir,  # empty: no .env file, no module shadowing the server's imports
                pass_fds=(sock.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        # Only the server holds the socket now: if it dies, connections are refused at once.
        try:
            _wait_until_ready(url, proc, catalog_json, stderr)
            yield url
        finally:
            _stop(proc)


def _server_settings(catalog_json: Path) -> dict[str, Any]:
    """The stac-fastapi-static settings :func:`serve` starts the server with, and no others.

    Every other setting keeps the package's default, whatever the environment says.

    Args:
        catalog_json: the root ``catalog.json``, an absolute path.

    Returns:
        Keyword arguments of ``stac_fastapi.static.api.Settings``.
    """
    return {
        "catalog_href": str(catalog_json),
        "assume_best_practice_layout": True,
        "cache": False,  # a local catalog is never cached; explicit all the same
        "reload": False,
        "root_path": "",
        "log_level": _LOG_LEVEL,
    }


def _check_catalog(catalog_json: Path) -> None:
    """Refuse a root that is not a STAC catalog: the server would answer every search with []."""
    try:
        root = json.loads(catalog_json.read_text())
    except FileNotFoundError as err:
        raise CatalogError(
            f"cannot serve STAC catalog {str(catalog_json)!r}: no such file"
        ) from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CatalogError(f"cannot serve STAC catalog {str(catalog_json)!r}: {err}") from err
    kind = root.get("type") if isinstance(root, dict) else None
    if kind not in _ROOT_TYPES:
        raise CatalogError(
            f"cannot serve STAC catalog {str(catalog_json)!r}: its type is {kind!r}, "
            f"expected one of {sorted(_ROOT_TYPES)}"
        )


def _server_python() -> str:
    """The interpreter that runs the server: ``$OCEANSCAN_STAC_SERVER_PYTHON`` or this one."""
    python = os.environ.get(_PYTHON_ENV)
    if python:
        return python
    if importlib.util.find_spec("stac_fastapi") is None or (
        importlib.util.find_spec("stac_fastapi.static") is None
    ):
        raise CatalogError(
            "the embedded STAC API needs stac-fastapi-static, which is not installed in "
            f"{sys.executable}: run scripts/setup, or pip install 'stac-fastapi-static==1.0.1' "
            f"'starlette<0.51', or point {_PYTHON_ENV} at an interpreter that has it"
        )
    return sys.executable


@contextlib.contextmanager
def _bound_socket(host: str, port: int) -> Iterator[socket.socket]:
    """A listening TCP socket on ``host:port``, closed on exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise CatalogError(f"cannot listen on {host}:{port} for the STAC API: {err}") from err
        sock.listen(128)
        sock.set_inheritable(True)
        yield sock
    finally:
        sock.close()


def _url_host(host: str) -> str:
    """How a client on this machine reaches ``host``: wildcard addresses become loopback."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _wait_until_ready(
    url: str, proc: subprocess.Popen[bytes], catalog: Path, stderr_file: IO[bytes]
) -> None:
    """Poll the landing page until it answers 200; fail early if the server process exits."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CatalogError(
                f"the STAC API for catalog {str(catalog)!r} exited with code {proc.returncode} "
                f"before answering; its stderr:\n{_tail(stderr_file)}"
            )
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as err:
            # Requests wait in the socket's backlog until the app has started, so an error
            # status is the app's answer about this catalog, not a server still starting.
            if err.code >= 500:
                body = err.read().decode("utf-8", errors="replace")[:_STDERR_TAIL_CHARS]
                _stop(proc)
                raise CatalogError(
                    f"the STAC API for catalog {str(catalog)!r} answers HTTP {err.code} at {url}/: "
                    f"{body}; its stderr:\n{_tail(stderr_file)}"
                ) from err
            last_error = f"HTTP {err.code}"
        except (urllib.error.URLError, OSError) as err:
            last_error = str(err)
        time.sleep(0.1)
    _stop(proc)
    raise CatalogError(
        f"the STAC API for catalog {str(catalog)!r} did not answer at {url} within "
        f"{STARTUP_TIMEOUT_S:.0f} s (last error: {last_error}); its stderr:\n{_tail(stderr_file)}"
    )


def _tail(stderr_file: IO[bytes]) -> str:
    stderr_file.flush()
    stderr_file.seek(0)
    text = stderr_file.read().decode("utf-8", errors="replace")
    return text[-_STDERR_TAIL_CHARS:] or "(empty)"


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Terminate the server, killing it if it does not exit within ``timeout_s``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a catalog until interrupted: ``python -m oceanscan.stac_server CATALOG_JSON``.

    Args:
        argv: command-line arguments; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code: 0 after Ctrl-C, 2 when the server cannot start.
    """
    parser = argparse.ArgumentParser(
        prog="python -m oceanscan.stac_server",
        description="Serve a static STAC catalog (best-practice layout) as a STAC API.",
    )
    parser.add_argument("catalog_json", type=Path, help="the root catalog.json")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    args = parser.parse_args(argv)
    # SIGTERM (a scheduler, `timeout`, `kill`) must stop the server too, not orphan it.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        with serve(args.catalog_json, host=args.host, port=args.port) as url:
            print(f"STAC API for {args.catalog_json} at {url} (Ctrl-C stops it)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    except CatalogError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
