"""Which windows a scan reads and writes: tile cores, context margins, padding and cropping.

Pure geometry and numpy, no files and no Ray (like torchgeo's samplers, which yield windows and
never read pixels). The rule (DESIGN.md, "Tiling rule"): a scene's 10 m grid is cut into cores of
``tile_size`` x ``tile_size`` pixels that are exactly the Zarr chunks, so no two writers ever touch
the same chunk. Each core is read with ``margin`` pixels of context on every side, clipped to the
scene, padded by reflection up to a fixed ``tile_size + 2 * margin`` square (so tiles batch
together), predicted, and cropped back to the core.

Why the padded tile is always the same square: partial cores at the right and bottom edges are
padded by reflection like any other edge, so one batch shape serves a whole scan and the padded
origin of every tile is a multiple of ``tile_size`` on the reflection-padded scene. With
``tile_size`` a multiple of the network's total down-sampling factor, the pooling grid of a tile
lines up with the pooling grid of the whole padded scene, which is what makes tiled and whole-scene
predictions agree (see ``tests/scan/test_pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from oceanscan.scene import PixelWindow

__all__ = ["TileSpec", "crop_core", "crop_margin", "pad_to_tile", "plan_tiles", "tile_count"]


@dataclass(frozen=True)
class TileSpec:
    """One tile of a scene: the core it owns and the window it reads.

    Attributes:
        scene_key: the scene's group name in the store.
        index: ``(tile_row, tile_col)`` position in the scene's tile grid (= the Zarr chunk index).
        core: the pixels this tile writes, on the scene grid; one Zarr chunk (smaller at the
            right and bottom edges).
        read: the pixels this tile reads: ``core`` grown by the margin and clipped to the scene.
        pad: ``((top, bottom), (left, right))`` reflection padding that brings ``read`` to a
            square of ``tile_size + 2 * margin`` pixels.
        tile_size: the core size C of full tiles.
        margin: the context margin M.
    """

    scene_key: str
    index: tuple[int, int]
    core: PixelWindow
    read: PixelWindow
    pad: tuple[tuple[int, int], tuple[int, int]]
    tile_size: int
    margin: int

    @property
    def padded_size(self) -> int:
        """Side of the padded square fed to the model: ``tile_size + 2 * margin``."""
        return self.tile_size + 2 * self.margin

    def to_row(self) -> dict[str, Any]:
        """Flat scalars for a Ray Data row (cheap to move and to put in Arrow)."""
        return {
            "scene_key": self.scene_key,
            "tile_row": self.index[0],
            "tile_col": self.index[1],
            "core_row": self.core.row,
            "core_col": self.core.col,
            "core_height": self.core.height,
            "core_width": self.core.width,
            "read_row": self.read.row,
            "read_col": self.read.col,
            "read_height": self.read.height,
            "read_width": self.read.width,
            "pad_top": self.pad[0][0],
            "pad_bottom": self.pad[0][1],
            "pad_left": self.pad[1][0],
            "pad_right": self.pad[1][1],
            "tile_size": self.tile_size,
            "margin": self.margin,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TileSpec:
        """Inverse of :meth:`to_row` (extra keys in ``row`` are ignored)."""
        return cls(
            scene_key=str(row["scene_key"]),
            index=(int(row["tile_row"]), int(row["tile_col"])),
            core=PixelWindow(
                int(row["core_row"]),
                int(row["core_col"]),
                int(row["core_height"]),
                int(row["core_width"]),
            ),
            read=PixelWindow(
                int(row["read_row"]),
                int(row["read_col"]),
                int(row["read_height"]),
                int(row["read_width"]),
            ),
            pad=(
                (int(row["pad_top"]), int(row["pad_bottom"])),
                (int(row["pad_left"]), int(row["pad_right"])),
            ),
            tile_size=int(row["tile_size"]),
            margin=int(row["margin"]),
        )


def _check_sizes(shape: tuple[int, int], tile_size: int, margin: int) -> None:
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"scene shape must be (height, width) with both >= 1, got {shape!r}")
    if tile_size < 1:
        raise ValueError(f"tile_size must be >= 1 pixel, got {tile_size!r}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0 pixels, got {margin!r}")


def tile_count(shape: tuple[int, int], tile_size: int) -> tuple[int, int]:
    """Number of tile rows and columns that cover a ``(height, width)`` grid."""
    return (-(-shape[0] // tile_size), -(-shape[1] // tile_size))


def _tile(
    scene_key: str, shape: tuple[int, int], tr: int, tc: int, tile_size: int, margin: int
) -> TileSpec:
    height, width = shape
    r0, c0 = tr * tile_size, tc * tile_size
    ch, cw = min(tile_size, height - r0), min(tile_size, width - c0)
    rr0, cc0 = max(0, r0 - margin), max(0, c0 - margin)
    rr1, cc1 = min(height, r0 + ch + margin), min(width, c0 + cw + margin)
    top, left = margin - (r0 - rr0), margin - (c0 - cc0)
    size = tile_size + 2 * margin
    bottom, right = size - top - (rr1 - rr0), size - left - (cc1 - cc0)
    return TileSpec(
        scene_key=scene_key,
        index=(tr, tc),
        core=PixelWindow(r0, c0, ch, cw),
        read=PixelWindow(rr0, cc0, rr1 - rr0, cc1 - cc0),
        pad=((top, bottom), (left, right)),
        tile_size=tile_size,
        margin=margin,
    )


def plan_tiles(
    scene_key: str, shape: tuple[int, int], *, tile_size: int = 512, margin: int = 32
) -> Iterator[TileSpec]:
    """Cut a scene grid into tiles, row by row.

    Args:
        scene_key: the scene's group name, copied into each tile.
        shape: ``(height, width)`` of the scene's 10 m grid in pixels.
        tile_size: core side C in pixels, equal to the Zarr chunk side; defaults to 512.
        margin: context margin M in pixels on every side; defaults to 32.

    Yields:
        One :class:`TileSpec` per core; cores cover the grid exactly once.

    Raises:
        ValueError: for an empty shape, a tile size below 1 or a negative margin.
    """
    _check_sizes(shape, tile_size, margin)
    rows, cols = tile_count(shape, tile_size)
    for tr in range(rows):
        for tc in range(cols):
            yield _tile(scene_key, shape, tr, tc, tile_size, margin)


def pad_to_tile(array: npt.NDArray[Any], spec: TileSpec) -> npt.NDArray[Any]:
    """Pad an array read over ``spec.read`` to the tile's square by reflection.

    Reflection (mirror without repeating the edge pixel, numpy's ``"reflect"``) keeps image
    statistics at the scene edge close to the interior, which matters more for a CNN than the
    exact choice; it is also what the whole-scene reference prediction uses.

    Args:
        array: ``(..., read.height, read.width)``; leading axes (bands) are not padded.
        spec: the tile.

    Returns:
        ``(..., padded_size, padded_size)``.

    Raises:
        ValueError: when the array's last two axes are not the read window's shape.
    """
    if array.shape[-2:] != (spec.read.height, spec.read.width):
        raise ValueError(
            f"array of shape {array.shape} does not match the read window "
            f"{(spec.read.height, spec.read.width)} of tile {spec.index} in {spec.scene_key!r}"
        )
    widths = [(0, 0)] * (array.ndim - 2) + [spec.pad[0], spec.pad[1]]
    if not any(spec.pad[0]) and not any(spec.pad[1]):
        return array
    mode = "reflect" if min(array.shape[-2:]) > 1 else "edge"
    return np.pad(array, widths, mode=mode)


def crop_margin(array: npt.NDArray[Any], margin: int) -> npt.NDArray[Any]:
    """Cut a margin of ``margin`` pixels off every side of the last two axes.

    What turns a batch of padded tiles, ``(..., C + 2M, C + 2M)``, into core squares
    ``(..., C, C)`` when only the margin is known (the predictor's batches).
    """
    h, w = array.shape[-2:]
    return array[..., margin : h - margin, margin : w - margin]


def crop_core(array: npt.NDArray[Any], spec: TileSpec, *, full: bool = False) -> npt.NDArray[Any]:
    """Crop a prediction on the padded tile, or its core square, back to the tile's core.

    Args:
        array: ``(..., padded_size, padded_size)``, the padded tile; or ``(..., tile_size,
            tile_size)``, its core square (what ``full=True`` returns). With no margin the two
            are the same square.
        spec: the tile.
        full: return the full ``tile_size`` square starting at the core's corner (constant
            shape for batching; the core is its top-left ``core.height x core.width``) instead
            of the exact core. Defaults to False.

    Returns:
        ``(..., core.height, core.width)``, or ``(..., tile_size, tile_size)`` with ``full``.

    Raises:
        ValueError: for an array of neither square size.
    """
    size = array.shape[-2:]
    if size == (spec.padded_size, spec.padded_size):
        square = crop_margin(array, spec.margin)
    elif size == (spec.tile_size, spec.tile_size):
        square = array
    else:
        raise ValueError(
            f"prediction of shape {array.shape} matches neither the padded tile size "
            f"{spec.padded_size} (tile_size {spec.tile_size} + 2 x margin {spec.margin}) nor "
            f"the core square {spec.tile_size}"
        )
    return square if full else square[..., : spec.core.height, : spec.core.width]
