"""classify_water, classify_water_bands and yearly_water_class against NumPy references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kernels
from kernels import classify_water, yearly_water_class


def reference_classify(index, threshold):
    return np.where(np.isnan(index), 255, np.where(index > threshold, 1, 0)).astype(np.uint8)


def reference_yearly(water, min_observations, permanent_fraction):
    n = (water != 255).sum(axis=0)
    w = (water == 1).sum(axis=0)
    return np.select(
        [(n == 0) | (n < min_observations), w == 0, w * 1.0 >= permanent_fraction * n - 1e-12],
        [0, 1, 3],
        default=2,
    ).astype(np.uint8)


def classify(index, threshold):
    out = np.full(index.shape, 77, np.uint8)
    classify_water(index, threshold, out)
    return out


def yearly(water, min_observations, permanent_fraction):
    out = np.full(water.shape[1:], 77, np.uint8)
    yearly_water_class(water, min_observations, permanent_fraction, out)
    return out


def test_constants():
    assert (kernels.NO_OBSERVATION, kernels.NOT_WATER, kernels.SEASONAL, kernels.PERMANENT) == (0, 1, 2, 3)
    assert kernels.NODATA_U8 == 255


def test_classify_nan_threshold_and_infinities():
    index = np.array([[[np.nan, -1.0, 0.0, 0.25, 0.2500001, 1.0, np.inf, -np.inf]]], np.float32)
    np.testing.assert_array_equal(classify(index, 0.25)[0, 0], [255, 0, 0, 0, 1, 1, 1, 0])
    # The threshold is rounded to float32 like NumPy's comparison: float32(0.1) > 0.1 is False.
    assert np.float64(np.float32(0.1)) > 0.1
    assert classify(np.array([[[0.1]]], np.float32), 0.1)[0, 0, 0] == 0


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 1, 7), (2, 13, 17), (0, 3, 3), (2, 0, 4), (2, 4, 0)])
def test_classify_odd_and_empty_shapes(shape):
    rng = np.random.default_rng(sum(shape))
    index = rng.uniform(-1, 1, shape).astype(np.float32)
    index[rng.random(shape) < 0.3] = np.nan
    np.testing.assert_array_equal(classify(index, 0.1), reference_classify(index, 0.1))


def test_classify_all_nan():
    assert (classify(np.full((2, 3, 5), np.nan, np.float32), 0.0) == 255).all()


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=6)),
    st.floats(-1.5, 1.5),
)
def test_property_classify_matches_numpy(index, threshold):
    np.testing.assert_array_equal(classify(index, threshold), reference_classify(index, threshold))


def test_yearly_hand_made_pixels():
    #   pixel:    0    1    2    3    4    5    6
    water = np.array(
        [
            [255, 0, 1, 1, 0, 1, 1],
            [255, 0, 1, 1, 0, 1, 0],
            [255, 0, 1, 1, 1, 255, 0],
            [255, 255, 255, 0, 0, 255, 0],
        ],
        np.uint8,
    )[:, None, :]
    # 0: never seen; 1: always dry; 2: 3/3 wet; 3: 3/4 wet = 0.75 exactly (tie -> permanent);
    # 4: 1/4 wet; 5: 2/2 wet but only 2 observations (< 3); 6: 1/4 wet.
    np.testing.assert_array_equal(yearly(water, 3, 0.75)[0], [0, 1, 3, 3, 2, 0, 2])
    np.testing.assert_array_equal(yearly(water, 0, 0.75)[0], [0, 1, 3, 3, 2, 3, 2])


def test_yearly_fraction_tie_survives_rounding():
    # 0.28 * 25 == 7.000000000000001 in float64; 7 of 25 must still be permanent.
    water = np.zeros((25, 1, 1), np.uint8)
    water[:7] = 1
    assert 0.28 * 25 > 7
    assert yearly(water, 1, 0.28)[0, 0] == 3
    water[6] = 255  # 6 of 24 < 0.28
    assert yearly(water, 1, 0.28)[0, 0] == 2


@pytest.mark.parametrize("shape", [(0, 2, 3), (1, 1, 1), (3, 1, 7), (2, 13, 17), (4, 0, 3), (4, 3, 0)])
def test_yearly_odd_and_empty_shapes(shape):
    rng = np.random.default_rng(sum(shape) + 1)
    water = rng.choice(np.array([0, 1, 255], np.uint8), shape)
    np.testing.assert_array_equal(yearly(water, 1, 0.5), reference_yearly(water, 1, 0.5))


def test_yearly_all_missing_is_no_observation():
    assert (yearly(np.full((5, 3, 4), 255, np.uint8), 0, 0.5) == 0).all()


def test_classify_then_yearly_end_to_end():
    rng = np.random.default_rng(11)
    index = rng.uniform(-1, 1, (12, 9, 10)).astype(np.float32)
    index[rng.random(index.shape) < 0.2] = np.nan
    water = classify(index, 0.0)
    want = reference_yearly(reference_classify(index, 0.0), 4, 0.75)
    np.testing.assert_array_equal(yearly(water, 4, 0.75), want)


def test_same_bits_for_one_and_two_threads(with_threads):
    rng = np.random.default_rng(12)
    index = rng.uniform(-1, 1, (6, 301, 77)).astype(np.float32)
    index[rng.random(index.shape) < 0.2] = np.nan
    w1 = with_threads(1, lambda: classify(index, 0.05))
    w2 = with_threads(2, lambda: classify(index, 0.05))
    assert w1.tobytes() == w2.tobytes()
    y1 = with_threads(1, lambda: yearly(w1, 2, 0.6))
    y2 = with_threads(2, lambda: yearly(w1, 2, 0.6))
    assert y1.tobytes() == y2.tobytes()


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        classify_water(np.zeros((2, 3, 4), np.float32), 0.0, np.zeros((2, 3, 5), np.uint8))
    with pytest.raises(ValueError):
        yearly_water_class(np.zeros((2, 3, 4), np.uint8), 1, 0.5, np.zeros((3, 5), np.uint8))


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        np.uint8,
        hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=8),
        elements=st.sampled_from([0, 1, 255, 7]),
    ),
    st.integers(0, 9),
    st.one_of(st.sampled_from([0.0, 0.25, 1 / 3, 0.5, 0.7, 0.75, 1.0]), st.floats(0.0, 1.0)),
)
def test_property_yearly_matches_numpy(water, min_observations, permanent_fraction):
    np.testing.assert_array_equal(
        yearly(water, min_observations, permanent_fraction),
        reference_yearly(water, min_observations, permanent_fraction),
    )


# ------------------------------------------------ classify_water_bands (MNDWI + NDVI guard + AWEI_nsh)

NO_SNOW = (np.nan, 0.11, 0.10)  # no snow test (a snow-masked input)
SNOMAP = (0.4, 0.11, 0.10)  # Hall et al. 1995: NDSI, near infrared and green


def reference_water_bands(dns, scale, offset, nodata, mndwi_t, ndvi_max, awei_t, snow=NO_SNOW):
    """NumPy reference: dns (5, t, y, x) green, red, nir, swir16, swir22; scale, offset (5, t)."""
    rho = np.maximum(dns.astype(np.float64) * scale[:, :, None, None] + offset[:, :, None, None], 0.0)
    g, r, n, s1, s2 = rho
    with np.errstate(all="ignore"):
        mndwi = (g - s1) / (g + s1)
        ndvi = (n - r) / (n + r)
    awei = 4 * (g - s1) - (0.25 * n + 2.75 * s2)
    water = (mndwi > mndwi_t) & ~((n + r > 0) & (ndvi > ndvi_max)) & (awei > awei_t)
    missing = (dns == nodata).any(axis=0) | ~(g + s1 > 0)
    if not np.isnan(snow[0]):
        missing |= (mndwi > snow[0]) & (n > snow[1]) & (g > snow[2])
    return np.where(missing, 255, water).astype(np.uint8)


def water_bands(dns, scale, offset, nodata=0, mndwi_t=0.0, ndvi_max=0.0, awei_t=-0.1, snow=NO_SNOW):
    out = np.full(dns.shape[1:], 77, np.uint8)
    kernels.classify_water_bands(*dns, scale, offset, nodata, mndwi_t, ndvi_max, awei_t, *snow, out)
    return out


def random_dns(rng, shape, dtype=np.uint16, nodata_fraction=0.2):
    dns = rng.integers(0, 6000, (5, *shape)).astype(dtype)
    dns[:, rng.random(shape) < 0.3] = rng.integers(0, 700, (5, 1)).astype(dtype)  # dark, water-like spectra
    dns[rng.random((5, *shape)) < nodata_fraction] = 0
    return dns


def s2_scales(nt):
    """Per date: Sentinel-2 scale 1e-4, offset -0.1 after baseline 04.00 (odd dates) and 0 before."""
    scale = np.full((5, nt), 1e-4)
    offset = np.where(np.arange(nt) % 2 == 1, -0.1, 0.0)[None, :].repeat(5, 0)
    return scale, offset


def test_water_bands_hand_made_pixels():
    scale, offset = np.full((5, 1), 1e-4), np.zeros((5, 1))
    #          clear water, veg (NDVI veto), dark flat (AWEI veto), land, nodata, g+s1 == 0, nir+red == 0
    green = [500, 500, 400, 900, 0, 0, 500]
    red = [300, 300, 390, 1000, 300, 300, 0]
    nir = [150, 900, 380, 2200, 150, 150, 0]
    swir16 = [40, 40, 380, 2600, 40, 0, 40]
    swir22 = [20, 20, 390, 1800, 20, 20, 20]
    dns = np.array([green, red, nir, swir16, swir22], np.uint16)[:, None, None, :]
    nodata = 65535
    dns[0, 0, 0, 4] = nodata
    got = water_bands(dns, scale, offset, nodata=nodata)
    np.testing.assert_array_equal(got[0, 0], [1, 0, 0, 0, 255, 255, 1])
    np.testing.assert_array_equal(got, reference_water_bands(dns, scale, offset, nodata, 0.0, 0.0, -0.1))


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 1, 7), (2, 13, 17), (4, 5, 3), (0, 3, 3), (2, 0, 4), (2, 4, 0)])
def test_water_bands_odd_and_empty_shapes(shape):
    rng = np.random.default_rng(sum(shape) + 5)
    dns = random_dns(rng, shape)
    scale, offset = s2_scales(shape[0])
    np.testing.assert_array_equal(water_bands(dns, scale, offset),
                                  reference_water_bands(dns, scale, offset, 0, 0.0, 0.0, -0.1))


@pytest.mark.parametrize("thresholds", [(0.0, 0.0, -0.1), (0.1, 1.0, 0.0), (-0.2, 0.2, -0.5)])
def test_water_bands_thresholds_and_signed_dns(thresholds):
    rng = np.random.default_rng(3)
    dns = random_dns(rng, (3, 9, 11), np.int16) - np.int16(100)  # some negative DNs, nodata -100
    scale, offset = s2_scales(3)
    np.testing.assert_array_equal(water_bands(dns, scale, offset, -100, *thresholds),
                                  reference_water_bands(dns, scale, offset, -100, *thresholds))


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_water_bands_landsat_scale_and_wide_dns_take_the_float64_route(dtype):
    """Landsat's 2.75e-5 / -0.2 is no integer DN shift, and 32-bit DNs could overflow the DN-unit route."""
    rng = np.random.default_rng(8)
    dns = (random_dns(rng, (2, 7, 9)).astype(np.int64) * 3 + 7000).astype(dtype)  # Landsat's DN range
    dns[:, :, :2] = 0
    scale, offset = np.full((5, 2), 2.75e-5), np.full((5, 2), -0.2)
    np.testing.assert_array_equal(water_bands(dns, scale, offset),
                                  reference_water_bands(dns, scale, offset, 0, 0.0, 0.0, -0.1))
    s2 = s2_scales(2)
    np.testing.assert_array_equal(water_bands(dns, *s2), reference_water_bands(dns, *s2, 0, 0.0, 0.0, -0.1))


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_snow_without_a_mask_is_no_observation_not_water(dtype):
    """Snow is bright in green and near infrared and dark in SWIR: MNDWI and AWEI_nsh call it water, and the
    NDVI guard lets it through; the SNOMAP test makes it no observation (both routes: uint16 and int32 DNs)."""
    scale, offset = np.full((5, 1), 1e-4), np.zeros((5, 1))
    #          fresh snow, old snow, clear water, turbid water, bright sand
    green = [8500, 4500, 500, 1200, 3000]
    red = [8300, 4300, 300, 1100, 3500]
    nir = [7800, 3900, 150, 1000, 4000]
    swir16 = [900, 600, 40, 300, 4500]
    swir22 = [500, 400, 20, 150, 4000]
    dns = np.array([green, red, nir, swir16, swir22], dtype)[:, None, None, :]
    assert list(water_bands(dns, scale, offset)[0, 0]) == [1, 1, 1, 1, 0]  # what happens without the test
    assert list(water_bands(dns, scale, offset, snow=SNOMAP)[0, 0]) == [255, 255, 1, 1, 0]
    rng = np.random.default_rng(12)
    many = random_dns(rng, (3, 9, 11), dtype)
    many[:, 0, :4] = np.array([8500, 8300, 7800, 900, 500], dtype)[:, None, None]  # some snow among them
    s2 = s2_scales(3)
    np.testing.assert_array_equal(water_bands(many, *s2, snow=SNOMAP),
                                  reference_water_bands(many, *s2, 0, 0.0, 0.0, -0.1, snow=SNOMAP))


