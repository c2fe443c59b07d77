"""Ledger rules: what a run scans, when a failing scene is given up, where ``--since-last`` starts.

The Zarr store is the single source of truth (DESIGN.md, "Ledger and scheduling"): each scene
group's ``status`` attribute is ``created`` once its arrays exist, ``complete`` only after every
tile core is written and its summary computed, ``failed`` with a ``reason`` otherwise, and
``given_up`` once it has failed ``max_attempts`` times (its ``failures`` attribute counts them).
Runs are recorded in the root's ``runs`` attribute with the regions and search windows they
covered. Everything here is plain Python over those attributes; no Zarr, no Ray.

Scheduled runs (``--since-last``) never miss a scene and never stall:

* catalogs publish items hours to days after their acquisition, so a window that starts where
  the last one ended misses every item published late. Each ``--since-last`` window therefore
  starts an *overlap* (``since_last_overlap_days``) before the end of the last finished run of
  the region; the scenes of the overlap that are complete are skipped by the ledger;
* a scene that failed is retried by the following runs, the window reaching back to its
  acquisition time when the overlap does not, until it has failed ``max_attempts`` times; it is
  then recorded ``given_up`` and left alone. Failures never hold the window's end back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from oceanscan.scene import SceneSpec

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_OVERLAP_DAYS",
    "STATUSES",
    "RunCounts",
    "SceneStatus",
    "exit_code",
    "failure_attrs",
    "is_given_up",
    "last_search_end",
    "retry_start",
    "scored_differently",
    "select_scenes",
    "since_last_start",
    "tta_view_set",
]

SceneStatus = Literal["created", "complete", "failed", "given_up"]
#: Every status a scene group can have.
STATUSES: tuple[SceneStatus, ...] = ("created", "complete", "failed", "given_up")

#: How far back, in days, a ``--since-last`` window starts before the end of the last run.
#: Sentinel-2 L2A items usually reach Earth Search and Planetary Computer within a day of
#: acquisition, but outages and reprocessing backlogs have delayed them by several days; a week
#: costs one search and one metadata read per scene already complete.
DEFAULT_OVERLAP_DAYS = 7.0
#: Attempts at a failing scene before it is given up.
DEFAULT_MAX_ATTEMPTS = 3
#: Run attributes that decide a scene's probabilities (the weights, the views averaged, the
#: spectral check) or its detections (the threshold): two runs that differ in one of them do not
#: give the same scene group.
SCORING_ATTRS: tuple[str, ...] = ("model_sha256", "tta", "spectral_check", "threshold")


@dataclass
class RunCounts:
    """How a run went, scene by scene.

    Attributes:
        complete: scenes scanned to the end in this run.
        failed: scenes recorded as failed in this run, by key, with the reason (those given up
            in this run included).
        skipped: scenes not scanned: complete in the store, or given up by an earlier run.
        given_up: scenes that failed for the ``max_attempts``-th time in this run and are now
            ``given_up`` (each is in ``failed`` too).
    """

    complete: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """Counts for the store's run record."""
        return {
            "complete": len(self.complete),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "given_up": len(self.given_up),
        }


def _failures(attrs: Mapping[str, Any] | None) -> int:
    value = (attrs or {}).get("failures")
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def is_given_up(attrs: Mapping[str, Any] | None, max_attempts: int | None) -> bool:
    """Whether a stored scene is left alone: not complete, and failed ``max_attempts`` times.

    A scene recorded ``given_up`` under a lower limit is tried again when ``max_attempts`` is
    raised above its ``failures``: raising the limit is how an operator retries it.

    Args:
        attrs: the scene group's attributes (None: not in the store).
        max_attempts: attempts before giving up; None never gives up.
    """
    if not attrs or attrs.get("status") == "complete" or max_attempts is None:
        return False
    return attrs.get("status") in ("failed", "given_up") and _failures(attrs) >= max_attempts


def failure_attrs(
    previous: Mapping[str, Any] | None, reason: str, *, max_attempts: int | None
) -> dict[str, Any]:
    """The attributes that record one more failed attempt at a scene.

    Args:
        previous: the scene group's attributes before this attempt (its ``failures`` count is
            carried over by :func:`oceanscan.scan.store.create_scene`); None for a new scene.
        reason: why this attempt failed.
        max_attempts: attempts before giving up; None never gives up.

    Returns:
        ``{"status": "failed" | "given_up", "reason": reason, "failures": n}``.
    """
    failures = _failures(previous) + 1
    gives_up = max_attempts is not None and failures >= max_attempts
    return {"status": "given_up" if gives_up else "failed", "reason": reason, "failures": failures}


