"""Counting tile summaries per scene and per run (oceanscan.scan.progress), without Ray."""

from __future__ import annotations

import itertools

from oceanscan.scan.progress import RunProgress, SceneTally


def _summary(key, *, error="", scored=0, debris=0, max_step=-1, pixels=100):
    return {
        "scene_key": key,
        "error": error,
        "scored": scored,
        "debris": debris,
        "max_step": max_step,
        "pixels": pixels,
    }


def test_a_scene_is_done_with_its_last_tile_and_its_counts_add_up():
    clock = itertools.count(10.0, 0.5)  # 10.0 at the start, then half a second per reading
    progress = RunProgress({"a": 2, "b": 1}, clock=lambda: next(clock))
    assert progress.add(_summary("a", scored=40, debris=3, max_step=200, pixels=64)) is None
    assert progress.first_tile_s == 0.5 and progress.first_tile_pixels == 64
    done = progress.add(_summary("b", scored=5, debris=0, max_step=10, pixels=36))
    assert done is not None and done[0] == "b" and done[1].failure is None
    key, tally = progress.add(_summary("a", scored=60, debris=1, max_step=120, pixels=64))
    assert key == "a"
    assert (tally.done, tally.total, tally.scored, tally.debris, tally.max_step) == (
        2,
        2,
        100,
        4,
        200,
    )
    assert (progress.tiles, progress.pixels) == (3, 164)
    assert progress.first_tile_s == 0.5 and progress.last_tile_s == 1.5
    assert progress.first_tile_pixels == 64


def test_tile_errors_fail_the_scene_with_the_first_and_a_count_of_the_rest():
    progress = RunProgress({"a": 3}, started=0.0, clock=lambda: 1.0)
    assert progress.add(_summary("a", error="tile (0, 0) read: boom", scored=9)) is None
    assert progress.add(_summary("a", scored=7, debris=2, max_step=50)) is None
    _, tally = progress.add(_summary("a", error="tile (0, 2) write: bang"))
    assert tally.errors == ["tile (0, 0) read: boom", "tile (0, 2) write: bang"]
    assert tally.failure == "tile (0, 0) read: boom (and 1 more tile errors)"
    assert (tally.scored, tally.debris, tally.max_step) == (7, 2, 50)  # errors count nothing
    assert progress.tiles == 3 and progress.last_tile_s == 1.0


def test_a_scene_with_nothing_scored_keeps_no_maximum():
    tally = SceneTally(total=1)
    assert tally.max_step == -1 and tally.failure is None
    progress = RunProgress({"a": 1})
    _, tally = progress.add(_summary("a"))
    assert tally.max_step == -1 and tally.scored == 0
