"""The run meter measures what it claims: CPU, bytes, peak memory, energy, CO2e; runs carry it."""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import footprint, tables
from pipeline.footprint import Meter, Rapl, co2e_grams, wrapped_delta

ROOT = Path(__file__).parents[1]
LINUX_PROC = Path("/proc/self/io").exists() and Path("/proc/self/statm").exists()
needs_proc = pytest.mark.skipif(not LINUX_PROC, reason="needs Linux /proc/self/io and /proc/self/statm")


def _no_rapl(tmp_path) -> Path:
    root = tmp_path / "powercap"
    root.mkdir(exist_ok=True)
    return root


def _fake_zone(root: Path, name: str, energy: int | None, max_range: int | None = None) -> Path:
    zone = root / name
    zone.mkdir(parents=True, exist_ok=True)
    if energy is not None:
        (zone / "energy_uj").write_text(f"{energy}\n")
    if max_range is not None:
        (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    return zone


def test_cpu_seconds_of_a_busy_loop(tmp_path):
    meter = Meter(powercap_root=_no_rapl(tmp_path)).start()
    t0 = time.process_time()
    x = 0
    while time.process_time() - t0 < 0.6:
        x += 1
    loop = time.process_time() - t0
    fp = meter.read()
    assert loop >= 0.6
    assert fp.cpu_s == pytest.approx(loop, abs=0.15)  # the sampler costs a little, nothing more
    assert fp.wall_s >= 0.3


@needs_proc
def test_bytes_written_and_read(tmp_path):
    data = os.urandom(5_000_000)
    meter = Meter(powercap_root=_no_rapl(tmp_path)).start()
    (tmp_path / "blob").write_bytes(data)
    assert (tmp_path / "blob").read_bytes() == data
    fp = meter.read(product_dir=tmp_path)
    # ~2 MB of slack: /proc reads by the sampler and whatever else the test process does
    assert 5_000_000 <= fp.bytes_written < 7_000_000
    assert 5_000_000 <= fp.bytes_read < 7_000_000
    assert fp.product_bytes == 5_000_000  # the file; directories count 0


@needs_proc
def test_peak_memory_sees_an_allocation_that_is_gone(tmp_path):
    size = 200_000_000
    meter = Meter(powercap_root=_no_rapl(tmp_path)).start()
    time.sleep(0.1)
    block = np.ones(size // 8)  # touched: every page is resident
    time.sleep(0.3)  # >> the sampling period
    del block
    time.sleep(0.1)
    fp = meter.read()
    now = footprint._rss_bytes(Path("/proc/self"))
    assert fp.peak_memory_bytes - fp.start_memory_bytes >= 0.95 * size
    assert now < fp.peak_memory_bytes - 0.9 * size  # released: only the sampled peak remembers it
    assert fp.max_rss_bytes >= fp.peak_memory_bytes * 0.9


def test_wrap_around_arithmetic():
    assert wrapped_delta(100, 250, 1000) == 150
    assert wrapped_delta(900, 50, 1000) == 150  # 900 -> 1000 (wrap) -> 50
    assert wrapped_delta(7, 7, 1000) == 0


def test_rapl_sums_packages_across_a_wrap(tmp_path):
    root = tmp_path / "powercap"
    big = 262_143_328_850
    _fake_zone(root, "intel-rapl:0", big - 1_000_000, big)
    _fake_zone(root, "intel-rapl:1", 5_000_000, big)
    _fake_zone(root, "intel-rapl:0:0", 0, big)  # a sub-zone (core): inside package 0, never summed
    _fake_zone(root, "intel-rapl:2", None, big)  # unreadable counter: left out
    rapl = Rapl(root)
    assert [z.name for z, _ in rapl.zones] == ["intel-rapl:0", "intel-rapl:1"]
    _fake_zone(root, "intel-rapl:0", 2_000_000)  # wrapped: 1 J to the top, 2 J after
    _fake_zone(root, "intel-rapl:1", 9_000_000)
    _fake_zone(root, "intel-rapl:0:0", 50_000_000)
    rapl.update()
    assert rapl.joules == pytest.approx(3.0 + 4.0)
    _fake_zone(root, "intel-rapl:0", 2_500_000)
    rapl.update()
    assert rapl.joules == pytest.approx(7.5)


def test_meter_uses_rapl_where_readable(tmp_path):
    root = tmp_path / "powercap"
    _fake_zone(root, "intel-rapl:0", 10_000_000, 100_000_000)
    meter = Meter(powercap_root=root, grid_intensity=360).start()
    _fake_zone(root, "intel-rapl:0", 5_000_000)  # wrapped: 90 J + 5 J
    fp = meter.read()
    assert fp.energy_method == "rapl"
    assert fp.energy_j == pytest.approx(95.0)
    assert fp.co2e_g == pytest.approx(95.0 / 3.6e6 * 360)


def test_model_energy_is_cpu_seconds_times_watts(tmp_path):
    meter = Meter(powercap_root=_no_rapl(tmp_path), watts_per_core=7.5).start()
    sum(i * i for i in range(300_000))
    fp = meter.read()
    assert fp.energy_j == fp.cpu_s * 7.5
    assert fp.energy_method.startswith("model:") and "7.5 W per core" in fp.energy_method
    assert footprint.model_energy(2.0, footprint.DEFAULT_WATTS_PER_CORE) == 2.0 * footprint.DEFAULT_WATTS_PER_CORE


def test_co2e_arithmetic():
    assert co2e_grams(3.6e6, 475) == pytest.approx(475.0)  # 1 kWh at 475 g/kWh
    assert co2e_grams(3600, 1000) == pytest.approx(1.0)  # 1 Wh at 1 kg/kWh
    assert co2e_grams(1234.0, 0) == 0


def test_per_km2_and_rows(tmp_path):
    fp = Meter(powercap_root=_no_rapl(tmp_path), grid_intensity=100).start().read(aoi_km2=4.0)
    per = fp.per_km2()
    assert per["energy_j"] == pytest.approx(fp.energy_j / 4) and per["co2e_g"] == pytest.approx(fp.co2e_g / 4)
    table = fp.frame()
    assert list(table.columns) == ["quantity", "value", "unit", "note"] and table.quantity.is_unique
    assert table.set_index("quantity").value["energy_per_km2"] == pytest.approx(fp.energy_j / 4)
    assert fp.summary().startswith("footprint: ") and "(model)" in fp.summary()
    unknown = Meter(powercap_root=_no_rapl(tmp_path)).start().read()
    assert all(v is None for v in unknown.per_km2().values())


def test_geodesic_aoi_area():
    from shapely.geometry import box

    # one degree square at the equator: 111.32 km x 110.57 km on WGS84
    assert footprint.aoi_area_km2(box(0, 0, 1, 1)) == pytest.approx(12308.8, rel=1e-3)


def test_bad_grid_intensity_says_what_to_give():
    with pytest.raises(ValueError, match="gCO2e/kWh"):
        Meter(grid_intensity=-1)
    from pipeline.cli import _grid_intensity, parser

    with pytest.raises(argparse.ArgumentTypeError, match="number >= 0"):
        _grid_intensity("lots")
    args = parser().parse_args(["run", "recipes/6.6.1.yaml", "--grid-intensity", "30"])
    assert args.grid_intensity == 30.0
    assert parser().parse_args(["run", "r.yaml"]).grid_intensity == footprint.DEFAULT_GRID_INTENSITY


@pytest.fixture(scope="module")
def product(demo_catalog, tmp_path_factory):
    from pipeline.recipe import load_recipe
    from pipeline.run import run

    out = tmp_path_factory.mktemp("footprint")
    return run(load_recipe(ROOT / "recipes" / "6.6.1.yaml"), catalog=demo_catalog, out=out, progress=False,
               grid_intensity=100)


def test_a_run_carries_its_footprint_consistently(product):
    fp = product.item["properties"]["sdgcube:footprint"]
    assert fp == product.footprint.to_dict()
    table = pd.read_parquet(product.path / "table.parquet")
    pd.testing.assert_frame_equal(table, product.table)  # the indicator rows only: what a rerun reproduces
    pd.testing.assert_frame_equal(pd.read_csv(product.path / "table.csv", keep_default_na=False,
                                              na_values=[""]), table, check_dtype=False)
    rows = pd.read_csv(product.path / "footprint.csv").set_index("quantity")
    assert product.item["assets"]["footprint"]["href"].endswith("footprint.csv")
    value = lambda quantity: float(rows.value[quantity])  # noqa: E731
    assert value("wall_time") == pytest.approx(fp["wall_s"]) and value("cpu_time") == pytest.approx(fp["cpu_s"])
    assert value("energy") == pytest.approx(fp["energy_j"]) and value("co2e") == pytest.approx(fp["co2e_g"])
    assert fp["grid_intensity_g_per_kwh"] == 100
    assert fp["co2e_g"] == pytest.approx(fp["energy_j"] / 3.6e6 * 100)
    # the geodesic AOI area agrees with the indicator's own pixel-area sum
    assert fp["aoi_km2"] == pytest.approx(tables.value(table, "aoi_area", "2024"), rel=0.01)
    assert value("energy_per_km2") == pytest.approx(fp["energy_j"] / fp["aoi_km2"])
    assert 0 < fp["cpu_s"] and 0 < fp["wall_s"] and fp["energy_j"] > 0
    assert fp["energy_method"] == "rapl" or fp["energy_method"].startswith("model:")
    if LINUX_PROC:
        assert fp["bytes_read"] > 0 and fp["peak_memory_bytes"] > 0
        assert fp["bytes_written"] >= fp["product_bytes"] > 0  # the product was written by this process
    # the indicator's own values are untouched: no footprint value in sdg:values
    assert not any(k.endswith("/run") for k in product.item["properties"]["sdg:values"])
