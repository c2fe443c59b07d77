"""A real Ray cluster of local processes for the ``ray job submit`` tests: a head, and worker nodes.

Each node runs in its own processes (``ray start --block``) with its own ports, and the cluster has
its own temp directory, so it never shares state with the in-process ``ray_session`` fixture. It is
stopped by signalling the process groups this module started (``ray stop`` would stop every Ray
instance of the machine's user).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.processes import free_port

__all__ = ["RAY", "RayCluster", "job_submit", "ray_cluster_env", "ray_env", "start_ray_cluster"]

RAY = str(Path(sys.executable).with_name("ray"))
#: Object store of each node: small, so that several nodes fit beside everything else.
OBJECT_STORE_BYTES = 256 * 1024**2


def ray_env() -> dict[str, str]:
    """This process's environment without a RAY_ADDRESS, with auth off (a loopback-only cluster)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env["RAY_AUTH_MODE"] = "disabled"
    return env


def ray_cluster_env() -> dict[str, str]:
    """The environment for a subprocess that joins this test session's Ray (``ray_session``)."""
    import ray

    return {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}


def _node_ports() -> list[str]:
    """Every port of one node of its own: other Ray instances on this machine hold the defaults."""
    flags = (
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--metrics-export-port",
        "--runtime-env-agent-port",
        "--node-manager-port",
        "--object-manager-port",
    )
    return [f"{flag}={free_port()}" for flag in flags]


@dataclass
class RayCluster:
    """A running local Ray cluster.

    Attributes:
        address: the job server (dashboard) URL, for ``ray job submit --address``.
        gcs: ``host:port`` of the head's GCS, for worker nodes and drivers.
        nodes: alive nodes when the cluster was ready (the head and its workers).
    """

    address: str
    gcs: str
    nodes: int

    def alive_nodes(self) -> int:
        """Alive nodes now, from the dashboard's state API."""
        with urllib.request.urlopen(f"{self.address}/api/v0/nodes?limit=100", timeout=5) as resp:
            body = json.load(resp)
        return sum(1 for n in body["data"]["result"]["result"] if n["state"] == "ALIVE")


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """End a node's process group: SIGTERM, then SIGKILL for what ignores it (GCS, monitor)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


class _Nodes:
    """The node processes of one cluster, started with ``ray start --block`` in their own groups."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.temp_dirs: list[str] = []

    def temp_dir(self, prefix: str) -> str:
        """A temp dir of the cluster's own; short, as Ray's socket paths are limited."""
        path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        self.temp_dirs.append(path)
        return path

    def launch(self, args: list[str]) -> subprocess.Popen[bytes]:
        """Start one node with ``args`` and ports of its own."""
        common = [f"--object-store-memory={OBJECT_STORE_BYTES}", "--disable-usage-stats", "--block"]
        proc = subprocess.Popen(
            [RAY, "start", *args, *common, *_node_ports()],
            env=ray_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        """Stop every node, workers first, then the head, and remove their temp dirs."""
        for proc in reversed(self.procs):
            _stop(proc)
        for path in self.temp_dirs:
            shutil.rmtree(path, ignore_errors=True)


def _launch_head(nodes: _Nodes, cpus: int) -> tuple[subprocess.Popen[bytes], RayCluster]:
    """The head node with its dashboard (the job server) on loopback."""
    port, dash = free_port(), free_port()
    head = nodes.launch(
        [
            "--head",
            f"--port={port}",
            f"--num-cpus={cpus}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dash}",
            f"--ray-client-server-port={free_port()}",
            f"--temp-dir={nodes.temp_dir('rayh')}",
        ]
    )
    return head, RayCluster(f"http://127.0.0.1:{dash}", f"127.0.0.1:{port}", 0)


@contextmanager
def start_ray_cluster(
    *, head_cpus: int = 2, workers: int = 0, worker_cpus: int = 2, timeout_s: float = 120.0
) -> Iterator[RayCluster]:
    """Start a head (and ``workers`` worker nodes) and wait until the job server answers.

    Args:
        head_cpus: CPUs the head offers to tasks; 0 makes it coordinate only (as cluster.yaml's).
        workers: worker nodes to start beside the head.
        worker_cpus: CPUs of each worker node.
        timeout_s: longest wait for the job server and for every node to be alive.
    """
    for attempt in range(_STARTS):
        nodes = _Nodes()
        try:
            cluster = _start_nodes(nodes, head_cpus, workers, worker_cpus, timeout_s)
            if _agent_failed(nodes) and attempt + 1 < _STARTS:
                continue  # a port taken between free_port() and the agent's bind: start afresh
            yield cluster
            return
        finally:
            nodes.stop()


#: Starts of a whole cluster before giving up on one whose agent could not bind its port.
_STARTS = 3


def _start_nodes(
    nodes: _Nodes, head_cpus: int, workers: int, worker_cpus: int, timeout_s: float
) -> RayCluster:
    head, cluster = _launch_head(nodes, head_cpus)
    deadline = time.monotonic() + timeout_s
    _wait(lambda: _answers(f"{cluster.address}/api/version"), head, deadline, "job server")
    for _ in range(workers):
        # A temp dir of its own, as on a machine of its own: nodes sharing one would unpack
        # a job's working_dir into the same folder, and one node's re-extraction pulls the
        # folder out from under a driver running in it on the other.
        own = nodes.temp_dir("rayw")
        nodes.launch([f"--address={cluster.gcs}", f"--num-cpus={worker_cpus}", f"--temp-dir={own}"])
    _wait(lambda: cluster.alive_nodes() == 1 + workers, head, deadline, "worker nodes")
    cluster.nodes = 1 + workers
    return cluster


def _agent_failed(nodes: _Nodes) -> bool:
    """Whether a node's raylet logged that one of its agents exited at start.

    The ports are chosen free (:func:`free_port`) and bound by Ray a moment later; when another
    process takes one in between, the runtime-env agent exits and the raylet goes on talking to
    whatever holds the port, so every job's runtime env on that node fails (seen as HTTP 401
    from a neighbouring Ray's agent) and the job hangs for want of a node.
    """
    time.sleep(1)  # agents bind within half a second of their raylet's start
    logs = [Path(d).glob("session_*/logs/raylet.out") for d in nodes.temp_dirs]
    return any(
        "because one Ray agent failed" in log.read_text(errors="replace")
        for paths in logs
        for log in paths
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _wait(
    ready: Callable[[], bool], head: subprocess.Popen[bytes], deadline: float, what: str
) -> None:
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        if head.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"local Ray cluster: {what} not ready (head exit code {head.poll()})")
        time.sleep(1)


def job_submit(
    address: str,
    entrypoint: list[str],
    *,
    working_dir: Path,
    extra: Sequence[str] = (),
    timeout_s: float = 400,
) -> subprocess.CompletedProcess[str]:
    """``ray job submit --address ADDRESS --working-dir DIR [extra] -- ENTRYPOINT``, waited for.

    Retried while the job agent, which registers a few seconds after the dashboard answers, says
    "No available agent".
    """
    cmd = [
        RAY,
        "job",
        "submit",
        "--address",
        address,
        "--working-dir",
        str(working_dir),
        *extra,
        "--",
        *entrypoint,
    ]
    deadline = time.monotonic() + 90
    while True:
        proc = subprocess.run(
            cmd, env=ray_env(), capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if "No available agent" not in proc.stderr or time.monotonic() > deadline:
            return proc
        time.sleep(3)
