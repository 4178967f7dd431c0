"""The known answer of the cloud-cover item filter: which S2 items a recipe keeps."""

from __future__ import annotations

import pystac

from catalog.demo.atmosphere import MAX_CLOUD_COVER
from catalog.demo.layout import TILE_X
from catalog.demo.scenes import SCENES


def truth_items(items: list[pystac.Item]) -> dict:
    """Which S2 items a recipe with max cloud cover 60 keeps (exactly the non-heavy dates)."""
    excluded = [it.id for it in items if it.properties["eo:cloud_cover"] >= MAX_CLOUD_COVER]
    heavy = [s.item_id(t) for s in SCENES if s.heavy for t in TILE_X]
    assert sorted(excluded) == sorted(heavy), "cloud cover does not separate the heavy dates"
    assert all(it.properties["eo:cloud_cover"] >= 90 for it in items if it.id in excluded)
    return {"kept": [it.id for it in items if it.id not in excluded], "excluded_by_cloud_cover": excluded}
