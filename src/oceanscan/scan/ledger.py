"""Ledger rules: which scenes a run scans, and where ``--since-last`` starts.

The Zarr store is the single source of truth (DESIGN.md, "Ledger and scheduling"): each scene
group's ``status`` attribute is ``created`` once its arrays exist, ``complete`` only after every
tile core is written and its summary computed, ``failed`` with a ``reason`` otherwise. Runs are
recorded in the root's ``runs`` attribute with the regions and search windows they covered.
Everything here is plain Python over those attributes; no Zarr, no Ray.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from oceanscan.scene import SceneSpec

__all__ = [
    "STATUSES",
    "RunCounts",
    "SceneStatus",
    "exit_code",
    "last_search_end",
    "select_scenes",
]

SceneStatus = Literal["created", "complete", "failed"]
#: Every status a scene group can have.
STATUSES: tuple[SceneStatus, ...] = ("created", "complete", "failed")


@dataclass
class RunCounts:
    """How a run went, scene by scene.

    Attributes:
        complete: scenes scanned to the end in this run.
        failed: scenes recorded as failed in this run, by key, with the reason.
        skipped: scenes already complete in the store.
    """

    complete: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """Counts for the store's run record."""
        return {
            "complete": len(self.complete),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
        }


def select_scenes(
    scenes: Iterable[SceneSpec], stored: Mapping[str, Mapping[str, Any]]
) -> tuple[list[SceneSpec], list[str]]:
    """Split scenes into those to scan and those already complete.

    A scene is skipped only when its group says ``complete``; ``created`` (an interrupted run)
    and ``failed`` scenes are scanned again from scratch. Duplicates (the same item found by
    two overlapping regions) are scanned once.

    Args:
        scenes: candidate scenes, in search order.
        stored: scene attributes by key, as read from the store.

    Returns:
        ``(to_scan, skipped_keys)``.
    """
    todo: list[SceneSpec] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for spec in scenes:
        if spec.key in seen:
            continue
        seen.add(spec.key)
        if stored.get(spec.key, {}).get("status") == "complete":
            skipped.append(spec.key)
        else:
            todo.append(spec)
    return todo, skipped


def last_search_end(runs: Sequence[Mapping[str, Any]], region: str) -> datetime | None:
    """End of the search window of the last successful run that covered ``region``.

    A run is successful when it finished with no failed scene; a run with failures does not
    move the window forward, so the next ``--since-last`` run searches its window again and the
    ledger retries exactly the scenes that did not complete.

    Args:
        runs: the root's ``runs`` records (``regions`` is a list of ``{name, start, end}``).
        region: region name.

    Returns:
        The latest such end, or None when no successful run covered the region.
    """
    best: datetime | None = None
    for run in runs:
        if not run.get("finished") or run.get("counts", {}).get("failed", 0):
            continue
        for entry in run.get("regions", []):
            if entry.get("name") != region or not entry.get("end"):
                continue
            end = datetime.fromisoformat(entry["end"])
            if best is None or end > best:
                best = end
    return best


def exit_code(counts: RunCounts) -> int:
    """Process exit code of a run: 1 when any scene failed, else 0."""
    return 1 if counts.failed else 0
