"""The embedded demo catalog: a seeded, offline generator of a small Sentinel-2 L2A and
ESA WorldCover look-alike over Mato Grosso, Brazil, with a static STAC catalog and the
KNOWN TRUTH of SDG 15.1.1 (forest area) and SDG 6.6.1 (surface water extent).

Why it exists: the pipeline needs real-shaped STAC items (Earth Search v1 asset keys,
raster:bands scale/offset, processing baselines before/after 04.00, SCL masks, two
overlapping tiles, a nodata wedge) whose correct answer is known exactly. Every number
in truth.json comes from the design (rasterized shapes and exact cell areas), never
from running a classifier. Same seed -> byte-identical COGs and JSON.

``scale`` (``Layout``; ``python -m catalog.demo --scale 16 --out DIR``) grows the tiles and
the AOI to that many times the area, for memory and scaling benchmarks; scale 1 is the
embedded demo, unchanged byte for byte. The scaled AOI is ``truth.json["aoi"]["bbox"]``.

One module per concern (a new indicator adds a ``truth_*`` module, and its design if any):

- ``layout``: CRSs, tiles, nodata wedge, grids, exact cell areas
- ``scenes``: years, acquisition dates, platforms, processing baselines
- ``world``: the Design: AOI, land-cover grid, forest pieces, town, lake, surface kinds
- ``atmosphere``: cloud, shadow, cirrus and saturation masks per date (SCL codes)
- ``sentinel2``: rendering, DN encoding, tiles and items of the S2 L2A look-alike
- ``worldcover``: the ESA WorldCover look-alike (one map and item per year)
- ``landsat_scenes``, ``landsat``: the Landsat 5/7/8/9 Collection 2 Level-2 look-alike (30 m, 2000-2024,
  QA_PIXEL bits, SLC-off wedges) of the same lake, with its history before 2016
- ``zones``: the municipalities (zones.gpkg) and which pixels lie in each
- ``cogs``, ``stac``: how rasters and the STAC catalog are written
- ``truth_15_1_1``, ``truth_6_6_1``, ``truth_6_6_1_landsat``, ``truth_items``: the known answers
- ``build``: builds a folder atomically, is_current / ensure / load_truth
"""

from catalog.demo.build import (
    DEFAULT_DIR,
    DEFAULT_SEED,
    aoi_bbox,
    build_demo_catalog,
    ensure_demo_catalog,
    is_current,
    load_truth,
)
from catalog.demo.layout import DEFAULT_SCALE

__all__ = ["DEFAULT_DIR", "DEFAULT_SCALE", "DEFAULT_SEED", "aoi_bbox", "build_demo_catalog", "ensure_demo_catalog",
           "is_current", "load_truth"]
