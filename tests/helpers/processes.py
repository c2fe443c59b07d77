"""Starting, waiting for and stopping the server processes of the tests, on loopback ports.

A missing binary skips the test that needs it, except under ``CI=true`` where it fails and says
to run ``scripts/setup``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = [
    "STARTUP_TIMEOUT_S",
    "as_root",
    "bound_socket",
    "free_port",
    "http_ok",
    "port_open",
    "require",
    "run_logged",
    "stop",
    "tail",
    "wait_until",
]

STARTUP_TIMEOUT_S = 60.0


def require(path: Path | str | None, what: str) -> Path:
    """``path`` as a Path, or skip (fail under CI=true) naming what is missing and the fix."""
    if path is not None and Path(path).exists():
        return Path(path)
    where = f" (looked for {path})" if path is not None else ""
    message = f"{what} is not installed{where}: run scripts/setup"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port that nothing listens on right now, on any address of this machine.

    Bound on every address, not loopback alone: Ray's agents listen on the node's own address,
    where a port free on 127.0.0.1 can still be taken.
    """
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))  # probing for a free port: nothing is served
        return int(sock.getsockname()[1])


def bound_socket() -> socket.socket:
    """A listening socket on a kernel-chosen loopback port, to hand to uvicorn with ``--fd``."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def tail(path: Path, chars: int = 3000) -> str:
    """The end of a log file, for an error message."""
    try:
        return path.read_text(errors="replace")[-chars:] or "(empty)"
    except OSError:
        return "(no log)"


def run_logged(cmd: list[str], *, log: Path) -> None:
    """Run a setup command; on failure raise with the command and its output."""
    with log.open("ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with code {result.returncode}:\n{tail(log)}")


def wait_until(
    ready: Callable[[], bool], proc: subprocess.Popen[bytes] | None, what: str, log: Path
) -> float:
    """Poll ``ready`` until it is true; returns the seconds waited. Fails if ``proc`` exits."""
    start = time.monotonic()
    while time.monotonic() - start < STARTUP_TIMEOUT_S:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}:\n{tail(log)}")
        with contextlib.suppress(Exception):
            if ready():
                return time.monotonic() - start
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {STARTUP_TIMEOUT_S:.0f} s:\n{tail(log)}")


def http_ok(url: str) -> bool:
    """Whether ``url`` answers 200."""
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


def port_open(port: int) -> bool:
    """Whether something accepts connections on ``port`` of 127.0.0.1."""
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Terminate ``proc`` by PID, killing it if it lingers past ``timeout_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def as_root() -> bool:
    """Whether the tests run as root (initdb refuses to; nginx workers would drop privileges)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0
