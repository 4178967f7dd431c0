"""Publishing: immutable verified versions, resumable uploads, a static STAC catalog, S3 (moto)."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pystac
import pytest
import xarray as xr
from shapely.geometry import box

from catalog.search import FsspecStacIO, NoItemsFound, SearchRequest, search
from pipeline import publish as pub
from pipeline.checksums import array_checksums, sha256_file
from pipeline.cli import main
from pipeline.recipe import load_recipe
from pipeline.run import run

ROOT = Path(__file__).parents[1]
SERIES = "sdg-15.1.1"
AOI = box(-56.07, -12.55, -56.02, -12.52)


@pytest.fixture(scope="module")
def product(demo_catalog, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("outputs")
    return run(load_recipe(ROOT / "recipes" / "15.1.1.yaml"), catalog=demo_catalog, out=out, progress=False).path


def another_run(product: Path, tmp_path: Path, suffix: str = "other") -> Path:
    """The same product under another run id: publishing treats it as a different run."""
    copy = tmp_path / f"{product.name}-{suffix}"
    shutil.copytree(product, copy)
    item = json.loads((copy / "item.json").read_text())
    item["id"] = copy.name
    (copy / "item.json").write_text(json.dumps(item))
    return copy


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, sha256_file(p))
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_publish_twice_gives_two_versions_and_never_overwrites(product, tmp_path):
    dest = tmp_path / "pub"
    lines: list[str] = []
    first = pub.publish(product, str(dest), log=lines.append)
    assert (first.series, first.version, first.created) == (SERIES, 1, True)
    assert first.skipped == 0 and first.uploaded == len([p for p in product.rglob("*") if p.is_file()])
    assert sum(": uploaded " in line for line in lines) == first.uploaded
    v1 = snapshot(dest / SERIES / "v1")
    manifest = json.loads((dest / SERIES / "v1" / "manifest.json").read_text())
    assert manifest["run_id"] == product.name
    for rel, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_file(dest / SERIES / "v1" / rel), rel
        if rel != "item.json":
            assert entry["sha256"] == sha256_file(product / rel), rel
    assert set(manifest["files"]) | {"manifest.json", "_claim.json"} == set(v1)
    assert json.loads((dest / SERIES / "v1" / "_claim.json").read_text())["run_id"] == product.name

    second = pub.publish(another_run(product, tmp_path), str(dest))
    assert (second.version, second.created) == (2, True)
    assert snapshot(dest / SERIES / "v1") == v1  # untouched: same bytes, not even rewritten
    item2 = json.loads((dest / SERIES / "v2" / "item.json").read_text())
    assert item2["properties"]["version"] == "2"
    assert {"rel": "predecessor-version", "href": "../v1/item.json", "type": "application/geo+json"} in item2["links"]

    everything = snapshot(dest)
    again = pub.publish(product, str(dest), log=lines.append)
    assert (again.version, again.created, again.uploaded) == (1, False, 0)
    assert snapshot(dest) == everything  # a no-op: nothing written, not even the catalog
    assert "already published" in lines[-1]


def test_published_catalog_is_read_by_pystac_and_searched(product, tmp_path):
    dest = tmp_path / "pub"
    pub.publish(product, str(dest))
    pub.publish(another_run(product, tmp_path), str(dest))
    root = pystac.read_file(str(dest / "catalog.json"))
    collection = root.get_child(SERIES)
    assert isinstance(collection, pystac.Collection)
    items = sorted(collection.get_items(), key=lambda i: i.properties["version"])
    assert [i.id for i in items] == [product.name, f"{product.name}-other"]
    for item in items:
        assert item.collection_id == SERIES
        for key, asset in item.assets.items():
            assert Path(asset.get_absolute_href()).exists(), key
            assert str(dest) in asset.get_absolute_href()  # the published copy, not the local product
    assert collection.license == "CC-BY-4.0"
    assert [p.name for p in collection.providers][0] == "sdgcube" and "processor" in collection.providers[0].roles
    assert any(p.name == "sdgcube demo generator" for p in collection.providers)  # from the input catalog
    assert collection.extent.spatial.bboxes[0] == pytest.approx(items[0].bbox)
    assert collection.extent.temporal.intervals[0][0].year == 2016
    assert collection.extent.temporal.intervals[0][1].year == 2024
    assert pub.EXT["datacube"] in collection.stac_extensions and pub.EXT["xarray"] in collection.stac_extensions
    zarr = collection.to_dict()["item_assets"]["zarr"]
    assert zarr["xarray:open_kwargs"] == {"engine": "zarr", "consolidated": True, "zarr_format": 3}
    # the extension URIs are the ones pystac implements, and pystac's extension classes read the fields
    from pystac.extensions.datacube import DatacubeExtension
    from pystac.extensions.item_assets import ItemAssetsExtension
    from pystac.extensions.version import VersionExtension
    from pystac.extensions.xarray_assets import XarrayAssetsExtension

    assert {pub.EXT["datacube"], pub.EXT["item_assets"], pub.EXT["xarray"], pub.EXT["version"]} == {
        DatacubeExtension.get_schema_uri(), ItemAssetsExtension.get_schema_uri(),
        XarrayAssetsExtension.get_schema_uri(), VersionExtension.get_schema_uri()}
    cube = DatacubeExtension.ext(collection)
    assert cube.dimensions["x"].dim_type == "spatial" and cube.variables["forest"].dimensions == ["time", "y", "x"]
    assert [VersionExtension.ext(i).version for i in items] == ["1", "2"]
    assert XarrayAssetsExtension.ext(items[0].assets["zarr"]).open_kwargs["zarr_format"] == 3

    found = search(str(dest), SearchRequest(collection=SERIES, intersects=AOI, start=None, end=None))
    assert {i.id for i in found} == {i.id for i in items}
    with pytest.raises(NoItemsFound):  # the collection filter is real
        search(str(dest), SearchRequest(collection="sdg-6.6.1", intersects=AOI, start=None, end=None))


def test_collection_datacube_matches_the_zarr(product, tmp_path):
    dest = tmp_path / "pub"
    pub.publish(product, str(dest))
    coll = json.loads((dest / SERIES / "collection.json").read_text())
    dims, variables = coll["cube:dimensions"], coll["cube:variables"]
    with xr.open_zarr(dest / SERIES / "v1" / "product.zarr", mask_and_scale=False) as ds:
        assert set(dims) == set(ds.dims)
        for axis in ("x", "y"):
            values = ds[axis].values
            assert dims[axis]["type"] == "spatial" and dims[axis]["axis"] == axis
            assert dims[axis]["extent"] == [values.min(), values.max()]
            assert dims[axis]["step"] == pytest.approx(values[1] - values[0])
            assert dims[axis]["reference_system"] == 32721
        assert dims["time"]["type"] == "temporal" and len(dims["time"]["values"]) == ds.sizes["time"]
        assert dims["time"]["values"][0].startswith("2016-01-01") and dims["time"]["step"] == "P1Y"
        assert set(variables) == set(ds.data_vars) | {c for c in ds.coords if c not in ds.dims}
        for name, var in variables.items():
            assert var["dimensions"] == list(ds[name].dims), name
            assert var["type"] == ("data" if name in ds.data_vars else "auxiliary")
        assert variables["forest"]["values"] == [0, 1]


def test_interrupted_publish_resumes_and_verifies(product, tmp_path, monkeypatch):
    dest = tmp_path / "pub"
    real_put = pub._put_file
    done: list[str] = []

    def flaky(fs, local, remote):
        if len(done) == 5:
            raise ConnectionResetError("connection reset by peer (simulated)")
        real_put(fs, local, remote)
        done.append(remote)

    monkeypatch.setattr(pub, "_put_file", flaky)
    with pytest.raises(pub.PublishError, match="re-run the same command"):
        pub.publish(product, str(dest))
    v1 = dest / SERIES / "v1"
    assert not (v1 / "manifest.json").exists() and (v1 / "_claim.json").exists()
    assert not (dest / SERIES / "collection.json").exists()  # an incomplete version is not listed
    with pytest.raises(pub.PublishError, match="incomplete"):
        pub.verify(str(dest), SERIES, 1)

    monkeypatch.setattr(pub, "_put_file", real_put)
    lines: list[str] = []
    resumed = pub.publish(product, str(dest), log=lines.append)
    assert (resumed.version, resumed.created, resumed.skipped) == (1, True, 5)
    assert any("resuming the incomplete v1" in line for line in lines)
    assert sum("already uploaded, checksum ok" in line for line in lines) == 5
    manifest = pub.verify(str(dest), SERIES, 1)
    assert manifest["run_id"] == product.name and (v1 / "manifest.json").exists()
    assert not (dest / SERIES / "v2").exists()


def test_checksum_mismatch_is_detected_and_repaired_by_a_rerun(product, tmp_path, monkeypatch):
    dest = tmp_path / "pub"
    real_put = pub._put_file

    def corrupting(fs, local, remote):
        real_put(fs, local, remote)
        if remote.endswith("table.csv"):
            with fs.open(remote, "r+b") as f:  # a bit flipped on the way
                first = f.read(1)
                f.seek(0)
                f.write(bytes([first[0] ^ 1]))

    monkeypatch.setattr(pub, "_put_file", corrupting)
    with pytest.raises(pub.PublishError, match=r"checksum mismatch after upload: .*table\.csv.*re-run"):
        pub.publish(product, str(dest))
    assert not (dest / SERIES / "v1" / "manifest.json").exists()

    monkeypatch.setattr(pub, "_put_file", real_put)
    assert pub.publish(product, str(dest)).version == 1
    pub.verify(str(dest), SERIES, 1)
    (dest / SERIES / "v1" / "table.parquet").write_bytes(b"tampered")  # after publishing
    with pytest.raises(pub.PublishError, match=r"table\.parquet"):
        pub.verify(str(dest), SERIES, 1)


def test_not_a_product_is_refused_with_a_fix(product, tmp_path):
    with pytest.raises(pub.PublishError, match="not a directory.*python -m pipeline run"):
        pub.publish(tmp_path / "nothing", str(tmp_path / "pub"))
    partial = tmp_path / f".{product.name}.partial"
    shutil.copytree(product, partial)
    with pytest.raises(pub.PublishError, match="partial"):
        pub.publish(partial, str(tmp_path / "pub"))
    no_item = another_run(product, tmp_path, "noitem")
    (no_item / "item.json").unlink()
    with pytest.raises(pub.PublishError, match="no readable item.json"):
        pub.publish(no_item, str(tmp_path / "pub"))
    changed = another_run(product, tmp_path, "changed")
    chunk = next(p for p in sorted((changed / "product.zarr" / "forest").rglob("*")) if p.is_file()
                 and p.name != "zarr.json")
    chunk.write_bytes(chunk.read_bytes() + b"\0")
    with pytest.raises(pub.PublishError, match="arrays forest do not match"):
        pub.publish(changed, str(tmp_path / "pub"))
    assert not (tmp_path / "pub" / SERIES).exists()


def test_a_symlink_in_the_product_is_refused_not_followed(product, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET-OUTSIDE-THE-PRODUCT\n")
    linked = another_run(product, tmp_path, "linked")
    (linked / "notes.txt").symlink_to(secret)
    with pytest.raises(pub.PublishError, match="notes.txt, which are not regular files"):
        pub.publish(linked, str(tmp_path / "pub"))
    published = tmp_path / "pub"
    assert not any("SECRET" in p.read_text(errors="ignore") for p in published.rglob("*") if p.is_file())
    (linked / "notes.txt").unlink()
    os.mkfifo(linked / "product.zarr" / "pipe")
    with pytest.raises(pub.PublishError, match="product.zarr/pipe"):
        pub.publish(linked, str(tmp_path / "pub"))


def test_cli_publish_and_errors(product, tmp_path, capsys):
    dest = tmp_path / "pub"
    cmd = [sys.executable, "-m", "pipeline", "publish", str(product), str(dest)]
    ok = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"{SERIES} v1 -> {dest / SERIES / 'v1'} (uploaded {ok.stderr.count(': uploaded ')} " \
                                "files, 0 already there)"
    assert "product.zarr/forest/zarr.json: uploaded" in ok.stderr
    assert main(cmd[3:] + ["--quiet"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and "already published" in quiet.out
    assert main(["publish", str(tmp_path), str(dest)]) == 1
    bad = capsys.readouterr().err
    assert bad.startswith("error: ") and "item.json" in bad and "python -m pipeline run" in bad


# -- S3 against a real S3-compatible server (moto) on 127.0.0.1 ---------------------------------------


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server; credentials and endpoint through the standard AWS variables."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
            mp.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            mp.delenv(key, raising=False)
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        s3fs.S3FileSystem(endpoint_url=endpoint).mkdir("products")
        yield endpoint
        s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


def test_s3_round_trip_opens_with_the_collections_open_kwargs(product, s3, monkeypatch, capsys):
    dest = "s3://products/sdg"
    with monkeypatch.context() as mp:
        mp.delenv("AWS_ENDPOINT_URL")  # the CLI gets the endpoint from its option
        assert main(["publish", str(product), dest, "--endpoint-url", s3]) == 0, capsys.readouterr().err
    out = capsys.readouterr()
    assert out.out.startswith(f"{SERIES} v1 -> s3://products/sdg/{SERIES}/v1 (uploaded ")
    assert "verified" in out.err
    again = pub.publish(product, dest)  # endpoint from AWS_ENDPOINT_URL this time
    assert (again.version, again.created) == (1, False)
    assert pub.verify(dest, SERIES, 1)["run_id"] == product.name

    root = pystac.read_file(f"{dest}/catalog.json", stac_io=FsspecStacIO())
    collection = root.get_child(SERIES)
    open_kwargs = collection.to_dict()["item_assets"]["zarr"]["xarray:open_kwargs"]
    [item] = list(collection.get_items())
    href = item.assets["zarr"].get_absolute_href()
    assert href == f"{dest}/{SERIES}/v1/product.zarr"
    options = item.assets["zarr"].extra_fields["xarray:storage_options"]
    assert options == {"endpoint_url": s3}
    with (xr.open_dataset(href, storage_options=options, mask_and_scale=False, **open_kwargs) as remote,
          xr.open_zarr(product / "product.zarr", mask_and_scale=False) as local):
        xr.testing.assert_identical(remote.load(), local.load())
        assert remote.attrs["run_id"] == product.name
    assert array_checksums(href, endpoint_url=s3) == item.properties["sdgcube:array_checksums"]

    found = search(dest, SearchRequest(collection=SERIES, intersects=AOI, start=None, end=None))
    assert [i.id for i in found] == [product.name]


def test_s3_errors_say_what_and_how_to_fix(product, s3):
    with pytest.raises(pub.PublishError, match=r"s3://no-such-bucket/x.*bucket does not exist.*create the bucket"):
        pub.publish(product, "s3://no-such-bucket/x")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(pub.PublishError, match=rf"endpoint {closed}.*server is up.*--endpoint-url"):
        pub.publish(product, "s3://products/sdg", endpoint_url=closed)


def test_published_zarr_arrays_keep_their_checksums(product, tmp_path):
    dest = tmp_path / "pub"
    pub.publish(product, str(dest))
    item = json.loads((dest / SERIES / "v1" / "item.json").read_text())
    sums = item["properties"]["sdgcube:array_checksums"]
    assert set(sums) >= {"forest", "landcover", "time", "x", "y"}
    assert array_checksums(dest / SERIES / "v1" / "product.zarr") == sums == array_checksums(product / "product.zarr")
    with xr.open_zarr(dest / SERIES / "v1" / "product.zarr", mask_and_scale=False) as ds:
        assert int(np.asarray(ds.forest.max())) == 255  # the data, not just metadata, came along


def test_a_stale_view_of_the_versions_cannot_write_into_a_taken_one(product, tmp_path, monkeypatch):
    """Two publishers racing: one listed the series before the other's v1 existed."""
    dest = tmp_path / "pub"
    pub.publish(product, str(dest))
    v1 = snapshot(dest / SERIES / "v1")
    real_versions = pub._versions
    monkeypatch.setattr(pub, "_versions", lambda fs, root: [])  # the stale listing
    other = pub.publish(another_run(product, tmp_path), str(dest))
    assert other.version == 2  # v1's claim is taken: the exclusive create moved it on
    assert snapshot(dest / SERIES / "v1") == v1
    monkeypatch.setattr(pub, "_versions", real_versions)
    assert [v.run_id for v in pub._versions(pub.open_destination(str(dest))[0], str(dest / SERIES))] == \
        [product.name, f"{product.name}-other"]


