"""Per-scene claims: at most one live scan writes a scene at a time, even with two runs at once.

Two scheduled scans can overlap (a cron job that runs long, an operator who starts one by hand).
Without coordination both would recreate the same scene group, and one run's ``create_scene``
would wipe chunks the other had already written. A *claim* is a small lease file beside the store,
``<root>/claims/<scene_key>.<generation>.lease``, made with an **exclusive create**: a hard link
of a fully written temporary file (``link(2)`` fails with ``EEXIST`` like ``O_EXCL``, also on NFS)
on local and network filesystems, the ``x`` open mode (S3 ``If-None-Match: *`` conditional
write) through fsspec elsewhere. Exactly one of two racing creators succeeds; the
other gets :class:`FileExistsError` and leaves the scene alone.

A lease names its holder (run id, host, pid and the process start time) and an expiry. It is
*stale* when its expiry has passed, or when its holder ran on this host and that process no
longer exists (a driver killed with SIGKILL frees its scenes at once, without waiting for the
expiry). A stale lease is never deleted to take over: the taker creates the *next generation*
exclusively, so of several processes that find the same stale lease only one wins, and a release
racing with a takeover cannot delete the new holder's lease. The current holder of a key is its
highest generation; older generations are removed by whoever holds a newer one.

Departures from a database lock, on purpose: the store stays the single source of truth (a
claim only says who may *write* a scene now; statuses live in the scene groups), and a lost
claims directory costs nothing but the protection while it is gone.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec

__all__ = ["CLAIMS_DIR", "DEFAULT_TTL_S", "ClaimBusyError", "ClaimStore", "Lease"]

log = logging.getLogger(__name__)

#: Directory of the lease files under an output root (beside ``scenes.zarr``, not inside it).
CLAIMS_DIR = "claims"
#: Default lifetime of a lease without renewal, in seconds. A holder renews well before it.
DEFAULT_TTL_S = 900.0

_LEASE = re.compile(r"^(?P<key>.+)\.(?P<gen>\d+)\.lease$")


class ClaimBusyError(TimeoutError):
    """A claim stayed held by another live process for longer than the caller would wait."""


@dataclass(frozen=True)
class Lease:
    """A claim this process holds.

    Attributes:
        key: the claimed name (a scene key, or ``_root`` for store-wide updates).
        generation: the lease generation this process created.
        token: random id written in the lease, so the holder recognises its own file.
        path: the lease file's path on its filesystem.
    """

    key: str
    generation: int
    token: str
    path: str


def _process_start(pid: int) -> str | None:
    """Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), or None.

    None means "no such process" or "a zombie": either way it no longer holds anything.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start = fields[0], fields[19]
    return None if state in ("Z", "X") else start


