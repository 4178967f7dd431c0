"""Real scenes from Debian packages: our water and NDVI kernels against the scene itself.

The Olinda DEM (same extent as the Landsat 7 scene) says where the Atlantic is
(elevation <= 0) and where land is (> 10 m): an independent truth for the water test.
"""

from datetime import datetime, timezone

import numpy as np
import odc.stac
import pytest
from shapely.geometry import box

import kernels
from catalog.samples import build_samples
from catalog.search import SearchRequest, search


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    catalog = build_samples(tmp_path_factory.mktemp("samples") / "data")
    items = search(str(catalog), SearchRequest("debian-samples", box(-180, -90, 180, 90), None, None))
    return {item.id: item for item in items}


def index(first, second) -> np.ndarray:
    """Normalized difference of two DN rasters (no scale/offset: the scenes are raw DNs)."""
    a, b = first.values.astype(np.int32), second.values.astype(np.int32)
    out = np.empty(a.shape, np.float32)
    ones, zeros = np.ones(a.shape[0]), np.zeros(a.shape[0])
    kernels.normalized_difference(a, b, ones, zeros, ones, zeros, -1, out)
    return out[0]


def test_catalog_registers_every_scene(samples):
    assert set(samples) == {"L7_ETMs_olinda", "olinda_dem", "LC81950252013188LGN00"}
    l7 = samples["L7_ETMs_olinda"]
    assert set(l7.assets) == {"blue", "green", "red", "nir", "swir16", "swir22"}
    assert l7.datetime < datetime(2010, 1, 1, tzinfo=timezone.utc)
    assert -35.0 < l7.bbox[0] < l7.bbox[2] < -34.7  # Olinda, Pernambuco, on the Atlantic coast


@pytest.fixture(scope="module")
def olinda(samples):
    scene = odc.stac.load([samples["L7_ETMs_olinda"]], bands=["green", "red", "nir", "swir16"])
    dem = odc.stac.load([samples["olinda_dem"]], bands=["dem"], geobox=scene.odc.geobox,
                        resampling="nearest").dem.values[0]
    return scene, dem <= 0, dem > 10


def test_the_ocean_is_water_and_the_land_is_not(olinda):
    scene, sea, land = olinda
    assert 0.1 < sea.mean() < 0.3 and land.mean() > 0.4  # the scene really holds both
    water = np.empty((1, *sea.shape), np.uint8)
    kernels.classify_water(index(scene.green, scene.swir16)[None], 0.0, water)
    assert (water[0][sea] == 1).mean() > 0.95
    assert (water[0][land] == 1).mean() < 0.03


def test_ndvi_separates_sea_from_land(olinda):
    scene, sea, land = olinda
    ndvi = index(scene.nir, scene.red)
    assert np.all((ndvi >= -1) & (ndvi <= 1))
    assert np.median(ndvi[sea]) < -0.3
    assert np.median(ndvi[land]) > np.median(ndvi[sea]) + 0.5


def test_landsat8_summer_scene_is_vegetated_land(samples):
    scene = odc.stac.load([samples["LC81950252013188LGN00"]], bands=["green", "red", "nir", "swir16"])
    ndvi = index(scene.nir, scene.red)
    assert np.median(ndvi) > 0.2  # central Europe in July
    assert (index(scene.green, scene.swir16) > 0).mean() < 0.1
