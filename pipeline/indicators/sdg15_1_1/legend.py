"""Classes and colours of 15.1.1's layers (the land cover keeps ESA WorldCover's legend)."""

NOT_FOREST, FOREST = 0, 1
FOREST_CLASSES = {NOT_FOREST: "not forest", FOREST: "forest"}
COLOURS = {NOT_FOREST: "#f2e8cf", FOREST: "#1b7837"}
WORLDCOVER = {10: "tree cover", 20: "shrubland", 30: "grassland", 40: "cropland", 50: "built-up",
              60: "bare or sparse vegetation", 70: "snow and ice", 80: "permanent water bodies",
              90: "herbaceous wetland", 95: "mangroves", 100: "moss and lichen"}
WORLDCOVER_COLOURS = {10: "#006400", 20: "#ffbb22", 30: "#ffff4c", 40: "#f096ff", 50: "#fa0000",  # ESA's legend
                      60: "#b4b4b4", 70: "#f0f0f0", 80: "#0064c8", 90: "#0096a0", 95: "#00cf75", 100: "#fae6a0"}
LANDCOVER_NODATA = 0
