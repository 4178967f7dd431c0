"""The Sentinel-2 L2A look-alike: rendered reflectance, DN encoding, tiles, Earth Search v1 items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pystac
from shapely.geometry import mapping

from catalog.demo.atmosphere import (
    SCL_CIRRUS,
    SCL_CLOUD_HIGH,
    SCL_CLOUD_MEDIUM,
    SCL_NODATA,
    SCL_NOT_VEGETATED,
    SCL_SATURATED,
    SCL_SHADOW,
    SCL_VEGETATION,
    SCL_WATER,
    check_clear_guarantees,
    cloud_year,
)
from catalog.demo.cogs import write_cog
from catalog.demo.layout import (
    DEMO_LAYOUT,
    LATITUDE_BAND,
    NODATA_TILE,
    UTM_CRS,
    UTM_ZONE,
    Layout,
    upsample,
    utm_grid,
    utm_polygon_to_geo,
    valid_footprint,
    wedge_mask,
)
from catalog.demo.scenes import DN_SCALE, SCENES, YEARS, Scene
from catalog.demo.stac import EXT, cog_asset, collection
from catalog.demo.world import WATER, Design

S2_COLLECTION = "sentinel-2-l2a"

# ---------------------------------------------------------------- spectra (reflectance)
BANDS_10M = ("blue", "green", "red", "nir")
BANDS_20M = ("swir16", "swir22")
BANDS = BANDS_10M + BANDS_20M
SPECTRA = np.array([  # blue, green, red, nir, swir16, swir22 per surface kind (world.OPEN ... DARK_WATER)
    [0.060, 0.090, 0.100, 0.220, 0.260, 0.180],  # OPEN: cropland / grassland / shrubs
    [0.030, 0.060, 0.040, 0.300, 0.180, 0.090],  # FOREST: tree cover and mangroves
    [0.100, 0.120, 0.140, 0.200, 0.240, 0.210],  # BUILT
    [0.050, 0.045, 0.030, 0.015, 0.004, 0.002],  # WATER
    [0.045, 0.040, 0.025, 0.010, -0.004, -0.005],  # DARK_WATER: exact, noise-free
])
SURFACE_SCL = np.array([SCL_VEGETATION, SCL_VEGETATION, SCL_NOT_VEGETATED, SCL_WATER, SCL_WATER],
                       np.uint8)
TEXTURE_AMPLITUDE = 0.03  # relative, of the static land texture (world.TEXTURE_SIGMA_PX)
LAND_NOISE_SD, WATER_NOISE_SD = 0.0001, 0.0001  # 1 DN: files must compress
CLOUD_REFLECTANCE = {SCL_CLOUD_HIGH: 0.48, SCL_CLOUD_MEDIUM: 0.38}
CIRRUS_BASE, CIRRUS_TRANSMITTANCE, SHADOW_FACTOR = 0.15, 0.5, 0.5

# ---------------------------------------------------------------- asset metadata
S2_BAND_INFO = {  # key: (S2 band name, centre wavelength, FWHM, gsd)
    "blue": ("B02", 0.49, 0.098, 10), "green": ("B03", 0.56, 0.045, 10),
    "red": ("B04", 0.665, 0.038, 10), "nir": ("B08", 0.842, 0.145, 10),
    "swir16": ("B11", 1.61, 0.143, 20), "swir22": ("B12", 2.19, 0.242, 20),
}


# ================================================================= rendering
def render_scene(design: Design, scene: Scene, atm: np.ndarray) -> dict[str, np.ndarray]:
    """DN arrays (uint16) of all bands and the SCL (uint8) on the world grids."""
    kind10, kind20 = design.surfaces(scene.when.year, scene.wet)
    rng = design.rng(20, *scene.key)
    out = {}
    for band_index, band in enumerate(BANDS):
        fine = band in BANDS_10M
        kind, texture = (kind10, design.texture10) if fine else (kind20, design.texture20)
        code = upsample(atm, 2) if fine else atm
        rho = _clear_reflectance(rng, kind, texture, band_index)
        rho = _apply_atmosphere(rho, code, texture)
        out[band] = _encode(rho, scene.offset, code == SCL_SATURATED)
    out["scl"] = np.where(atm > 0, atm, SURFACE_SCL[kind20]).astype(np.uint8)
    return out


def _clear_reflectance(rng: np.random.Generator, kind: np.ndarray, texture: np.ndarray, band: int) -> np.ndarray:
    base = SPECTRA[kind, band]
    land = kind < WATER
    rho = np.where(land, base * (1 + TEXTURE_AMPLITUDE * texture), base)
    noise_sd = np.where(land, LAND_NOISE_SD, np.where(kind == WATER, WATER_NOISE_SD, 0.0))
    return rho + noise_sd * rng.standard_normal(kind.shape)


def _apply_atmosphere(rho: np.ndarray, code: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """Clouds replace the surface (smoothly textured), cirrus veils it, shadows darken it."""
    out = rho.copy()
    for scl, level in CLOUD_REFLECTANCE.items():
        hit = code == scl
        out[hit] = level * (1 + TEXTURE_AMPLITUDE * texture[hit])
    cirrus = code == SCL_CIRRUS
    out[cirrus] = CIRRUS_BASE + CIRRUS_TRANSMITTANCE * rho[cirrus]
    shadow = code == SCL_SHADOW
    out[shadow] = SHADOW_FACTOR * rho[shadow]
    return out


def _encode(rho: np.ndarray, offset: float, saturated: np.ndarray) -> np.ndarray:
    """Reflectance -> DN = round((rho - offset) / scale), valid range [1, 65535]."""
    dn = np.clip(np.rint((rho - offset) / DN_SCALE), 1, 65535).astype(np.uint16)
    dn[saturated] = 65535
    return dn


def cut_tile(world: dict[str, np.ndarray], tile: str, layout: Layout = DEMO_LAYOUT) -> dict[str, np.ndarray]:
    """One tile's arrays from the world arrays (blanking the wedge on NODATA_TILE)."""
    out = {}
    (x0, x1), ux0 = layout.tile_x[tile], layout.union_x[0]
    for key, data in world.items():
        res = 10 if key in BANDS_10M else 20
        c0 = int((x0 - ux0) // res)
        part = data[:, c0:c0 + int((x1 - x0) // res)].copy()
        if tile == NODATA_TILE:
            part[wedge_mask(res, layout)] = 0
        out[key] = part
    return out


# ================================================================= STAC
def _band_fields(key: str) -> dict:
    name, wavelength, fwhm, gsd = S2_BAND_INFO[key]
    return {"gsd": gsd, "eo:bands": [{"name": key, "common_name": key, "description": f"{key} ({name})",
                                      "center_wavelength": wavelength, "full_width_half_max": fwhm}]}


def _percentage(mask: np.ndarray, valid: np.ndarray) -> float:
    return round(100.0 * float(mask[valid].mean()), 2)


def s2_item(scene: Scene, tile: str, arrays: dict[str, np.ndarray], href_root: str,
            layout: Layout = DEMO_LAYOUT) -> pystac.Item:
    """An Earth Search v1 shaped Sentinel-2 L2A item for one tile and date."""
    item_id = scene.item_id(tile)
    scl = arrays["scl"]
    valid = scl != SCL_NODATA
    footprint = utm_polygon_to_geo(valid_footprint(tile, layout))
    tile_grid = lambda res: utm_grid(*layout.tile_x[tile], res, layout.tile_y)  # noqa: E731
    props = {
        "platform": f"sentinel-{scene.platform[1:].lower()}", "constellation": "sentinel-2",
        "instruments": ["msi"], "gsd": 10,
        "eo:cloud_cover": _percentage(np.isin(scl, [SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS]), valid),
        "proj:code": UTM_CRS,
        "mgrs:utm_zone": UTM_ZONE, "mgrs:latitude_band": LATITUDE_BAND, "mgrs:grid_square": tile[3:],
        "grid:code": f"MGRS-{tile}",
        "s2:processing_baseline": scene.baseline, "s2:product_type": "S2MSI2A",
        "s2:nodata_pixel_percentage": round(100.0 * float((~valid).mean()), 2),
        "s2:saturated_defective_pixel_percentage": _percentage(scl == SCL_SATURATED, valid),
        "s2:cloud_shadow_percentage": _percentage(scl == SCL_SHADOW, valid),
        "s2:water_percentage": _percentage(scl == SCL_WATER, valid),
        "earthsearch:boa_offset_applied": False,
    }
    item = pystac.Item(item_id, mapping(footprint), list(footprint.bounds), scene.when, props,
                       stac_extensions=[EXT[k] for k in ("eo", "raster", "proj", "grid", "mgrs", "s2")])
    base = f"{href_root}/{S2_COLLECTION}/{item_id}"
    for key in BANDS:
        res = S2_BAND_INFO[key][3]
        band = {"data_type": "uint16", "bits_per_sample": 15, "spatial_resolution": res,
                "scale": DN_SCALE, "offset": scene.offset}
        item.add_asset(key, cog_asset(f"{base}/{key}.tif", f"{key} ({S2_BAND_INFO[key][0]}) - {res}m",
                                      tile_grid(res), band, ["data", "reflectance"], **_band_fields(key)))
    item.add_asset("scl", cog_asset(f"{base}/scl.tif", "Scene classification map (SCL)", tile_grid(20),
                                    {"data_type": "uint8", "spatial_resolution": 20}, ["data"], gsd=20))
    return item


def s2_collection(items: list[pystac.Item]) -> pystac.Collection:
    coll = collection(
        S2_COLLECTION, "Sentinel-2 Level-2A (synthetic demo)",
        "Synthetic Sentinel-2 L2A tiles shaped like Earth Search v1: uint16 DN with raster:bands "
        "scale 0.0001 and offset -0.1 from processing baseline 04.00 (2022-01-25) on, 0 before; "
        "SCL as uint8. Two overlapping MGRS-like tiles in UTM 21S (Mato Grosso).",
        "proprietary", items, ["sentinel", "copernicus", "reflectance", "synthetic"])
    coll.add_link(pystac.Link("license", "https://sentinel.esa.int/documents/247904/690755/"
                              "Sentinel_Data_Legal_Notice", title="Copernicus Sentinel data terms"))
    return coll


# ================================================================= files
def write_sentinel2(design: Design, root: Path, href_root: str) -> list[pystac.Item]:
    """Every scene of every year: both tiles' COGs under ``root`` and their items."""
    atmospheres = {}
    for year in YEARS:
        atmospheres.update(cloud_year(design, year))
    check_clear_guarantees(design, atmospheres)
    items = []
    for scene in SCENES:
        world = render_scene(design, scene, atmospheres[scene.key])
        layout = design.layout
        for tile in layout.tile_x:
            arrays = cut_tile(world, tile, layout)
            item = s2_item(scene, tile, arrays, href_root, layout)
            for key, data in arrays.items():
                res = 10 if key in BANDS_10M else 20
                write_cog(root / S2_COLLECTION / item.id / f"{key}.tif", data,
                          utm_grid(*layout.tile_x[tile], res, layout.tile_y), 0,
                          categorical=key == "scl")
            items.append(item)
    return items
