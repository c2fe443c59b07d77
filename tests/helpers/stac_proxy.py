"""A real HTTP proxy on loopback in front of a STAC API that injects faults per request.

Each request is forwarded to the upstream API unless the script says otherwise: answer a status
(with an optional ``Retry-After``) without forwarding, or sleep before forwarding (so the client's
read timeout fires). The ``Host`` header is passed through, so the API builds its ``next`` and
``self`` links on the proxy's address and every page goes through the faults too.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Fault:
    """What the proxy does with one request: ``status`` answers it (no forwarding) when set;
    ``delay_s`` waits before forwarding or answering; ``retry_after_s`` adds a Retry-After."""

    status: int | None = None
    delay_s: float = 0.0
    retry_after_s: int | None = None


PASS = Fault()

#: script(method, path, n) -> Fault, where n counts requests of that (method, path) from 1.
Script = Callable[[str, str, int], Fault]


@dataclass
class StacProxy:
    """A running proxy; ``log`` lists ``(monotonic time, method, path, status)`` per request."""

    url: str
    upstream: str
    script: Script
    log: list[tuple[float, str, str, int]] = field(default_factory=list)
    _server: Any = None
    _counts: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def statuses(self, method: str, path_prefix: str) -> list[int]:
        """Statuses answered to requests whose path starts with ``path_prefix``."""
        return [s for _, m, p, s in self.log if m == method and p.startswith(path_prefix)]

    def times(self, method: str, path_prefix: str) -> list[float]:
        """Arrival times of those requests."""
        return [t for t, m, p, _ in self.log if m == method and p.startswith(path_prefix)]

    def close(self) -> None:
        """Stop serving and free the port (clients then see "connection refused")."""
        self._server.shutdown()
        self._server.server_close()

    def count(self, method: str, path: str) -> int:
        """Count one more request of ``(method, path)``; the count so far, from 1."""
        with self._lock:
            n = self._counts[(method, path)] = self._counts.get((method, path), 0) + 1
        return n


def _injected(status: int, retry_after_s: int | None) -> tuple[int, dict[str, str], bytes]:
    """The answer to a request the script fails: status, headers, body."""
    payload = b'{"code": "Injected", "description": "fault injected by the proxy"}'
    headers = {"Content-Type": "application/json"}
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return status, headers, payload


def _forward(
    upstream: str, method: str, path: str, body: bytes, request_headers: Message
) -> tuple[int, dict[str, str], bytes]:
    """The upstream API's answer to the request, ``Host`` header included: status, headers, body."""
    target = urlsplit(upstream)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    forward = {k: v for k, v in request_headers.items() if k.lower() != "connection"}
    conn.request(method, path, body=body or None, headers=forward)
    resp = conn.getresponse()
    payload = resp.read()
    headers = {
        k: v
        for k, v in resp.getheaders()
        if k.lower() not in ("transfer-encoding", "connection", "content-length")
    }
    conn.close()
    return resp.status, headers, payload


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: StacProxy


class _Handler(BaseHTTPRequestHandler):
    """Forwards each request, or fails it, as the proxy's script says."""

    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self, method: str) -> None:
        proxy = self.server.proxy
        arrived = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path
        fault = proxy.script(method, path, proxy.count(method, path.split("?")[0]))
        time.sleep(fault.delay_s)
        if fault.status is not None:
            status, headers, payload = _injected(fault.status, fault.retry_after_s)
        else:
            status, headers, payload = _forward(proxy.upstream, method, path, body, self.headers)
        proxy.log.append((arrived, method, path, status))
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and went away

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


def start_proxy(upstream: str, script: Script) -> StacProxy:
    """Start a fault-injecting proxy for ``upstream`` on a free loopback port."""
    proxy = StacProxy(url="", upstream=upstream, script=script)
    server = _ProxyServer(("127.0.0.1", 0), _Handler)
    server.proxy = proxy
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    proxy._server = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return proxy