def select_scenes(
    scenes: Iterable[SceneSpec],
    stored: Mapping[str, Mapping[str, Any]],
    *,
    max_attempts: int | None = None,
) -> tuple[list[SceneSpec], list[str]]:
    """Split scenes into those to scan and those to skip.

    A scene is skipped when its group says ``complete``, or when it has been given up (see
    :func:`is_given_up`); ``created`` (an interrupted run) and ``failed`` scenes are scanned
    again from scratch. Duplicates (the same item found by two overlapping regions) are scanned
    once.

    Args:
        scenes: candidate scenes, in search order.
        stored: scene attributes by key, as read from the store.
        max_attempts: attempts at a failing scene before it is given up; defaults to None,
            which retries failed scenes however often they failed.

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
        attrs = stored.get(spec.key)
        if (attrs or {}).get("status") == "complete" or is_given_up(attrs, max_attempts):
            skipped.append(spec.key)
        else:
            todo.append(spec)
    return todo, skipped


def scored_differently(
    stored: Mapping[str, Any], run_attrs: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """What a complete scene was scored with that differs from this run: ``{attr: (stored, run)}``.

    The ledger skips a complete scene whatever scored it (DESIGN.md: a store holds one set of
    results per scene), so a run with another bundle, another view set or another spectral check
    leaves the old results in place; the run says so rather than passing over them in silence.
    Attributes the stored group lacks (stores written before they were recorded) are not
    compared; a ``tta`` stored as the on/off switch of earlier versions reads as the view set it
    meant (``true``: ``dihedral``, ``false``: ``none``).
    """
    stored = dict(stored)
    if "tta" in stored:
        stored["tta"] = tta_view_set(stored["tta"])
    return {
        name: (stored[name], run_attrs[name])
        for name in SCORING_ATTRS
        if name in stored and name in run_attrs and stored[name] != run_attrs[name]
    }


def tta_view_set(value: Any) -> Any:
    """``value``; for the on/off ``tta`` switch of earlier versions, the view set it meant.

    ``True`` averaged the eight dihedral views, ``False`` ran one: scan configs and stored scene
    attributes of those versions read as ``"dihedral"`` and ``"none"``.
    """
    if isinstance(value, bool):
        return "dihedral" if value else "none"
    return value


def last_search_end(runs: Sequence[Mapping[str, Any]], region: str) -> datetime | None:
    """End of the search window of the last finished run that covered ``region``.

    Every finished run counts, failed scenes or not: failures are retried scene by scene (see
    :func:`retry_start`), and a scene that keeps failing must not stop the window from moving.
    An interrupted run (no ``finished``) does not count.

    Args:
        runs: the root's ``runs`` records (``regions`` is a list of ``{name, start, end}``).
        region: region name.

    Returns:
        The latest such end, or None when no finished run covered the region.
    """
    best: datetime | None = None
    for run in runs:
        if not run.get("finished"):
            continue
        for entry in run.get("regions", []):
            if entry.get("name") != region or not entry.get("end"):
                continue
            end = datetime.fromisoformat(entry["end"])
            if best is None or end > best:
                best = end
    return best


def _utc(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value)
    except (AttributeError, TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def retry_start(
    stored: Mapping[str, Mapping[str, Any]],
    *,
    area: Any,
    max_attempts: int | None,
    not_before: datetime,
) -> datetime | None:
    """Earliest acquisition time of a stored scene of ``area`` that failed and is retried.

    A ``--since-last`` window starts no later than this, so that every failed scene is searched
    again until it completes or is given up. Scenes recorded without an acquisition time or a
    footprint (items rejected before they became scenes) are retried only when the overlap
    finds them again.

    Args:
        stored: scene attributes by key, as read from the store.
        area: the region's area, a shapely geometry in EPSG:4326.
        max_attempts: attempts before giving up; None retries every failed scene.
        not_before: the region's own start; earlier scenes are not the region's.

    Returns:
        The earliest such time, or None when no failed scene of the area is still retried.
    """
    from shapely.geometry import shape

    earliest: datetime | None = None
    for attrs in stored.values():
        if attrs.get("status") not in ("failed", "given_up") or is_given_up(attrs, max_attempts):
            continue
        when = _utc(str(attrs.get("datetime")))
        footprint = attrs.get("footprint")
        if when is None or when < not_before or not footprint:
            continue
        try:
            inside = shape(footprint).intersects(area)
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
        if inside and (earliest is None or when < earliest):
            earliest = when
    return earliest


def since_last_start(
    last_end: datetime | None,
    *,
    region_start: datetime,
    overlap: timedelta,
    retry_from: datetime | None = None,
) -> datetime:
    """Start of a ``--since-last`` window.

    ``overlap`` before the end of the last finished run (items published late are found
    again), earlier still when a failed scene waits for a retry (``retry_from``), never before
    the region's own start. Without a previous run the region's whole window is searched.

    Args:
        last_end: :func:`last_search_end` of the region.
        region_start: start of the region's configured window.
        overlap: how far back before ``last_end`` to search again.
        retry_from: :func:`retry_start` of the region.

    Raises:
        ValueError: for a negative ``overlap``.
    """
    if overlap < timedelta(0):
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    if last_end is None:
        return region_start
    start = last_end - overlap
    if retry_from is not None:
        start = min(start, retry_from)
    return max(start, region_start)


def exit_code(counts: RunCounts) -> int:
    """Process exit code of a run: 1 when any scene failed, else 0."""
    return 1 if counts.failed else 0
