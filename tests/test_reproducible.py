"""Same recipe, same inputs -> byte-identical arrays; Items carry checksums, processing and host."""

import json
import shutil
import stat
from pathlib import Path

import pytest

from pipeline import provenance
from pipeline.checksums import array_checksums
from pipeline.product import ITEM_EXTENSIONS
from pipeline.recipe import load_recipe
from pipeline.run import run

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def twins(demo_catalog, tmp_path_factory):
    """6.6.1 (float MNDWI, yearly reductions) run twice on the same inputs into two output trees."""
    recipe = load_recipe(ROOT / "recipes" / "6.6.1.yaml")
    return [run(recipe, catalog=demo_catalog, out=tmp_path_factory.mktemp(f"run{i}"), progress=False,
                run_id=f"twin-{i}") for i in (1, 2)]


def chunk_files(store: Path) -> dict[str, bytes]:
    return {p.relative_to(store).as_posix(): p.read_bytes() for p in sorted(store.rglob("*"))
            if p.is_file() and p.name != "zarr.json"}


def test_two_runs_give_byte_identical_arrays(twins):
    a, b = (r.path / "product.zarr" for r in twins)
    assert twins[0].item["id"] != twins[1].item["id"]  # really two runs
    sums = [r.item["properties"]["sdgcube:array_checksums"] for r in twins]
    assert sums[0] == sums[1] == array_checksums(a) == array_checksums(b)
    assert {"water_class", "time", "x", "y"} <= set(sums[0])
    files_a, files_b = chunk_files(a), chunk_files(b)
    assert files_a.keys() == files_b.keys() and any(k.startswith("water_class/c/") for k in files_a)
    for key in files_a:
        assert files_a[key] == files_b[key], key
    # the metadata does differ (run id and times): that is why checksums cover chunks only
    assert (a / "zarr.json").read_bytes() != (b / "zarr.json").read_bytes()


def test_array_checksum_sees_one_changed_byte_or_moved_chunk(twins, tmp_path):
    copy = tmp_path / "product.zarr"
    shutil.copytree(twins[0].path / "product.zarr", copy)
    before = array_checksums(copy)
    chunk = next(p for p in sorted((copy / "water_class").rglob("*")) if p.is_file() and p.name != "zarr.json")
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    after = array_checksums(copy)
    assert after["water_class"] != before["water_class"]
    assert {k: v for k, v in after.items() if k != "water_class"} == \
        {k: v for k, v in before.items() if k != "water_class"}
    chunk.rename(chunk.with_name(chunk.name + "0"))  # the same bytes under another key
    assert array_checksums(copy)["water_class"] not in (before["water_class"], after["water_class"])


def test_item_has_processing_extension_and_full_provenance(twins):
    item = twins[0].item
    props = item["properties"]
    assert set(ITEM_EXTENSIONS) <= set(item["stac_extensions"])
    assert any("/processing/" in ext for ext in item["stac_extensions"])
    assert props["processing:software"]["sdgcube"] and props["processing:level"] == "L4"
    assert props["processing:datetime"] == props["sdgcube:provenance"]["finished"]
    assert "sentinel-2-l2a" in props["processing:lineage"] and "6.6.1" in props["processing:lineage"]
    prov = props["sdgcube:provenance"]
    recipe = load_recipe(ROOT / "recipes" / "6.6.1.yaml")
    assert prov["recipe"]["text"] == recipe.text and prov["recipe"]["sha256"] == recipe.sha256
    assert prov["recipe"]["parameters"]["index"] == "mndwi" and prov["recipe"]["parameters"]["min_observations"] == 3
    assert prov["inputs"]["optical"]["catalog"] and prov["inputs"]["optical"]["items"]
    assert prov["started"] <= prov["finished"]
    assert prov["host"]["cpu_model"] == provenance.cpu_model() and isinstance(prov["host"]["gpus"], list)
    zarr = item["assets"]["zarr"]
    assert zarr["xarray:open_kwargs"] == {"engine": "zarr", "consolidated": True, "zarr_format": 3}
    json.dumps(item)  # plain JSON all through


def test_cpu_model_from_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338\n")
    assert provenance.cpu_model(str(x86)) == "Intel(R) Xeon(R) Gold 6338"
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\n\nHardware\t: BCM2835\nModel\t: Raspberry Pi 4\n")
    assert provenance.cpu_model(str(arm)) == "BCM2835"
    assert provenance.cpu_model(str(tmp_path / "missing")) is None


def test_gpus_from_nvidia_smi_or_none(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert provenance.gpus() == []  # no nvidia-smi
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB'\n"
                   "echo 'NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    assert provenance.gpus() == [{"name": "NVIDIA H100 80GB HBM3", "driver": "550.54.15", "memory": "81559 MiB"}] * 2
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert provenance.gpus() == []
    assert provenance.host()["gpus"] == []
