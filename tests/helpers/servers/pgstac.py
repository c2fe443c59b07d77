"""A real pgstac STAC API on loopback: PostgreSQL + PostGIS + pypgstac + stac-fastapi-pgstac.

It starts from the binaries ``scripts/setup`` installs, on free ports, in a temporary directory,
and is stopped and removed on exit. The recipe, its timings and its pitfalls are in
``notes/servers.md`` beside the project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.processes import (
    as_root,
    bound_socket,
    free_port,
    http_ok,
    require,
    run_logged,
    stop,
    wait_until,
)

__all__ = ["CLOUD_COVER_QUERYABLE", "PgstacServer", "running_pgstac"]

PGSTAC_VENV = Path(__file__).resolve().parents[3] / ".servers" / "pgstac"

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
            run_logged(
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
        run_logged(
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


def _postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has initdb (Debian's layout)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def _as_owner() -> list[str]:
    """The prefix that runs a PostgreSQL command as its owner: initdb refuses to run as root."""
    return ["runuser", "-u", "postgres", "--"] if as_root() else []


def _start_postgres(bindir: Path, workdir: Path, port: int) -> None:
    """initdb a cluster in ``workdir/data`` and start it on ``port``, durability off."""
    data = workdir / "data"
    run_logged(
        [
            *_as_owner(),
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
    run_logged(
        [
            *_as_owner(),
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(workdir / "postgres.log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        log=workdir / "pg_ctl.log",
    )


def _stop_postgres(bindir: Path, workdir: Path) -> None:
    pg_ctl = [*_as_owner(), str(bindir / "pg_ctl"), "-D", str(workdir / "data")]
    subprocess.run(
        [*pg_ctl, "-m", "fast", "-w", "stop"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def _start_api(python: Path, port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """stac-fastapi-pgstac under uvicorn on a socket of its own; the process and its URL."""
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
    with bound_socket() as sock, (workdir / "uvicorn.log").open("wb") as out:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        proc = subprocess.Popen(
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
    return proc, url


@contextmanager
def running_pgstac() -> Iterator[PgstacServer]:
    """A stac-fastapi-pgstac STAC API on a fresh PostgreSQL cluster (about 5 s to start)."""
    bindir = require(_postgres_bindir(), "PostgreSQL (initdb, pg_ctl)")
    version = bindir.parent.name
    require(Path(f"/usr/share/postgresql/{version}/extension/postgis.control"), "PostGIS")
    pypgstac = require(PGSTAC_VENV / "bin" / "pypgstac", "pypgstac")
    python = require(PGSTAC_VENV / "bin" / "python", "the stac-fastapi-pgstac virtualenv")

    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="oceanscan-pgstac-"))
    if as_root():
        shutil.chown(workdir, user="postgres")
    port = free_port()
    api: subprocess.Popen[bytes] | None = None
    pg_started = False
    try:
        _start_postgres(bindir, workdir, port)
        pg_started = True
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        run_logged([str(pypgstac), "migrate", "--dsn", dsn], log=workdir / "pypgstac.log")
        api, url = _start_api(python, port, workdir)
        ping = url + "/_mgmt/ping"
        wait_until(lambda: http_ok(ping), api, "stac-fastapi-pgstac", workdir / "uvicorn.log")
        yield PgstacServer(
            url=url,
            dsn=dsn,
            startup_s=time.monotonic() - start,
            _workdir=workdir,
            _pypgstac=pypgstac,
        )
    finally:
        if api is not None:
            stop(api)
        if pg_started:
            _stop_postgres(bindir, workdir)
        shutil.rmtree(workdir, ignore_errors=True)
