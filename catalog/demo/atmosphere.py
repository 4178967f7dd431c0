"""Where the sky hides the ground: per-date cloud, shadow, cirrus and saturation masks (SCL codes)."""

from __future__ import annotations

import numpy as np

from catalog.demo.scenes import SCENES, YEARS
from catalog.demo.world import Design, smooth_field

# ---------------------------------------------------------------- SCL (Sentinel-2 L2A scene classification)
SCL_NODATA, SCL_SATURATED, SCL_SHADOW, SCL_VEGETATION = 0, 1, 3, 4
SCL_NOT_VEGETATED, SCL_WATER, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS = 5, 6, 8, 9, 10

# ---------------------------------------------------------------- clouds
MAX_CLOUD_COVER = 60.0  # recipes keep items with eo:cloud_cover below this
MIN_CLEAR_PER_YEAR = 3  # clear kept observations per 20 m pixel and year (asserted)
CLOUD_FRACTION = {1: (0.25, 0.45), 3: (0.10, 0.30), 5: (0.03, 0.15), 7: (0.0, 0.0),
                  9: (0.02, 0.12), 11: (0.20, 0.40)}
HEAVY_CLOUD_FRACTION = 0.97
CLOUD_SIGMA_PX = 7.0  # 20 m pixels
SHADOW_SHIFT_PX = (9, 6)  # (rows south, cols east) at 20 m
CIRRUS_FRACTION = (0.02, 0.08)
MAX_SATURATED_PX = 4


def cloud_year(design: Design, year: int) -> dict[tuple[int, int, int], np.ndarray]:
    """Atmosphere code per 20 m pixel (0 clear, else the SCL class) for each scene of a year.

    Kept dates draw clouds within a per-pixel budget, so every pixel keeps at least
    MIN_CLEAR_PER_YEAR clear observations, one of them wet and one dry."""
    shape = design.world20.shape
    kept = [s for s in SCENES if s.when.year == year and not s.heavy]
    dates_in = {wet: sum(s.wet == wet for s in kept) for wet in (True, False)}
    unclear_in = {wet: np.zeros(shape, np.int8) for wet in (True, False)}
    unclear = np.zeros(shape, np.int8)
    out = {}
    for scene in (s for s in SCENES if s.when.year == year):
        rng = design.rng(10, *scene.key)
        if scene.heavy:
            out[scene.key] = _draw_atmosphere(rng, shape, HEAVY_CLOUD_FRACTION, cirrus=False)
            continue
        allowed = (unclear < len(kept) - MIN_CLEAR_PER_YEAR) & (unclear_in[scene.wet] < dates_in[scene.wet] - 1)
        atm = _draw_atmosphere(rng, shape, rng.uniform(*CLOUD_FRACTION[scene.when.month]), cirrus=True)
        atm[~allowed] = 0
        unclear += atm > 0
        unclear_in[scene.wet] += atm > 0
        out[scene.key] = atm
    return out


def cloud_masks(rng: np.random.Generator, shape: tuple[int, int], fraction: float, sigma_px: float = CLOUD_SIGMA_PX,
                shadow_shift_px: tuple[int, int] = SHADOW_SHIFT_PX) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(shadow outside cloud, cloud with its rim, cloud core) of a smooth cloud field covering ``fraction``; the
    shadow is the cloud moved ``shadow_shift_px`` (rows south, cols east)."""
    field = smooth_field(rng, shape, sigma_px)
    rim, core = np.quantile(field, [1 - fraction, 1 - 0.6 * fraction])
    cloud = field > rim
    (dr, dc), shadow = shadow_shift_px, np.zeros_like(cloud)
    shadow[dr:, dc:] = cloud[:-dr, :-dc]
    return shadow & ~cloud, cloud, field > core


def _draw_atmosphere(rng: np.random.Generator, shape: tuple[int, int], fraction: float, cirrus: bool) -> np.ndarray:
    """Clouds (core 9, rim 8), their shadows (3), some cirrus (10) and saturated pixels (1)."""
    atm = np.zeros(shape, np.uint8)
    if fraction > 0:
        shadow, cloud, core = cloud_masks(rng, shape, fraction)
        atm[shadow] = SCL_SHADOW
        atm[cloud] = SCL_CLOUD_MEDIUM
        atm[core] = SCL_CLOUD_HIGH
    if cirrus and rng.random() < 0.5:
        haze = smooth_field(rng, shape, 2 * CLOUD_SIGMA_PX)
        thin = (haze > np.quantile(haze, 1 - rng.uniform(*CIRRUS_FRACTION))) & (atm == 0)
        atm[thin] = SCL_CIRRUS
    n_sat = int(rng.integers(0, MAX_SATURATED_PX + 1))
    atm.flat[rng.choice(atm.size, n_sat, replace=False)] = SCL_SATURATED
    return atm


def check_clear_guarantees(design: Design, atmospheres: dict[tuple[int, int, int], np.ndarray]) -> None:
    """Assert, per year and AOI pixel on the 20 m grid, among kept dates: >= 3 clear
    observations; and >= 1 clear wet and >= 1 clear dry on seasonal-ring pixels."""
    for year in YEARS:
        kept = [s for s in SCENES if s.when.year == year and not s.heavy]
        clear = np.stack([atmospheres[s.key] == 0 for s in kept])
        wet = np.array([s.wet for s in kept])
        aoi = design.aoi20
        assert (clear.sum(0)[aoi] >= MIN_CLEAR_PER_YEAR).all(), f"{year}: too few clear observations"
        ring = design.lake20(year)[1] & aoi
        assert (clear[wet].any(0)[ring]).all(), f"{year}: a seasonal pixel has no clear wet date"
        assert (clear[~wet].any(0)[ring]).all(), f"{year}: a seasonal pixel has no clear dry date"
