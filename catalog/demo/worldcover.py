"""The ESA WorldCover look-alike: one land-cover COG and Planetary Computer shaped item per year."""

from __future__ import annotations

from pathlib import Path

import pystac
from shapely.geometry import box, mapping

from catalog.demo.cogs import write_cog
from catalog.demo.layout import GEO_CRS
from catalog.demo.stac import EXT, cog_asset, collection
from catalog.demo.world import Design

LC_COLLECTION = "esa-worldcover"
WORLDCOVER_TILE = "S15W057"  # the real 3x3 deg WorldCover tile holding this AOI
WORLDCOVER_CLASSES = {
    10: ("tree_cover", "Tree cover", "006400"), 20: ("shrubland", "Shrubland", "ffbb22"),
    30: ("grassland", "Grassland", "ffff4c"), 40: ("cropland", "Cropland", "f096ff"),
    50: ("built_up", "Built-up", "fa0000"), 60: ("bare", "Bare / sparse vegetation", "b4b4b4"),
    80: ("water", "Permanent water bodies", "0064c8"),
    90: ("herbaceous_wetland", "Herbaceous wetland", "0096a0"),
    95: ("mangroves", "Mangroves", "00cf75"),
}


def worldcover_item(design: Design, year: int, href_root: str) -> pystac.Item:
    """A Planetary Computer shaped ESA WorldCover item (synthetic) for one year."""
    version = "v100" if year <= 2020 else "v200"
    item_id = f"ESA_WorldCover_10m_{year}_{version}_{WORLDCOVER_TILE}"
    bounds = design.lc_bounds
    props = {
        "start_datetime": f"{year}-01-01T00:00:00Z", "end_datetime": f"{year}-12-31T23:59:59Z",
        "proj:code": GEO_CRS, "esa_worldcover:product_tile": WORLDCOVER_TILE,
        "esa_worldcover:product_version": f"{version[1]}.0.0", "mission": "sentinel-1, sentinel-2",
        "instruments": ["c-sar", "msi"],
    }
    item = pystac.Item(item_id, mapping(box(*bounds)), list(bounds), None, props,
                       stac_extensions=[EXT[k] for k in ("raster", "proj", "classification")])
    classes = [{"value": v, "name": name, "description": title, "color_hint": color}
               for v, (name, title, color) in WORLDCOVER_CLASSES.items()]
    item.add_asset("map", cog_asset(f"{href_root}/{LC_COLLECTION}/{item_id}/map.tif", "Land cover classes",
                                    design.lc_grid, {"data_type": "uint8", "spatial_resolution": 10}, ["data"],
                                    **{"classification:classes": classes}))
    return item


def worldcover_collection(items: list[pystac.Item]) -> pystac.Collection:
    coll = collection(
        LC_COLLECTION, "ESA WorldCover (synthetic demo)",
        "Synthetic land cover with ESA WorldCover classes and grid (1/12000 degree, EPSG:4326). "
        "The real ESA WorldCover exists only for 2020 (v100) and 2021 (v200); every map here, one "
        "per year 2016-2024, is synthetic and designed so that SDG 15.1.1 has a known answer.",
        "CC-BY-4.0", items, ["land cover", "worldcover", "synthetic"])
    return coll


def write_worldcover(design: Design, root: Path, href_root: str) -> list[pystac.Item]:
    """Every year's land-cover COG under ``root`` and its item."""
    items = []
    for year, landcover in design.landcovers.items():
        item = worldcover_item(design, year, href_root)
        write_cog(root / LC_COLLECTION / item.id / "map.tif", landcover, design.lc_grid, 0, categorical=True)
        items.append(item)
    return items
