"""Per-scene claims (oceanscan.scan.claim): exclusive create, stale takeover, real process races."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oceanscan.scan.claim import CLAIMS_DIR, ClaimBusyError, ClaimStore

_RACER = """
import json, os, sys, time
from pathlib import Path
from oceanscan.scan.claim import ClaimStore
root, key, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
store = ClaimStore(root, owner=f"racer-{os.getpid()}", ttl_s=float(sys.argv[4]))
while not go.exists():
    time.sleep(0.001)
lease = store.acquire(key)
print(json.dumps({"pid": os.getpid(), "won": lease is not None}), flush=True)
if sys.argv[5] == "hold":
    time.sleep(60)
"""


def _race(tmp_path: Path, root: Path, key: str, n: int, ttl_s: float = 60.0) -> list[dict]:
    """Start ``n`` real processes that all try to claim ``key`` the moment a file appears.

    Every racer stays alive until all have answered, so the winner's lease stays live (a lease
    of a dead process would rightly be taken over by a late racer).
    """
    go = tmp_path / f"go-{key}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(root), key, str(go), str(ttl_s), "hold"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    try:
        time.sleep(1.5)  # let every interpreter import oceanscan and wait at the start line
        go.touch()
        return [json.loads(proc.stdout.readline()) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)


def test_a_held_claim_excludes_others_until_released(tmp_path):
    a = ClaimStore(str(tmp_path), owner="run-a")
    b = ClaimStore(str(tmp_path), owner="run-b")
    lease = a.acquire("S2A_scene")
    assert lease is not None and lease.generation == 0
    assert b.acquire("S2A_scene") is None
    holder = b.holder("S2A_scene")
    assert holder["owner"] == "run-a" and holder["pid"] == os.getpid()
    assert a.owns(lease) and a.renew(lease)
    a.release(lease)
    assert b.holder("S2A_scene") is None
    again = b.acquire("S2A_scene")
    assert again is not None and b.owns(again)
    assert (tmp_path / CLAIMS_DIR).is_dir()  # beside scenes.zarr, never inside a scene group


def test_expired_lease_is_taken_over_by_the_next_generation(tmp_path):
    old = ClaimStore(str(tmp_path), owner="old", ttl_s=0.2)
    new = ClaimStore(str(tmp_path), owner="new")
    stale = old.acquire("k")
    assert new.acquire("k") is None  # still fresh
    time.sleep(0.3)
    taken = new.acquire("k")
    assert taken is not None and taken.generation == stale.generation + 1
    assert [p.name for p in (tmp_path / CLAIMS_DIR).iterdir()] == ["k.1.lease"]
    # The old holder learns that it lost the scene, and its release cannot delete the new lease.
    assert not old.owns(stale) and old.renew(stale) is False
    old.release(stale)
    assert new.owns(taken) and new.holder("k")["owner"] == "new"


def test_lease_of_a_killed_process_is_stale_at_once(tmp_path):
    go = tmp_path / "go"
    go.touch()
    proc = subprocess.Popen(
        [sys.executable, "-c", _RACER, str(tmp_path), "scene", str(go), "3600", "hold"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert json.loads(proc.stdout.readline())["won"] is True
    store = ClaimStore(str(tmp_path), owner="rerun")
    assert store.acquire("scene") is None  # the holder is alive: its scene is left alone
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    holder = store.holder("scene")
    assert holder["pid"] == proc.pid and holder["expires"] > time.time() + 3000
    lease = store.acquire("scene")  # an hour before expiry, because the pid is gone
    assert lease is not None and lease.generation == 1


def test_damaged_lease_is_stale(tmp_path):
    store = ClaimStore(str(tmp_path))
    (tmp_path / CLAIMS_DIR).mkdir()
    (tmp_path / CLAIMS_DIR / "k.0.lease").write_bytes(b'{"owner": "cut sh')
    assert store.is_stale(store.holder("k"))
    assert store.acquire("k").generation == 1


def test_racing_processes_exactly_one_wins(tmp_path):
    results = _race(tmp_path, tmp_path / "root", "scene", n=4)
    assert sum(r["won"] for r in results) == 1, results
    leases = list((tmp_path / "root" / CLAIMS_DIR).iterdir())
    assert [p.name for p in leases] == ["scene.0.lease"]
    winner = next(r["pid"] for r in results if r["won"])
    assert json.loads(leases[0].read_text())["pid"] == winner


def test_racing_takeover_of_a_stale_lease_exactly_one_wins(tmp_path):
    root = tmp_path / "root"
    ClaimStore(str(root), owner="dead", ttl_s=0.05).acquire("scene")
    time.sleep(0.1)
    results = _race(tmp_path, root, "scene", n=4)
    assert sum(r["won"] for r in results) == 1, results
    assert [p.name for p in (root / CLAIMS_DIR).iterdir()] == ["scene.1.lease"]


def test_hold_waits_for_a_busy_claim_then_gives_up_clearly(tmp_path):
    a = ClaimStore(str(tmp_path), owner="a")
    b = ClaimStore(str(tmp_path), owner="b")
    with (
        a.hold("_root"),
        pytest.raises(ClaimBusyError, match="_root"),
        b.hold("_root", wait_s=0.2),
    ):
        pass
    with b.hold("_root") as lease:  # released by the first block
        assert b.owns(lease)
    assert b.holder("_root") is None


def test_claims_on_an_fsspec_filesystem():
    a = ClaimStore("memory://claims-test/out", owner="a")
    b = ClaimStore("memory://claims-test/out", owner="b")
    lease = a.acquire("scene")
    assert lease is not None and b.acquire("scene") is None
    a.release(lease)
    assert b.acquire("scene") is not None


@pytest.mark.parametrize("key", ["", "a/b", "..", "."])
def test_bad_keys_and_settings_are_refused(tmp_path, key):
    with pytest.raises(ValueError, match="one path component"):
        ClaimStore(str(tmp_path)).acquire(key)
    with pytest.raises(ValueError, match="ttl_s"):
        ClaimStore(str(tmp_path), ttl_s=0)


def test_held_leases_are_renewed_when_due_and_released_together(tmp_path):
    store = ClaimStore(str(tmp_path), owner="run", ttl_s=0.3)
    leases = [store.acquire(k) for k in ("a", "b")]
    assert {lease.key for lease in store.held} == {"a", "b"}
    assert store.renew_due() == []  # not due yet: nothing touched
    time.sleep(0.15)
    assert store.renew_due() == []  # due (ttl / 3 passed): renewed
    time.sleep(0.2)  # 0.35 s after acquiring, 0.2 s after renewing: still live
    other = ClaimStore(str(tmp_path), owner="other")
    assert other.acquire("a") is None and other.acquire("b") is None
    store.release_all()
    assert store.held == () and all(other.holder(lease.key) is None for lease in leases)


@pytest.mark.server
def test_claims_on_s3_use_conditional_writes(s3_server):
    root = f"s3://{s3_server.bucket}/claims-test/out"
    a = ClaimStore(root, owner="a", storage_options=s3_server.storage_options)
    b = ClaimStore(root, owner="b", storage_options=s3_server.storage_options)
    assert b.holder("scene") is None  # an empty prefix
    lease = a.acquire("scene")
    assert lease is not None
    # A second exclusive create of the same generation is refused by the server itself.
    assert b._create(lease.path, b"{}") is False
    assert b.acquire("scene") is None and b.holder("scene")["owner"] == "a"
    a.release(lease)
    assert b.acquire("scene") is not None
