"""How the STAC side is written: COG assets, collections from their items, and the saved catalog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pystac

from catalog.demo.layout import Grid

CATALOG_ID = "sdgcube-demo"
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
EXT = {
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "proj": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "grid": "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "mgrs": "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "s2": "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json",
    "classification": "https://stac-extensions.github.io/classification/v2.0.0/schema.json",
    "view": "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "landsat": "https://stac-extensions.github.io/landsat/v2.0.0/schema.json",
}


def cog_asset(href: str, title: str, grid: Grid, band: dict, roles: list[str], **fields) -> pystac.Asset:
    """A COG asset with its grid (proj:shape/transform) and one raster band (nodata 0)."""
    fields.update({"proj:shape": [grid.height, grid.width], "proj:transform": grid.proj_transform(),
                   "raster:bands": [{"nodata": 0, **band}]})
    return pystac.Asset(href, title=title, media_type=COG_MEDIA_TYPE, roles=roles, extra_fields=fields)


def collection(coll_id: str, title: str, description: str, license_: str, items: list[pystac.Item],
               keywords: list[str]) -> pystac.Collection:
    """A collection whose extent and item_assets come from its items."""
    times = [t for it in items for t in (it.datetime, it.common_metadata.start_datetime,
                                         it.common_metadata.end_datetime) if t is not None]
    bounds = np.array([it.bbox for it in items])
    bbox = [*bounds[:, :2].min(0).tolist(), *bounds[:, 2:].max(0).tolist()]
    extent = pystac.Extent(pystac.SpatialExtent([bbox]), pystac.TemporalExtent([[min(times), max(times)]]))
    coll = pystac.Collection(coll_id, description, extent, title=title, license=license_, keywords=keywords,
                             stac_extensions=sorted({e for it in items for e in it.stac_extensions}))
    coll.item_assets = {key: _item_asset_definition(asset) for key, asset in items[0].assets.items()}
    coll.providers = [pystac.Provider("sdgcube demo generator", roles=[pystac.ProviderRole.PRODUCER])]
    coll.add_items(items)
    return coll


def _item_asset_definition(asset: pystac.Asset) -> pystac.ItemAssetDefinition:
    """The asset minus what changes per item (href, shape/transform, offset)."""
    extra = {k: v for k, v in asset.extra_fields.items() if k not in ("proj:shape", "proj:transform")}
    extra["raster:bands"] = [{k: v for k, v in b.items() if k != "offset"} for b in extra["raster:bands"]]
    return pystac.ItemAssetDefinition.create(asset.title, None, asset.media_type, asset.roles, extra)


def write_catalog(root: Path, collections: list[pystac.Collection]) -> None:
    """The self-contained catalog of ``collections`` saved under ``root`` (relative links)."""
    catalog = pystac.Catalog(CATALOG_ID, "Embedded sdgcube demo catalog: synthetic Sentinel-2 L2A and "
                             "ESA WorldCover look-alikes over Mato Grosso with a known truth (truth.json).",
                             title="sdgcube demo catalog")
    catalog.add_children(collections)
    catalog.normalize_hrefs(root.as_posix() + "/")  # trailing slash: a directory, whatever its name
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