def test_water_bands_all_masked_and_one_pixel():
    scale, offset = s2_scales(2)
    assert (water_bands(np.zeros((5, 2, 3, 4), np.uint16), scale, offset) == 255).all()
    one = np.array([600, 400, 300, 150, 120], np.uint16).reshape(5, 1, 1, 1) + np.uint16(1000)  # baseline 04.00
    got = water_bands(one, np.full((5, 1), 1e-4), np.full((5, 1), -0.1))
    assert got.shape == (1, 1, 1) and got[0, 0, 0] == 1


def test_water_bands_nan_scale_is_no_observation():
    rng = np.random.default_rng(4)
    dns = random_dns(rng, (2, 3, 5), nodata_fraction=0.0)
    scale, offset = s2_scales(2)
    scale[0, 1] = np.nan  # green unusable on the second date
    got = water_bands(dns, scale, offset)
    assert (got[1] == 255).all()
    np.testing.assert_array_equal(got[0], reference_water_bands(dns, scale, offset, 0, 0.0, 0.0, -0.1)[0])


def test_water_bands_strided_views_and_shape_errors():
    rng = np.random.default_rng(5)
    big = random_dns(rng, (2, 8, 12))
    view = big[:, :, ::2, ::3]  # non-contiguous
    scale, offset = s2_scales(2)
    np.testing.assert_array_equal(water_bands(view, scale, offset),
                                  reference_water_bands(view, scale, offset, 0, 0.0, 0.0, -0.1))
    with pytest.raises(ValueError, match="same"):
        kernels.classify_water_bands(*big, scale, offset, 0, 0.0, 0.0, -0.1, *NO_SNOW, np.empty((2, 8, 11), np.uint8))
    with pytest.raises(ValueError, match=r"\(5, t\)"):
        kernels.classify_water_bands(*big, scale[:, :1], offset[:, :1], 0, 0.0, 0.0, -0.1, *NO_SNOW,
                                     np.empty((2, 8, 12), np.uint8))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6),
       st.floats(-0.5, 0.5), st.floats(-0.5, 0.5), st.floats(-1, 0.5))
def test_property_water_bands_matches_numpy(seed, nt, ny, nx, mndwi_t, ndvi_max, awei_t):
    rng = np.random.default_rng(seed)
    dns = random_dns(rng, (nt, ny, nx))
    scale, offset = s2_scales(nt)
    np.testing.assert_array_equal(water_bands(dns, scale, offset, 0, mndwi_t, ndvi_max, awei_t),
                                  reference_water_bands(dns, scale, offset, 0, mndwi_t, ndvi_max, awei_t))
