"""The two SDG 11.3.1 input collections on the urban grid: GHS-BUILT-S-like and WorldPop-like items (synthetic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pystac
from shapely.geometry import box, mapping

from catalog.demo.cogs import write_cog
from catalog.demo.layout import UTM_CRS
from catalog.demo.stac import EXT, cog_asset, collection
from catalog.demo.urban import BUILT_NODATA, BUILT_SCALE, EPOCHS, POP_NODATA, Urban

BUILT, POPULATION = "ghs-built-s", "worldpop"
URBAN_COLLECTIONS = (BUILT, POPULATION)


def _item(urban: Urban, root: Path, href_root: str, coll: str, item_id: str, year: int, key: str,
          data: np.ndarray, nodata: float, title: str, band: dict) -> pystac.Item:
    bounds = urban.bounds
    props = {"start_datetime": f"{year}-01-01T00:00:00Z", "end_datetime": f"{year}-12-31T23:59:59Z",
             "proj:code": UTM_CRS}
    item = pystac.Item(item_id, mapping(box(*bounds)), list(bounds), None, props,
                       stac_extensions=[EXT["raster"], EXT["proj"]])
    write_cog(root / coll / item_id / f"{key}.tif", data, urban.grid, nodata, False)
    item.add_asset(key, cog_asset(f"{href_root}/{coll}/{item_id}/{key}.tif", title, urban.grid,
                                  {"data_type": data.dtype.name, "nodata": nodata, **band}, ["data"]))
    return item


def write_urban(urban: Urban, root: Path, href_root: str) -> list[pystac.Collection]:
    """COGs of both collections under ``root``, one item per epoch each, and their collections."""
    built = [_item(urban, root, href_root, BUILT, f"GHS_BUILT_S_E{e}_R2023A_demo_100", e, "built_s",
                   urban.built_surface(e), BUILT_NODATA, "Built-up surface (m² per cell)",
                   {"scale": BUILT_SCALE, "unit": "m2"}) for e in EPOCHS]
    people = [_item(urban, root, href_root, POPULATION, f"worldpop-demo-{e}", e, "population",
                    urban.population(e), POP_NODATA, "Population count per cell", {"unit": "people"})
              for e in EPOCHS]
    return [
        collection(BUILT, "GHS-BUILT-S built-up surface (synthetic demo)",
                   "Synthetic GHSL GHS-BUILT-S-like built-up surface, m² per 100 m cell (scale 0.0001 gives the "
                   "built-up fraction), epochs 2015, 2020, 2025, on a 100 m UTM 21S grid (the real product is "
                   "Mollweide). Each municipality's growth is known (truth.json).", "CC-BY-4.0", built,
                   ["built-up", "sdg 11.3.1", "synthetic"]),
        collection(POPULATION, "WorldPop population counts (synthetic demo)",
                   "Synthetic WorldPop-like population counts per 100 m cell (whole persons), 2015, 2020, 2025, on "
                   "the same grid as the built-up surface.", "CC-BY-4.0", people,
                   ["population", "sdg 11.3.1", "synthetic"]),
    ]
