"""CPU seconds of a process tree by process title, sampled from ``/proc`` (Linux only).

Used by ``benchmarks/vs_marinedebrisdetector.py`` to see where a scan's CPU goes among Ray's
processes (the driver, the predictor actor, read and write workers, Ray's own daemons) without
touching the scan. Reads ``/proc/<pid>/stat`` and ``cmdline`` only: cheap enough to run four
times a second beside the scan it measures (``smaps``, for memory, is not).
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path


class CpuSampler(threading.Thread):
    """CPU seconds of a process and its descendants by process title, from ``/proc`` (Linux).

    Every ``interval_s`` the CPU time each process gained since the last look is added to its
    current title: Ray sets a worker's title to the actor or task it runs (``ray::IDLE`` while
    it waits or starts; ``ray::<actor>.<method>`` while a method runs). For each title,
    ``first_at`` holds when (``time.time()``) it was first seen and ``samples`` how many looks
    saw it. ``predictor_peak_cores`` is the most CPU the predictor actor used between two looks:
    above 1 only when its torch runs more than one thread.
    """

    def __init__(self, root: int, interval_s: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root, self.interval_s = root, interval_s
        self.cpu: dict[str, float] = defaultdict(float)
        self.first_at: dict[str, float] = {}
        self.samples: dict[str, int] = defaultdict(int)
        self.predictor_peak_cores = 0.0
        self._seen: dict[int, float] = {}
        self._last_look = time.time()
        self._halt = threading.Event()

    def run(self) -> None:
        if not Path("/proc/self/stat").exists():
            return
        while not self._halt.wait(self.interval_s):
            self._sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def by_process(self) -> dict[str, float]:
        top = sorted(self.cpu.items(), key=lambda kv: -kv[1])
        return {name: round(s, 2) for name, s in top if s >= 0.05}

    def _sample(self) -> None:
        now = time.time()
        elapsed, self._last_look = now - self._last_look, now
        table = _proc_table()
        children: dict[int, list[int]] = defaultdict(list)
        for pid, (ppid, _) in table.items():
            children[ppid].append(pid)
        stack = [self.root]
        while stack:
            pid = stack.pop()
            stack.extend(children[pid])
            if pid not in table:
                continue
            gained = table[pid][1] - self._seen.get(pid, 0.0)
            self._seen[pid] = table[pid][1]
            title = _title(pid)
            self.cpu[title] += gained
            self.first_at.setdefault(title, now)
            self.samples[title] += 1
            if "Predictor" in title:
                self.predictor_peak_cores = max(self.predictor_peak_cores, gained / elapsed)


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return table


def _title(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    if argv[0].startswith("ray::"):
        return argv[0].split(" ")[0][:60]
    if "--child" in argv:
        return "scan driver"
    return " ".join(Path(a).name for a in argv[:2] if a)[:60] or "?"
