"""Counting a run's tiles as their summaries stream back to the driver: plain Python, no Ray.

Each write task returns one small summary per tile (scene key, error, scored and debris pixels,
highest stored value, pixels covered); :class:`RunProgress` adds them up per scene and for the
run, and says when a scene's last tile has arrived, so the driver can complete it at once while
the other scenes stream on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunProgress", "SceneTally"]


@dataclass
class SceneTally:
    """What the tiles of one scene added up to.

    Attributes:
        total: tiles planned for the scene.
        done: tiles whose summary arrived.
        scored: pixels scored (not land, cloud or nodata).
        debris: scored pixels at or above the threshold.
        max_step: highest stored value of a scored pixel; -1 while none was scored.
        errors: the error of every tile that failed, in arrival order.
    """

    total: int
    done: int = 0
    scored: int = 0
    debris: int = 0
    max_step: int = -1
    errors: list[str] = field(default_factory=list)

    @property
    def failure(self) -> str | None:
        """The scene's failure reason: the first tile error and how many more; None without."""
        if not self.errors:
            return None
        reason = self.errors[0]
        if len(self.errors) > 1:
            reason += f" (and {len(self.errors) - 1} more tile errors)"
        return reason


class RunProgress:
    """Per-scene and per-run counts of the tile summaries of one run.

    Args:
        tiles: tiles planned per scene key.
        clock: seconds, monotonic; defaults to :func:`time.perf_counter`.
        started: the clock's reading at the start of the run; defaults to now.

    Attributes:
        tiles: tile summaries received.
        pixels: scene pixels covered by those tiles.
        first_tile_s: seconds from the start of the run to the first summary; None before it.
        last_tile_s: seconds from the start of the run to the latest summary; None before it.
        first_tile_pixels: pixels of the first tile.
    """

    def __init__(
        self,
        tiles: Mapping[str, int],
        *,
        clock: Callable[[], float] = time.perf_counter,
        started: float | None = None,
    ) -> None:
        self._scenes = {key: SceneTally(total=n) for key, n in tiles.items()}
        self._clock = clock
        self._t0 = clock() if started is None else started
        self.tiles = 0
        self.pixels = 0
        self.first_tile_s: float | None = None
        self.last_tile_s: float | None = None
        self.first_tile_pixels = 0

    def add(self, summary: Mapping[str, Any]) -> tuple[str, SceneTally] | None:
        """Count one tile's summary.

        Returns:
            ``(scene_key, tally)`` when this was the scene's last tile, else None.
        """
        key = str(summary["scene_key"])
        tally = self._scenes[key]
        tally.done += 1
        self.tiles += 1
        self.pixels += int(summary["pixels"])
        self.last_tile_s = self._clock() - self._t0
        if self.first_tile_s is None:
            self.first_tile_s, self.first_tile_pixels = self.last_tile_s, self.pixels
        if summary["error"]:
            tally.errors.append(str(summary["error"]))
        else:
            tally.scored += int(summary["scored"])
            tally.debris += int(summary["debris"])
            tally.max_step = max(tally.max_step, int(summary["max_step"]))
        return (key, tally) if tally.done == tally.total else None
