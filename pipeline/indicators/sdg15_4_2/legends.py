"""15.4.2's classes: UNEP-WCMC (Kapos) mountain classes, the 10 SEEA land-cover classes of the 2023 method,
the shipped legend tables to them, and FAO's transition impact matrix between them."""

from __future__ import annotations

MOUNTAIN = {0: "not mountain", 1: ">= 4500 m", 2: "3500-4500 m", 3: "2500-3500 m", 4: "1500-2500 m, slope >= 2 deg",
            5: "1000-1500 m, slope >= 5 deg or local range > 300 m", 6: "300-1000 m, local range > 300 m"}
MOUNTAIN_COLOURS = {0: "#f7f7f7", 1: "#4d004b", 2: "#810f7c", 3: "#88419d", 4: "#8c6bb1", 5: "#8c96c6",
                    6: "#b3cde3"}
UNKNOWN = 255  # no elevation, or outside the AOI

SEEA = {1: "artificial surfaces", 2: "croplands", 3: "grassland", 4: "tree-covered areas", 5: "shrub-covered areas",
        6: "shrubs and/or herbaceous vegetation, aquatic or regularly flooded", 7: "sparsely natural vegetated areas",
        8: "terrestrial barren land", 9: "permanent snow and glaciers", 10: "inland water bodies"}
SEEA_COLOURS = {1: "#515151", 2: "#f18701", 3: "#92b4a7", 4: "#044d02", 5: "#00cecb", 6: "#0dab76", 7: "#8d9f87",
                8: "#cdc6a5", 9: "#ffffff", 10: "#3d348b"}
NO_LAND_COVER = 0
GREEN = (2, 3, 4, 5, 6)  # the 2023 method's green classes; 1 and 7..10 are not green
GREEN_CLASSES = {0: "not green", 1: "green"}
GREEN_COLOURS = {0: "#d9c8a9", 1: "#2b8c3e"}

# Source legends -> SEEA class. ESA CCI's LCCS codes as in FAO's 2023 method; WorldCover: 60 (bare or sparse)
# is taken as barren land, 100 (moss and lichen) as sparsely vegetated, 95 (mangroves) as tree-covered.
SOURCE_LEGENDS: dict[str, dict[int, int]] = {
    "esa-cci": {190: 1, 10: 2, 11: 2, 12: 2, 20: 2, 30: 2, 40: 2, 110: 3, 130: 3, 50: 4, 60: 4, 61: 4, 62: 4,
                70: 4, 71: 4, 72: 4, 80: 4, 81: 4, 82: 4, 90: 4, 100: 4, 160: 4, 170: 4, 120: 5, 121: 5, 122: 5,
                180: 6, 140: 7, 150: 7, 151: 7, 152: 7, 153: 7, 200: 8, 201: 8, 202: 8, 220: 9, 210: 10},
    "esa-worldcover": {50: 1, 40: 2, 30: 3, 10: 4, 95: 4, 20: 5, 90: 6, 100: 7, 60: 8, 70: 9, 80: 10},
}

# FAO's impact of a transition (row: from SEEA 1..10, column: to SEEA 1..10): D degradation, S stable,
# I improvement (the 2023 method's default; a recipe may replace it)
IMPACT = ("SIIIIIIIII", "DSIIIIDDIS", "DDSIIIDDIS", "DDDSDSDDIS", "DDDISSDDIS", "DDDDDSDDIS", "DDIIIISDIS",
          "DIIIIIISIS", "DDDDDDDDSD", "DDDDDDDDIS")
DEGRADED, STABLE, IMPROVED, NO_STATUS = -1, 0, 1, -128
STATUS = {DEGRADED: "degraded", STABLE: "stable", IMPROVED: "improved"}
STATUS_COLOURS = {DEGRADED: "#d7191c", STABLE: "#ffffbf", IMPROVED: "#1a9641"}
BELTS = {1: "nival", 2: "alpine", 3: "montane", 4: "remaining mountain area"}
