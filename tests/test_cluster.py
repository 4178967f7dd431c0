"""Both demo indicators on a real Dask cluster (a scheduler and two single-threaded worker processes on
127.0.0.1), byte-identical to the threaded run: the per-array checksums and the tables."""

import dataclasses
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main

ROOT = Path(__file__).parents[1]
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    info = folder / "scheduler.json"
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                               ":0", "--scheduler-file", str(info)], cwd=folder,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    deadline = time.monotonic() + 60
    while not info.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    address = json.loads(info.read_text())["address"]
    for _ in range(2):
        procs.append(subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                       "--local-directory", str(folder)], cwd=folder,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
    yield address
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def _run(sdg: str, out: Path, demo_catalog: str, *extra: str) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["run", str(ROOT / "recipes" / f"{sdg}.yaml"), "--catalog", demo_catalog, "--out", str(out),
                     "--no-progress", *extra]) == 0
    return next((out / sdg).iterdir())


@pytest.mark.parametrize("sdg", ["15.1.1", "6.6.1"])
def test_a_real_cluster_gives_the_threaded_products_bit_for_bit(cluster, demo_catalog, tmp_path, sdg):
    local = _run(sdg, tmp_path / "local", demo_catalog)
    remote = _run(sdg, tmp_path / "cluster", demo_catalog, "--scheduler", cluster)
    a, b = (json.loads((p / "item.json").read_text())["properties"] for p in (local, remote))
    assert a["sdgcube:array_checksums"] == b["sdgcube:array_checksums"]
    pd.testing.assert_frame_equal(pd.read_csv(local / "table.csv"), pd.read_csv(remote / "table.csv"))
    cost = pd.read_csv(remote / "footprint.csv").set_index("quantity").value
    assert cost["workers"] == 2 and cost["workers_peak_memory"] > 50e6  # the workers' share is metered
    assert pd.read_csv(local / "footprint.csv").set_index("quantity").value["workers"] == 0


def test_an_unreachable_scheduler_is_one_line(demo_catalog, tmp_path, capsys):
    code = main(["run", str(ROOT / "recipes" / "15.1.1.yaml"), "--catalog", demo_catalog, "--out", str(tmp_path),
                 "--no-progress", "--scheduler", "tcp://127.0.0.1:1"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in lines[0]


def test_an_unreadable_asset_on_a_worker_is_named_and_nodata_is_recorded(cluster, demo_catalog, tmp_path):
    """odc-loader reports which asset failed in a log record of the worker process that read it: the run
    gets it from the workers, as it does from its own threads (tests/test_faults: the threaded run)."""
    from catalog.reliability import AssetReadError
    from catalog.search import search
    from pipeline.engine.cluster import scheduler
    from pipeline.run import run
    from pipeline.recipe import Periods, load_recipe
    from tests.test_faults import FAST, FaultServer, assert_no_secrets, s2_request, with_on_unreadable

    recipe = dataclasses.replace(load_recipe(ROOT / "recipes" / "6.6.1.yaml"),  # two years: 24 items
                                 periods=Periods(years=(2016, 2017), baseline=(2016, 2016), reporting=(2017, 2017)))
    item = search(demo_catalog, s2_request(recipe))[0]
    with FaultServer(demo_catalog) as server, scheduler(cluster):
        for scenario in ("worker-fail", "worker-nodata"):
            server.always[server.cog_path(scenario, item.assets["green"].href)] = ("status", 503)
        with pytest.raises(AssetReadError) as err:
            run(recipe, catalog=server.url("worker-fail"), out=tmp_path / "fail", progress=False, retry=FAST)
        assert (err.value.item_id, err.value.asset) == (item.id, "green")
        assert str(err.value).endswith("set inputs.optical.on_unreadable: nodata in the recipe to continue without it")
        assert not [p for p in (tmp_path / "fail").rglob("*") if p.is_file()]
        result = run(with_on_unreadable(recipe, "nodata"), catalog=server.url("worker-nodata"), out=tmp_path / "ok",
                     progress=False, retry=FAST)
    warnings = result.item["properties"]["sdgcube:provenance"]["warnings"]
    assert [(w["item"], w["asset"]) for w in warnings] == [(item.id, "green")]
    assert_no_secrets(str(err.value), json.dumps(result.item))


@pytest.mark.parametrize("count", ["0", "-1", "two"])
def test_a_worker_count_below_one_is_refused_before_anything_starts(count, tmp_path, capsys):
    """A negative count made LocalCluster wait for ever; 0 silently meant threads."""
    with pytest.raises(SystemExit) as stop:
        main(["run", str(ROOT / "recipes" / "6.6.1.yaml"), "--workers", count, "--out", str(tmp_path / "out")])
    assert stop.value.code == 2
    assert "is not a number of worker processes >= 1 (leave --workers out" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
