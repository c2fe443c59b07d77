"""Worker death mid-scan, for real: SIGKILL of the inference actor's process (which reads and
writes its own tiles on CPUs), and separately of a process running a tile-read task (tiles read
by tasks of their own, as with GPUs), while a scan is writing tiles.

The victims are found the way an operator would find them, by the process titles Ray gives its
workers (``ray::MapWorker(MapBatches(Predictor))...`` for the actor, ``ray::Map(read_tile)`` for a
read task), and killed with ``os.kill(pid, SIGKILL)``: no hook in the pipeline, no mock. Ray Data
restarts the actor (``max_restarts=-1``) and retries the lost batch, and Ray retries the read task
(task ``max_retries``); the scan must finish and leave a store bit-identical to a clean run:
probability and mask arrays and every scene attribute except the run id.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from oceanscan.scan.config import ScanConfig
from oceanscan.scan.pipeline import scan_scenes
from tests.helpers.bundles import save_tiny_bundle
from tests.helpers.scenes import write_scene
from tests.helpers.stores import assert_same_store, chunk_files, store_snapshot

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# The actor's process, busy (title ends in ``.submit``) or between batches: either way the kill
# lands mid-scan, and waiting for the busy title alone missed it when reads were the bottleneck.
ACTOR_BUSY = "ray::MapWorker(MapBatches(Predictor))"
READ_TASK = "ray::Map(read_tile)"


def _ray_processes(title: str) -> list[int]:
    """PIDs of processes whose title (Ray sets it with setproctitle) starts with ``title``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmdline.startswith(title):
            pids.append(int(entry))
    return pids


class _Killer(threading.Thread):
    """Kill the first process titled ``title`` once the scan has written ``after_chunks`` chunks."""

    def __init__(self, title: str, root: Path, keys: list[str], after_chunks: int) -> None:
        super().__init__(daemon=True)
        self.title, self.root, self.keys, self.after_chunks = title, root, keys, after_chunks
        self.killed: int | None = None
        self.chunks_at_kill = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            written = sum(len(chunk_files(self.root, k)) for k in self.keys)
            victims = _ray_processes(self.title) if written >= self.after_chunks else []
            if victims:
                os.kill(victims[0], signal.SIGKILL)
                self.killed, self.chunks_at_kill = victims[0], written
                return
            time.sleep(0.005)


@pytest.fixture(scope="module")
def setup(ray_session, tmp_path_factory):
    base = tmp_path_factory.mktemp("death")
    bundle = save_tiny_bundle(base / "bundle")
    specs = [
        write_scene(base / f"s{i}", f"S2A_MSIL2A_2024031{i}_T31SDA", size=192, seed=20 + i)
        for i in range(2)
    ]

    def scan(root: Path, tile_io: str = "auto"):
        config = ScanConfig(
            model=str(bundle),
            root=str(root),
            tile_size_px=32,
            margin_px=8,
            batch_size=4,
            device="cpu",
            progress_bars=False,
            tile_io=tile_io,
        )
        return scan_scenes(specs, config)

    clean = scan(base / "clean")
    assert sorted(clean.counts.complete) == sorted(s.key for s in specs)
    return {"base": base, "specs": specs, "scan": scan, "clean": store_snapshot(base / "clean")}


@pytest.mark.parametrize(
    ("title", "after_chunks", "tile_io"),
    # Reads of these tiny tiles are quick and run ahead of the predictor, so on an idle machine
    # they can all be done before the first chunk lands: the read-task victim is taken as soon
    # as one is running (the driver has created the store by then), the actor after 4 chunks.
    # On CPUs the actors read and write their own tiles; read tasks run with tile_io "tasks"
    # (as on GPUs), and the clean run they are compared with is the actors' own.
    [(ACTOR_BUSY, 4, "auto"), (READ_TASK, 0, "tasks")],
    ids=["inference-actor", "read-task"],
)
def test_sigkill_of_a_worker_mid_scan_leaves_a_store_identical_to_a_clean_run(
    setup, title, after_chunks, tile_io
):
    root = setup["base"] / title.split("::")[1].split("(")[0].lower()
    keys = [s.key for s in setup["specs"]]
    killer = _Killer(title, root, keys, after_chunks)
    killer.start()
    try:
        result = setup["scan"](root, tile_io)
    finally:
        killer.done.set()
        killer.join(timeout=5)
    assert killer.killed is not None, f"no {title} process was seen to kill"
    assert killer.chunks_at_kill >= after_chunks  # killed mid-scan
    assert killer.chunks_at_kill < 2 * 36, "the victim died after the scan had written everything"
    with pytest.raises(ProcessLookupError):
        os.kill(killer.killed, 0)  # it really died
    assert sorted(result.counts.complete) == sorted(keys) and not result.counts.failed
    assert result.tiles == 2 * 36
    assert_same_store(store_snapshot(root), setup["clean"])
