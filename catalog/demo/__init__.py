"""The embedded demo catalog: synthetic Sentinel-2 L2A and ESA WorldCover look-alikes over
Mato Grosso with a known truth for SDG 15.1.1 and 6.6.1 (see ``generate``)."""

from catalog.demo.generate import (
    DEFAULT_DIR,
    DEFAULT_SCALE,
    DEFAULT_SEED,
    aoi_bbox,
    build_demo_catalog,
    ensure_demo_catalog,
    is_current,
    load_truth,
)

__all__ = ["DEFAULT_DIR", "DEFAULT_SCALE", "DEFAULT_SEED", "aoi_bbox", "build_demo_catalog", "ensure_demo_catalog",
           "is_current", "load_truth"]
