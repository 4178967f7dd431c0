"""Legends and tables of 15.3.1 as data: UNCCD classes, source legends, and Trends.Earth's matrices.

Codes are Trends.Earth's: -1 degraded, 0 stable, 1 improved; LPD 1..5; status 1..7.
The ESA CCI table is Trends.Earth's default nesting. Trends.Earth ships no table for ESA
WorldCover or Impact Observatory; ours follow the same reading of the UNCCD classes
(mangroves and flooded vegetation as wetland, as CCI 160/170/180 are; shrubland, moss and
lichen as grassland, as CCI 120-153; snow and ice as other land, as CCI 220).
"""

from __future__ import annotations

import numpy as np

UNCCD = {1: "tree-covered", 2: "grassland", 3: "cropland", 4: "wetland", 5: "artificial", 6: "other land",
         7: "water body"}
UNCCD_COLOURS = {1: "#787f1b", 2: "#ffac42", 3: "#ffff00", 4: "#00db84", 5: "#ff0000", 6: "#d7c29e",
                 7: "#0000ff"}
WATER = 7

_CCI_GROUPS = {1: (50, 60, 61, 62, 70, 71, 72, 80, 81, 82, 90, 100), 2: (110, 120, 121, 122, 130, 140, 150, 151,
                                                                       152, 153),
               3: (10, 11, 12, 20, 30, 40), 4: (160, 170, 180), 5: (190,), 6: (200, 201, 202, 220), 7: (210,)}
SOURCE_LEGENDS: dict[str, dict[int, int]] = {
    "esa-cci": {code: cls for cls, codes in _CCI_GROUPS.items() for code in codes},
    "esa-worldcover": {10: 1, 20: 2, 30: 2, 40: 3, 50: 5, 60: 6, 70: 6, 80: 7, 90: 4, 95: 4, 100: 2},
    "io-lulc": {1: 7, 2: 1, 4: 4, 5: 3, 7: 5, 8: 6, 9: 6, 10: 0, 11: 2},  # 10 = clouds: no observation
}

# UNCCD default (rows: initial class 1..7, columns: final): anything to or from water is stable.
TRANSITIONS = ((0, -1, -1, -1, -1, -1, 0),
               (1, 0, 1, -1, -1, -1, 0),
               (1, -1, 0, -1, -1, -1, 0),
               (-1, -1, -1, 0, -1, -1, 0),
               (1, 1, 1, 1, 0, 1, 0),
               (1, 1, 1, 1, -1, 0, 0),
               (0, 0, 0, 0, 0, 0, 0))

# IPCC Tier 1 land-use factors [initial, final] as Trends.Earth applies them; "F" = the
# climate's cropland factor, "1/F" its inverse (cropland left for trees or grass).
SOC_FACTORS = (("1", "1", "F", "1", "0.1", "0.1", "1"),
               ("1", "1", "F", "1", "0.1", "0.1", "1"),
               ("1/F", "1/F", "1", "1/0.71", "0.1", "0.1", "1"),
               ("1", "1", "0.71", "1", "0.1", "0.1", "1"),
               ("2", "2", "2", "2", "1", "1", "1"),
               ("2", "2", "2", "2", "1", "1", "1"),
               ("1", "1", "1", "1", "1", "1", "1"))

# IPCC climate zones (Trends.Earth's numbering) -> cropland factor; 0 = no data.
CLIMATE_ZONE_FACTORS = {1: 0.69, 2: 0.80, 3: 0.69, 4: 0.80, 5: 0.69, 6: 0.80, 7: 0.69, 8: 0.80, 9: 0.64,
                        10: 0.48, 11: 0.48, 12: 0.58}

TRAJECTORY = {-3: "99% significant decline", -2: "95% significant decline", -1: "90% significant decline",
              0: "no significant change", 1: "90% significant increase", 2: "95% significant increase",
              3: "99% significant increase"}
TRAJECTORY_COLOURS = {-3: "#a50026", -2: "#d73027", -1: "#fdae61", 0: "#ffffe0", 1: "#a6d96a", 2: "#1a9850",
                      3: "#006837"}  # declines red, increases green
DEGRADATION = {-1: "degraded", 0: "stable", 1: "improved"}
PERFORMANCE = {-1: "degraded", 0: "not degraded"}
PERFORMANCE_COLOURS = {-1: "#9b2779", 0: "#ffffe0"}
LPD = {1: "declining", 2: "moderate decline", 3: "stable but stressed", 4: "stable", 5: "increasing"}
LPD_COLOURS = {1: "#f23c46", 2: "#ffabab", 3: "#a4e3a4", 4: "#ffffe0", 5: "#29a329"}
DEGRADATION_COLOURS = {-1: "#9b2779", 0: "#ffffe0", 1: "#006500"}
STATUS = {1: "persistent degradation", 2: "recent degradation", 3: "baseline degradation", 4: "stability",
          5: "baseline improvement", 6: "recent improvement", 7: "persistent improvement"}
STATUS_COLOURS = {1: "#9b2779", 2: "#c0504d", 3: "#e6b8b7", 4: "#ffffe0", 5: "#c4d79b", 6: "#77933c",
                  7: "#006500"}


def lpd_table() -> np.ndarray:
    """LPD class [trajectory + 1, state + 1, performance + 1] (performance -1/0) as Trends.Earth combines them."""
    table = np.zeros((3, 3, 2), np.uint8)
    for t in (-1, 0, 1):
        for s in (-1, 0, 1):
            for p in (-1, 0):
                if t == -1:
                    v = 1
                elif t == 0:
                    v = {(-1, -1): 1, (-1, 0): 2, (0, -1): 3}.get((s, p), 4)
                else:
                    v = 2 if (s, p) == (-1, -1) else 5
                table[t + 1, s + 1, p + 1] = v
    return table


PROD3 = {1: -1, 2: -1, 3: 0, 4: 0, 5: 1}  # LPD -> productivity degradation


def status_table() -> np.ndarray:
    """Status class [baseline + 1, period + 1] of the SDG layers (Trends.Earth's 7-class matrix)."""
    return np.array([[1, 3, 6], [2, 4, 6], [2, 5, 7]], np.uint8)


STATUS3 = {1: -1, 2: -1, 3: -1, 4: 0, 5: 1, 6: 1, 7: 1}


def soc_factor_tables() -> tuple[np.ndarray, np.ndarray]:
    """(factors, kinds) indexed [initial, final] by UNCCD class (row/column 0 unused), for kernels.soc_stocks."""
    factors = np.ones((8, 8), np.float64)
    kinds = np.zeros((8, 8), np.int8)
    for i, row in enumerate(SOC_FACTORS, start=1):
        for j, cell in enumerate(row, start=1):
            if cell == "F":
                kinds[i, j] = 1
            elif cell == "1/F":
                kinds[i, j] = -1
            elif cell.startswith("1/"):
                factors[i, j] = 1 / float(cell[2:])
            else:
                factors[i, j] = float(cell)
    return factors, kinds