def test_unwritable_local_destination_says_so(product, tmp_path, monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    def denied(self, path, exist_ok=False):  # as for a non-root user in a read-only directory
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(LocalFileSystem, "makedirs", denied)
    with pytest.raises(pub.PublishError, match=r"locked/pub: PermissionError.*may create directories and write"):
        pub.publish(product, str(tmp_path / "locked" / "pub"))


def _edited(product: Path, tmp_path: Path, edit, suffix: str) -> Path:
    copy = tmp_path / f"{product.name}-{suffix}"
    shutil.copytree(product, copy)
    edit(copy)
    return copy


@pytest.mark.parametrize(("suffix", "edit", "named"), [
    ("table", lambda d: (d / "table.csv").write_text((d / "table.csv").read_text().replace("forest", "f0rest")),
     "table.csv"),
    ("meanings", lambda d: (d / "product.zarr" / "forest" / "zarr.json").write_text(
        (d / "product.zarr" / "forest" / "zarr.json").read_text().replace("not_forest", "xforest")),
     "product.zarr/forest/zarr.json"),
    ("extra", lambda d: (d / "notes.txt").write_text("added after the run"), "notes.txt"),
])
def test_a_product_edited_after_its_run_is_refused_naming_the_file(product, tmp_path, suffix, edit, named):
    edited = _edited(product, tmp_path, edit, suffix)
    with pytest.raises(pub.PublishError, match=rf"\({named} do not match sdgcube:file_checksums"):
        pub.publish(edited, str(tmp_path / "dest"))
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("key", ["sdgcube:array_checksums", "sdgcube:file_checksums"])
def test_an_item_without_its_checksums_is_refused(product, tmp_path, key):
    def drop(d: Path) -> None:
        item = json.loads((d / "item.json").read_text())
        del item["properties"][key]
        (d / "item.json").write_text(json.dumps(item))

    with pytest.raises(pub.PublishError, match=f"has no {key}"):
        pub.publish(_edited(product, tmp_path, drop, "bare"), str(tmp_path / "dest"))


def test_another_product_under_a_published_run_id_is_refused(product, tmp_path):
    """A chunk changed and the Item's checksums recomputed to match: consistent, but not what was published."""
    dest = str(tmp_path / "dest")
    pub.publish(product, dest)

    def forge(d: Path) -> None:
        chunk = next(p for p in sorted((d / "product.zarr" / "forest").rglob("*")) if p.is_file()
                     and p.name != "zarr.json")
        chunk.write_bytes(chunk.read_bytes()[::-1])
        item = json.loads((d / "item.json").read_text())
        item["properties"]["sdgcube:array_checksums"] = array_checksums(d / "product.zarr")
        (d / "item.json").write_text(json.dumps(item))

    forged = _edited(product, tmp_path, forge, "forged")
    item = json.loads((forged / "item.json").read_text())
    item["id"] = product.name  # the same run id as the published product
    (forged / "item.json").write_text(json.dumps(item))
    with pytest.raises(pub.PublishError, match=r"v1 is published for run .* with other content"):
        pub.publish(forged, dest)


def test_a_planted_claim_and_a_foreign_file_are_never_published_into(product, tmp_path):
    dest = tmp_path / "dest"
    v1 = dest / SERIES / "v1"
    v1.mkdir(parents=True)
    (v1 / "_claim.json").write_text(json.dumps({"run_id": product.name, "claimed": "2026-01-01T00:00:00Z"}))
    (v1 / "payload.js").write_text("alert(1)")
    with pytest.raises(pub.PublishError, match="claimed for run .* with other content"):
        pub.publish(product, str(dest))
    content = pub.content_id(json.loads((product / "item.json").read_text()))
    (v1 / "_claim.json").write_text(json.dumps({"run_id": product.name, "content_sha256": content}))
    with pytest.raises(pub.PublishError, match=r"holds files this product does not have: payload\.js"):
        pub.publish(product, str(dest))
    assert not (v1 / "manifest.json").exists()