def _precondition_failed(err: BaseException) -> bool:
    """Whether an object store refused a conditional write because the object exists.

    s3fs reports S3's ``412 PreconditionFailed`` (the answer to ``If-None-Match: *`` when the key
    exists) as a generic ``OSError``; the S3 error code is on the chained botocore error.
    """
    seen: BaseException | None = err
    while seen is not None:
        response = getattr(seen, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        if code in ("PreconditionFailed", "412") or "PreconditionFailed" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _alive_here(holder: Mapping[str, Any]) -> bool | None:
    """Whether a lease's holder process is alive, when it ran on this host; None when unknown."""
    if holder.get("host") != socket.gethostname() or not Path("/proc/self/stat").exists():
        return None
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return None
    start = _process_start(pid)
    # A different start time means the pid was reused by another process.
    return start is not None and start == holder.get("pid_start")


class ClaimStore:
    """Exclusive, expiring claims on names under an output root (a path or an fsspec URL).

    Args:
        root: the scan output root (the directory or URL that holds ``scenes.zarr``).
        owner: who claims, recorded in each lease (the run id); defaults to a random id.
        ttl_s: seconds a lease stays valid without renewal; defaults to :data:`DEFAULT_TTL_S`.
        storage_options: fsspec options for ``root`` (S3 endpoint, credentials).

    Raises:
        ValueError: for a non-positive ``ttl_s``.
    """

    def __init__(
        self,
        root: str,
        *,
        owner: str | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0 seconds, got {ttl_s!r}")
        url = root.removeprefix("file://")
        self._local = "://" not in url
        self._fs, base = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
        self._dir = base.rstrip("/") + "/" + CLAIMS_DIR
        self.owner = owner or uuid.uuid4().hex
        self.ttl_s = float(ttl_s)
        self._held: dict[str, Lease] = {}
        self._renewed = time.monotonic()

    # --- files ----------------------------------------------------------------------------

    def _path(self, key: str, generation: int) -> str:
        return f"{self._dir}/{key}.{generation}.lease"

    def _generations(self, key: str) -> list[int]:
        self._fs.invalidate_cache(self._dir)
        try:
            entries = self._fs.ls(self._dir, detail=False)
        except FileNotFoundError:  # an object store lists an empty prefix as missing
            return []
        gens = []
        for entry in entries:
            match = _LEASE.match(str(entry).rstrip("/").rsplit("/", 1)[-1])
            if match and match["key"] == key:
                gens.append(int(match["gen"]))
        return sorted(gens)

    def _read(self, key: str, generation: int) -> dict[str, Any] | None:
        try:
            data = json.loads(self._fs.cat_file(self._path(key, generation)))
        except FileNotFoundError:
            return None
        except ValueError:
            # A damaged lease (cut by a full disk, written by hand) protects nothing:
            # treat it as expired, since nobody can renew it.
            return {"expires": 0.0}
        return data if isinstance(data, dict) else {"expires": 0.0}

    def _create(self, path: str, body: bytes) -> bool:
        """Exclusive create; True when this call made the file."""
        self._fs.makedirs(self._dir, exist_ok=True)  # on first use: nothing is made before
        try:
            if self._local:
                # Write the whole lease aside, then hard-link it into place: link(2) fails with
                # EEXIST like O_EXCL (also on NFS), and a reader never sees a half-written lease.
                tmp = f"{path}.{uuid.uuid4().hex}.tmp"
                Path(tmp).write_bytes(body)
                try:
                    os.link(tmp, path)
                finally:
                    os.unlink(tmp)
            else:
                with self._fs.open(path, "xb") as f:
                    f.write(body)
        except FileExistsError:
            return False
        except OSError as err:
            if _precondition_failed(err):
                return False
            raise
        return True

    def _remove(self, path: str) -> None:
        try:
            self._fs.rm_file(path)
        except FileNotFoundError:
            pass  # removed by another holder first

    def _body(self, key: str, generation: int, token: str) -> bytes:
        pid = os.getpid()
        return json.dumps(
            {
                "key": key,
                "generation": generation,
                "token": token,
                "owner": self.owner,
                "host": socket.gethostname(),
                "pid": pid,
                "pid_start": _process_start(pid),
                "acquired": time.time(),
                "expires": time.time() + self.ttl_s,
            }
        ).encode()

    # --- public ---------------------------------------------------------------------------

    def holder(self, key: str) -> dict[str, Any] | None:
        """The current lease of ``key`` (its JSON content), or None when nobody holds it."""
        gens = self._generations(key)
        return self._read(key, gens[-1]) if gens else None

    def is_stale(self, holder: Mapping[str, Any]) -> bool:
        """Whether a lease no longer protects anything: expired, or its process is gone."""
        if float(holder.get("expires", 0.0)) < time.time():
            return True
        return _alive_here(holder) is False

    def acquire(self, key: str) -> Lease | None:
        """Claim ``key`` unless a live process holds it.

        Returns:
            The lease, or None when another live holder has it (the caller leaves it alone).

        Raises:
            ValueError: for a key that is not one path component.
        """
        if not key or "/" in key or key in (".", ".."):
            raise ValueError(f"claim key must be one path component, got {key!r}")
        for _attempt in range(8):
            gens = self._generations(key)
            if gens:
                current = self._read(key, gens[-1])
                if current is not None and not self.is_stale(current):
                    return None
                generation = gens[-1] + 1
                if current is not None:
                    log.warning(
                        "claim %s: taking over a stale lease of %s (pid %s on %s)",
                        key,
                        current.get("owner"),
                        current.get("pid"),
                        current.get("host"),
                    )
            else:
                generation = 0
            token = uuid.uuid4().hex
            path = self._path(key, generation)
            if self._create(path, self._body(key, generation, token)):
                for old in gens:
                    self._remove(self._path(key, old))
                lease = Lease(key=key, generation=generation, token=token, path=path)
                self._held[key] = lease
                return lease
            # Someone else created this generation first: look again (it is probably live).
        return None

    def owns(self, lease: Lease) -> bool:
        """Whether ``lease`` is still the current, unexpired lease of its key."""
        gens = self._generations(lease.key)
        if not gens or gens[-1] != lease.generation:
            return False
        current = self._read(lease.key, lease.generation)
        return bool(current) and current.get("token") == lease.token and not self.is_stale(current)

    def renew(self, lease: Lease) -> bool:
        """Push a held lease's expiry ``ttl_s`` into the future.

        Returns:
            False when the lease was lost (taken over after it expired); the caller must stop
            writing that scene.
        """
        if not self.owns(lease):
            return False
        body = self._body(lease.key, lease.generation, lease.token)
        if self._local:
            tmp = f"{lease.path}.{lease.token}.tmp"
            Path(tmp).write_bytes(body)
            os.replace(tmp, lease.path)  # atomic: readers see the old or the new lease
        else:
            self._fs.pipe_file(lease.path, body)
        return True

    def release(self, lease: Lease) -> None:
        """Give a lease up; does nothing when it was already lost to another holder."""
        self._held.pop(lease.key, None)
        current = self._read(lease.key, lease.generation)
        if current is not None and current.get("token") == lease.token:
            self._remove(lease.path)

    @property
    def held(self) -> tuple[Lease, ...]:
        """The leases this store acquired and has not released."""
        return tuple(self._held.values())

    def renew_due(self) -> list[str]:
        """Renew every held lease when a third of ``ttl_s`` has passed since the last renewal.

        Cheap enough to call for every finished tile: it only touches the files when due.

        Returns:
            Keys whose lease was lost (taken over after expiring); empty when all are held.
        """
        if time.monotonic() - self._renewed < self.ttl_s / 3:
            return []
        self._renewed = time.monotonic()
        lost = [lease.key for lease in self.held if not self.renew(lease)]
        for key in lost:
            log.error("claim %s was lost: another run may be writing this scene", key)
        return lost

    def release_all(self) -> None:
        """Release every held lease (at the end of a run, whatever its outcome)."""
        for lease in self.held:
            self.release(lease)

    @contextmanager
    def hold(self, key: str, *, wait_s: float = 60.0, poll_s: float = 0.05) -> Iterator[Lease]:
        """Hold ``key`` for the duration of a ``with`` block, waiting for it when it is busy.

        For short store-wide critical sections (appending a run record, consolidating
        metadata), where waiting is right and skipping is not.

        Raises:
            ClaimBusyError: when a live holder kept ``key`` for more than ``wait_s`` seconds.
        """
        deadline = time.monotonic() + wait_s
        while (lease := self.acquire(key)) is None:
            if time.monotonic() > deadline:
                raise ClaimBusyError(
                    f"claim {key!r} under {self._dir!r} stayed held by {self.holder(key)} for "
                    f"more than wait_s={wait_s} s"
                )
            time.sleep(poll_s)
        try:
            yield lease
        finally:
            self.release(lease)
