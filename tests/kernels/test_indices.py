"""normalized_difference against float64 and exact (Fraction) references."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kernels import normalized_difference

EXTREME_DNS = [0, 1, 999, 1000, 1001, 65535]
# (scale, offset) pairs as written in real metadata: S2 baseline >= 04.00,
# S2 before 04.00, Landsat C2 L2 surface reflectance (non-integer offset/scale).
S2_NEW = (0.0001, -0.1)
S2_OLD = (0.0001, 0.0)
LANDSAT = (0.0000275, -0.2)


def reference_f64(a, b, a_scale, a_offset, b_scale, b_offset, nodata):
    """NumPy float64 reference following the documented rules."""

    def reflectance(dn, scale, offset):
        scale = np.asarray(scale, np.float64)[:, None, None]
        offset = np.asarray(offset, np.float64)[:, None, None]
        k = offset / scale
        r = np.round(k)
        k = np.where(np.abs(k - r) <= 1e-9 * np.maximum(1.0, np.abs(k)), r, k)
        rho = (dn.astype(np.float64) + k) * scale
        return np.maximum(rho, 0.0)

    ra = reflectance(a, a_scale, a_offset)
    rb = reflectance(b, b_scale, b_offset)
    den = ra + rb
    with np.errstate(invalid="ignore", divide="ignore"):
        nd = (ra - rb) / den
    nd[(den == 0) | (a == nodata) | (b == nodata)] = np.nan
    return nd


def decimal(value):
    """The exact rational a float was written as: 0.0001 -> 1/10000."""
    return Fraction(repr(float(value)))


def reference_exact(a, b, a_scale, a_offset, b_scale, b_offset, nodata):
    """Exact rational reference: scale/offset read as the decimals they are written as."""
    out = np.empty(a.shape, np.float64)
    for idx in np.ndindex(a.shape):
        t = idx[0]
        if a[idx] == nodata or b[idx] == nodata:
            out[idx] = np.nan
            continue
        ra = max(int(a[idx]) * decimal(a_scale[t]) + decimal(a_offset[t]), 0)
        rb = max(int(b[idx]) * decimal(b_scale[t]) + decimal(b_offset[t]), 0)
        out[idx] = np.nan if ra + rb == 0 else float((ra - rb) / (ra + rb))
    return out


def run(a, b, a_scale, a_offset, b_scale=None, b_offset=None, nodata=0):
    b_scale = a_scale if b_scale is None else b_scale
    b_offset = a_offset if b_offset is None else b_offset
    args = [np.asarray(v, np.float64) for v in (a_scale, a_offset, b_scale, b_offset)]
    out = np.full(a.shape, 7.0, np.float32)  # garbage: every cell must be written
    normalized_difference(a, b, *args, nodata, out)
    return out


def assert_matches(got, want, atol=1e-6):
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=0, atol=atol)


def extreme_pairs():
    """Every pair of extreme DNs plus a ramp around the -1000 DN offset, as (3, y, x)."""
    dns = np.array(EXTREME_DNS + list(range(990, 1012)) + [2000, 10000], np.uint16)
    a, b = np.meshgrid(dns, dns, indexing="ij")
    return np.stack([a] * 3), np.stack([b] * 3)


def test_mixed_per_time_scale_offset_matches_exact_fractions():
    a, b = extreme_pairs()
    scale = np.array([S2_NEW[0], S2_OLD[0], LANDSAT[0]])
    offset = np.array([S2_NEW[1], S2_OLD[1], LANDSAT[1]])
    got = run(a, b, scale, offset)
    assert_matches(got, reference_exact(a, b, scale, offset, scale, offset, 0))
    assert_matches(got, reference_f64(a, b, scale, offset, scale, offset, 0))


def test_bands_with_different_scale_and_offset_match_exact_fractions():
    a, b = extreme_pairs()
    a_scale = np.array([S2_NEW[0], S2_OLD[0], LANDSAT[0]])
    a_offset = np.array([S2_NEW[1], S2_OLD[1], LANDSAT[1]])
    b_scale, b_offset = a_scale[::-1].copy(), a_offset[::-1].copy()
    got = run(a, b, a_scale, a_offset, b_scale, b_offset)
    assert_matches(got, reference_exact(a, b, a_scale, a_offset, b_scale, b_offset, 0))


def test_offset_over_scale_is_snapped_to_an_integer():
    """-0.3 / 0.0001 is -2999.9999999999995 in float64; DN 3000 must give reflectance exactly 0."""
    assert -0.3 / 0.0001 != -3000.0
    dns = np.array([2999, 3000, 3001, 3002], np.uint16)
    a, b = np.meshgrid(dns, dns, indexing="ij")
    a, b = a[None], b[None]
    scale, offset = np.array([0.0001]), np.array([-0.3])
    got = run(a, b, scale, offset)
    assert np.isnan(got[0, 1, 1])  # both reflectances exactly 0 -> undefined
    assert_matches(got, reference_exact(a, b, scale, offset, scale, offset, 0))


def naive_float32(a, b, scale, offset, nodata, clip):
    """What a first implementation would write: reflectance in float32."""
    ra = a.astype(np.float32) * np.float32(scale) + np.float32(offset)
    rb = b.astype(np.float32) * np.float32(scale) + np.float32(offset)
    if clip:
        ra, rb = np.maximum(ra, np.float32(0)), np.maximum(rb, np.float32(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        nd = (ra - rb) / (ra + rb)
    nd[(a == nodata) | (b == nodata)] = np.nan
    return nd


def test_naive_float32_deviates_where_kernel_does_not():
    """The references are sharp enough to catch the float32 cancellation trap."""
    a, b = extreme_pairs()
    a, b = a[:1], b[:1]
    scale, offset = np.array([S2_NEW[0]]), np.array([S2_NEW[1]])
    want = reference_exact(a, b, scale, offset, scale, offset, 0)
    unclipped = naive_float32(a, b, scale[0], offset[0], 0, clip=False)
    both = ~np.isnan(unclipped) & ~np.isnan(want)
    assert (np.isnan(unclipped) != np.isnan(want)).any()
    assert np.abs(unclipped[both] - want[both]).max() > 0.1
    # Even with the clipping rule, float32 reflectances miss the 1e-6 tolerance.
    with pytest.raises(AssertionError):
        assert_matches(naive_float32(a, b, scale[0], offset[0], 0, clip=True), want)
    assert_matches(run(a, b, scale, offset), want)
    assert_matches(run(a, b, scale, offset), reference_f64(a, b, scale, offset, scale, offset, 0))


def test_dark_water_reflectance_is_clipped_to_zero():
    # DN 900 -> rho -0.01 -> clipped to 0; DN 1500 -> rho 0.05: index is exactly +-1.
    a = np.array([[[900, 1500, 900, 1000]]], np.uint16)
    b = np.array([[[1500, 900, 950, 1000]]], np.uint16)
    got = run(a, b, [0.0001], [-0.1])
    np.testing.assert_array_equal(got[0, 0, :2], [-1.0, 1.0])
    assert np.isnan(got[0, 0, 2]) and np.isnan(got[0, 0, 3])  # both clipped to 0 -> 0/0


def test_nodata_in_either_band_is_nan():
    a = np.array([[[0, 500, 0, 500, 65535]]], np.uint16)
    b = np.array([[[500, 0, 0, 600, 65535]]], np.uint16)
    got = run(a, b, [0.0001], [0.0], nodata=0)
    assert np.isnan(got[0, 0, :3]).all()
    assert np.isfinite(got[0, 0, 3:]).all()
    got = run(a, b, [0.0001], [0.0], nodata=65535)
    assert np.isnan(got[0, 0, 4]) and np.isnan(got[0, 0, 2]) and np.isfinite(got[0, 0, 3])


def test_all_masked_is_all_nan():
    a = np.zeros((2, 3, 4), np.uint16)
    assert np.isnan(run(a, a + 5, [1e-4, 1e-4], [0.0, -0.1])).all()


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 1, 7), (2, 13, 17), (0, 4, 4), (2, 0, 5), (2, 5, 0)])
def test_odd_and_empty_shapes(shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.integers(0, 12000, shape, dtype=np.uint16)
    b = rng.integers(0, 12000, shape, dtype=np.uint16)
    scale = np.full(shape[0], 1e-4)
    offset = np.where(np.arange(shape[0]) % 2 == 0, -0.1, 0.0)
    assert_matches(run(a, b, scale, offset), reference_f64(a, b, scale, offset, scale, offset, 0))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32])
def test_other_integer_dtypes(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    a = rng.integers(info.min, info.max, (2, 5, 9), dtype=dtype, endpoint=True)
    b = rng.integers(info.min, info.max, (2, 5, 9), dtype=dtype, endpoint=True)
    a[0, 0, :3] = -1 if info.min < 0 else 0
    scale, offset = np.array([1e-4, 2.75e-5]), np.array([-0.1, -0.2])
    nodata = -1 if info.min < 0 else 0
    assert_matches(
        run(a, b, scale, offset, nodata=nodata), reference_f64(a, b, scale, offset, scale, offset, nodata)
    )


def test_non_contiguous_views():
    rng = np.random.default_rng(4)
    big_a = rng.integers(0, 5000, (3, 20, 30), dtype=np.uint16)
    big_b = rng.integers(0, 5000, (3, 20, 30), dtype=np.uint16)
    a, b = big_a[::2, 1::3, ::-2], big_b[1:, ::2, 3:]
    a = a[: b.shape[0], : b.shape[1], : b.shape[2]]
    b = b[:, : a.shape[1], : a.shape[2]]
    scale, offset = np.full(a.shape[0], 1e-4), np.full(a.shape[0], -0.1)
    assert_matches(run(a, b, scale, offset), reference_f64(a, b, scale, offset, scale, offset, 0))


def test_shape_mismatch_raises():
    a = np.ones((2, 3, 4), np.uint16)
    out = np.empty((2, 3, 4), np.float32)
    s = np.ones(2)
    with pytest.raises(ValueError):
        normalized_difference(a, a[:, :2], s, s, s, s, 0, out)
    with pytest.raises(ValueError):
        normalized_difference(a, a, np.ones(3), s, s, s, 0, out)


def test_same_bits_for_one_and_two_threads(with_threads):
    rng = np.random.default_rng(5)
    a = rng.integers(0, 12000, (3, 257, 131), dtype=np.uint16)
    b = rng.integers(0, 12000, (3, 257, 131), dtype=np.uint16)
    scale, offset = np.array([1e-4, 1e-4, 2.75e-5]), np.array([-0.1, 0.0, -0.2])
    one = with_threads(1, lambda: run(a, b, scale, offset))
    two = with_threads(2, lambda: run(a, b, scale, offset))
    assert one.tobytes() == two.tobytes()


dn_values = st.one_of(st.sampled_from(EXTREME_DNS), st.integers(0, 65535))
scales = st.one_of(st.sampled_from([1e-4, 2.75e-5, 1.0]), st.floats(1e-6, 10.0))
offsets = st.one_of(st.sampled_from([0.0, -0.1, -0.2, 0.1]), st.floats(-2.0, 2.0))


@st.composite
def nd_inputs(draw):
    shape = draw(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6))
    a = draw(hnp.arrays(np.uint16, shape, elements=dn_values))
    b = draw(hnp.arrays(np.uint16, shape, elements=dn_values))
    per_t = st.lists(st.tuples(scales, offsets, scales, offsets), min_size=shape[0], max_size=shape[0])
    coeffs = np.array(draw(per_t), np.float64)
    nodata = draw(st.sampled_from([0, 65535, -1]))
    return a, b, coeffs[:, 0], coeffs[:, 1], coeffs[:, 2], coeffs[:, 3], nodata


@settings(max_examples=150, deadline=None)
@given(nd_inputs())
def test_property_within_unit_interval_and_matches_f64(args):
    a, b, a_scale, a_offset, b_scale, b_offset, nodata = args
    got = run(a, b, a_scale, a_offset, b_scale, b_offset, nodata)
    finite = got[~np.isnan(got)]
    assert ((finite >= -1.0) & (finite <= 1.0)).all()
    assert_matches(got, reference_f64(a, b, a_scale, a_offset, b_scale, b_offset, nodata))


# --- exact float32 fast path (shared positive scale, integer DN shift, <= 16-bit DNs) ---


def nearest_float32(q):
    """The float32 nearest to the rational q (ties to even), by comparing neighbours exactly."""
    c = np.float32(float(q))
    best = None
    for v in (np.nextafter(c, np.float32(-2)), c, np.nextafter(c, np.float32(2))):
        d = abs(Fraction(float(v)) - q)
        if best is None or d < best[0] or (d == best[0] and int(v.view(np.uint32)) % 2 == 0):
            best = (d, v)
    return best[1]


def assert_correctly_rounded(got, a, b, k, nodata=0):
    for idx in np.ndindex(a.shape):
        if a[idx] == nodata or b[idx] == nodata:
            assert np.isnan(got[idx])
            continue
        ia, ib = max(int(a[idx]) + k, 0), max(int(b[idx]) + k, 0)
        if ia + ib == 0:
            assert np.isnan(got[idx])
            continue
        want = nearest_float32(Fraction(ia - ib, ia + ib))
        assert got[idx].tobytes() == want.tobytes(), (idx, a[idx], b[idx], got[idx], want)


def test_fast_path_is_correctly_rounded_where_float64_rounding_was_not():
    """Of all 65536**2 uint16 pairs the float64 route misrounded 12, e.g. DN 21971 vs 21972 at offset -0.1."""
    a = np.array([[[21971, 21972, 42942, 42944, 1000, 1001, 65535]]], np.uint16)
    b = np.array([[[21972, 21971, 42944, 42942, 1001, 1000, 1]]], np.uint16)
    got = run(a, b, [S2_NEW[0]], [S2_NEW[1]])
    assert_correctly_rounded(got, a, b, -1000)
    a = np.array([[[20971, 20972, 41942, 41944, 49157, 49159]]], np.uint16)  # the same ratios, offset 0
    b = np.array([[[20972, 20971, 41944, 41942, 49159, 49157]]], np.uint16)
    assert_correctly_rounded(run(a, b, [S2_OLD[0]], [S2_OLD[1]]), a, b, 0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
def test_fast_path_random_pairs_are_correctly_rounded(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(6)
    a = rng.integers(info.min, info.max, (2, 40, 50), dtype=dtype, endpoint=True)
    b = rng.integers(info.min, info.max, (2, 40, 50), dtype=dtype, endpoint=True)
    nodata = -1 if info.min < 0 else 0
    for scale, offset, k in [(1e-4, -0.1, -1000), (1e-4, 0.0, 0), (2.0, 6.0, 3), (1e-4, 0.3, 3000)]:
        s, o = np.full(2, scale), np.full(2, offset)
        assert_correctly_rounded(run(a, b, s, o, nodata=nodata), a, b, k, nodata)


def test_fast_path_and_float64_path_agree_bitwise():
    """Same DNs as uint16 (fast path) and int32 (float64 path): same bits on ordinary data."""
    rng = np.random.default_rng(7)
    a = rng.integers(0, 65536, (2, 200, 300)).astype(np.uint16)
    b = rng.integers(0, 65536, (2, 200, 300)).astype(np.uint16)
    scale, offset = np.array([1e-4, 1e-4]), np.array([-0.1, 0.0])
    fast = run(a, b, scale, offset)
    general = run(a.astype(np.int32), b.astype(np.int32), scale, offset)
    assert fast.tobytes() == general.tobytes()


def test_fast_path_nodata_outside_the_dtype_range():
    a = np.array([[[0, 5, 65535]]], np.uint16)
    b = np.array([[[7, 0, 3]]], np.uint16)
    for nodata in (-1, 65536, 2**31, -(2**31), 2**40):
        got = run(a, b, [1e-4], [0.0], nodata=nodata)
        assert_matches(got, reference_exact(a, b, [1e-4], [0.0], [1e-4], [0.0], nodata))
        assert np.isfinite(got).all()
    got = run(a.astype(np.int16), b.astype(np.int16), [1e-4], [0.0], nodata=-1)  # 65535 -> -1
    assert np.isnan(got[0, 0, 2]) and np.isfinite(got[0, 0, :2]).all()
