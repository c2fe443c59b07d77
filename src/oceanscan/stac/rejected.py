"""The record of an item that could not become a SceneSpec, so that no item is dropped silently."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Rejected"]


@dataclass(frozen=True)
class Rejected:
    """A search or catalog result that could not become a SceneSpec.

    A scan records it as a failed scene with its reason, so operations see it in
    ``index.parquet`` instead of never hearing of it.

    Attributes:
        item_id: the STAC item id (``"<no id>"`` when the item has none).
        reason: why, naming the missing or malformed field.
    """

    item_id: str
    reason: str
