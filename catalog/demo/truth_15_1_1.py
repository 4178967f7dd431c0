"""The known answer of SDG 15.1.1 (forest area, % of land) from the designed land cover, per AOI and zone."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from catalog.demo.scenes import YEARS
from catalog.demo.world import FOREST_CLASSES, PIECES, Design
from catalog.demo.zones import Zones, check_sums, per_zone

MMU_HA = 0.5
MMU_EXCLUSION_HA = 0.1  # no forest component may come this close to the MMU
AREA_KEYS = ("aoi_area_km2", "permanent_water_km2", "land_area_km2", "forest_area_km2")  # additive over zones


def _aoi_cells(design: Design) -> np.ndarray:
    """Geodesic area (m^2) of every land-cover cell of the AOI window."""
    rows, cols = design.lc_aoi_window
    return np.broadcast_to(design.lc_row_area[rows, None], (rows.stop - rows.start, cols.stop - cols.start))


def _components(design: Design, lc: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, area in ha of each component) of forest classes over the AOI, 8-connectivity."""
    rows, cols = design.lc_aoi_window
    forest = np.isin(lc, FOREST_CLASSES)
    aoi_forest = forest[rows, cols]
    assert aoi_forest.sum() == forest.sum(), "forest must lie inside the AOI"
    labels, n = ndimage.label(aoi_forest, structure=np.ones((3, 3), int))
    comp_ha = np.bincount(labels.ravel(), weights=cell.ravel(), minlength=n + 1)[1:] / 1e4
    return labels, comp_ha


def truth_15_1_1(design: Design) -> dict:
    """Forest area per year on the native land-cover grid over the AOI: components of
    classes 10/95 (8-connectivity) whose geodesic area reaches the MMU."""
    rows, cols = design.lc_aoi_window
    cell = _aoi_cells(design)
    years = {}
    for year, lc in design.landcovers.items():
        _, comp_ha = _components(design, lc, cell)
        assert not (np.abs(comp_ha - MMU_HA) < MMU_EXCLUSION_HA).any(), f"{year}: a patch is near the MMU"
        aoi_km2 = float(cell.sum()) / 1e6
        water_km2 = float(cell[lc[rows, cols] == 80].sum()) / 1e6
        forest_km2 = float(comp_ha[comp_ha >= MMU_HA].sum()) / 100
        land_km2 = aoi_km2 - water_km2
        years[str(year)] = {"aoi_area_km2": aoi_km2, "permanent_water_km2": water_km2, "land_area_km2": land_km2,
                            "forest_area_km2": forest_km2, "forest_pct": forest_km2 / land_km2 * 100}
    area = design.lc_row_area[:, None]
    patches = [{"id": p.id, "class": p.cls,
                "area_ha": float(np.broadcast_to(area, design.lc_grid.shape)[design.piece_masks[p.id]].sum()) / 1e4,
                "cleared_year": p.cleared_year, "part_of": p.part_of} for p in PIECES]
    return {"forest_classes": list(FOREST_CLASSES), "mmu_ha": MMU_HA, "connectivity": 8,
            "years": years, "patches": patches}


def zone_truth_15_1_1(design: Design, zones: Zones, totals: dict) -> dict:
    """The same per zone (and outside zones), pixel-centre membership on the same grid. The MMU
    is decided on whole components over the AOI, as above: a patch crossing a border is kept
    or dropped as a whole, then its pixels go to their zones. ``totals``: truth_15_1_1's years,
    which zones plus outside must add up to."""
    rows, cols = design.lc_aoi_window
    cell = _aoi_cells(design)
    kept, water = {}, {}
    for year, lc in design.landcovers.items():
        labels, comp_ha = _components(design, lc, cell)
        kept[year] = np.concatenate([[False], comp_ha >= MMU_HA])[labels]
        water[year] = lc[rows, cols] == 80

    def measure(year: int, zone: np.ndarray) -> dict[str, float | None]:
        aoi_km2 = float(cell[zone].sum()) / 1e6
        water_km2 = float(cell[zone & water[year]].sum()) / 1e6
        forest_km2 = float(cell[zone & kept[year]].sum()) / 1e6
        land_km2 = aoi_km2 - water_km2
        return {"aoi_area_km2": aoi_km2, "permanent_water_km2": water_km2, "land_area_km2": land_km2,
                "forest_area_km2": forest_km2, "forest_pct": forest_km2 / land_km2 * 100 if land_km2 > 0 else None}

    zoned = per_zone(zones.lc_masks, YEARS, measure)
    check_sums(zoned, totals, AREA_KEYS)
    return zoned
