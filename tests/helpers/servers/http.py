"""Real HTTP with Range requests on loopback: nginx serving a directory, with an access log of
the bytes each request moved.

Each server starts from the nginx ``scripts/setup`` installs, on a free port, in a temporary
directory, and is stopped and removed on exit.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.processes import as_root, free_port, port_open, require, stop, tail, wait_until

__all__ = ["RangeRequest", "RangeServer", "range_servers"]


@dataclass(frozen=True)
class RangeRequest:
    """One request as nginx logged it."""

    method: str
    path: str
    status: int
    body_bytes: int
    range: str


_NGINX_CONF = """\
daemon off;
worker_processes 1;
{user}
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    types {{ image/tiff tif tiff; application/json json; }}
    default_type application/octet-stream;
    log_format bytes '$request_method\\t$uri\\t$status\\t$body_bytes_sent\\t$http_range';
    access_log {workdir}/access.log bytes;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        autoindex off;
    }}
}}
"""


@dataclass
class RangeServer:
    """nginx serving one directory, with an access log of the bytes each request moved.

    Attributes:
        url: base URL; ``url + "/" + relative path`` fetches a file of the directory.
        root: the directory served.
        startup_s: seconds from launch to the first answer.
    """

    url: str
    root: Path
    startup_s: float
    _access_log: Path = field(repr=False)

    def url_for(self, path: str | Path) -> str:
        """The URL of ``path``, absolute inside ``root`` or relative to it."""
        relative = Path(path).resolve().relative_to(self.root) if Path(path).is_absolute() else path
        return f"{self.url}/{Path(relative).as_posix()}"

    def requests(self) -> list[RangeRequest]:
        """Every request served so far, oldest first.

        nginx writes a log line just after the response, so the log is read until it stops
        growing: a client that has just received its last byte sees its own request logged.
        """
        text, previous = self._read(), None
        while text != previous:
            time.sleep(0.05)
            previous, text = text, self._read()
        out = []
        for line in text.splitlines():
            method, uri, status, sent, rng = line.split("\t")
            out.append(RangeRequest(method, uri, int(status), int(sent), "" if rng == "-" else rng))
        return out

    def bytes_served(self, path: str | Path | None = None) -> int:
        """Body bytes sent so far, for one file (absolute, or relative to ``root``) or for all."""
        wanted = None if path is None else "/" + self.url_for(path).removeprefix(self.url + "/")
        return sum(r.body_bytes for r in self.requests() if wanted is None or r.path == wanted)

    def _read(self) -> str:
        return self._access_log.read_text() if self._access_log.exists() else ""


def _start_nginx(
    nginx: Path, root: Path, workdir: Path, running: list[tuple[subprocess.Popen[bytes], Path]]
) -> RangeServer:
    """nginx serving ``root`` from ``workdir``, appended to ``running`` once it answers."""
    # As root, nginx workers would drop to "nobody", who cannot enter pytest's 0700 temp dirs.
    user = "user root;" if as_root() else ""
    for _attempt in range(5):  # a free port can be taken between picking and binding it
        began, port = time.monotonic(), free_port()
        conf = workdir / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(user=user, workdir=workdir, port=port, root=root))
        log = workdir / "error.log"
        proc = subprocess.Popen(
            [str(nginx), "-p", str(workdir), "-c", str(conf), "-e", str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda p=port: port_open(p), proc, "nginx", log)
        except RuntimeError:
            stop(proc)
            if "Address already in use" in tail(log):
                continue
            raise
        running.append((proc, workdir))
        return RangeServer(
            url=f"http://127.0.0.1:{port}",
            root=root,
            startup_s=time.monotonic() - began,
            _access_log=workdir / "access.log",
        )
    raise RuntimeError(f"nginx found no free port in 5 attempts:\n{tail(workdir / 'error.log')}")


@contextmanager
def range_servers() -> Iterator[Callable[[Path], RangeServer]]:
    """A factory: ``start(directory)`` starts nginx serving it (about 0.1 s); all stop on exit."""
    nginx = require(shutil.which("nginx") or "/usr/sbin/nginx", "nginx")
    running: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(directory: Path) -> RangeServer:
        root = Path(directory).resolve()
        if not root.is_dir():
            raise ValueError(f"range_http_server needs a directory to serve, got {str(root)!r}")
        workdir = Path(tempfile.mkdtemp(prefix="oceanscan-nginx-"))
        return _start_nginx(nginx, root, workdir, running)

    try:
        yield start
    finally:
        for proc, workdir in running:
            stop(proc)
            shutil.rmtree(workdir, ignore_errors=True)
