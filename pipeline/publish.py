"""Publish a finished product as an immutable, verified version in a static STAC catalog.

Layout under DEST (a local directory or an fsspec URL such as ``s3://bucket/prefix``)::

    catalog.json                       root Catalog: one child per product series
    <series>/collection.json           Collection: extent, providers, item_assets, datacube
    <series>/v<N>/...                  the product's files (product.zarr/, tables, ...)
    <series>/v<N>/item.json            the product's Item, with links relative to its new place
    <series>/v<N>/manifest.json        sha256 and size of every file, written LAST

Versions are plain directories rather than an Icechunk repository: any Zarr v3 reader
and any STAC client reads a published version with no extra library, and the files
are the same bytes the pipeline wrote. A published version is never overwritten.

Protocol, safe to re-run after an interruption:
1. claim ``v<N>/_claim.json`` with an exclusive create (names the run; it stays, so a
   version number is taken once and for all);
2. upload each file, skipping those already there with the right sha256 (a resume);
3. read every file back and compare its sha256 with the local one;
4. write ``manifest.json`` (exclusive create): only now is ``v<N>`` complete;
5. refresh ``collection.json`` and ``catalog.json`` (the only files that ever change).
Re-publishing a run resumes its incomplete version, or, once complete, changes nothing
and returns it; another run gets ``v<N+1>``. All I/O goes through fsspec (s3fs for
``s3://``), so only standard S3 calls are made (GET, HEAD, LIST, PUT, and PUT with
If-None-Match for the exclusive creates). Two publishers racing on one series cannot
write into each other's versions (claims are exclusive); at worst one of them fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fsspec
import numpy as np
import pystac
import xarray as xr
from fsspec.core import url_to_fs

from catalog.errors import SdgcubeError
from pipeline.checksums import array_checksums, content_checksum, file_checksums, sha256_bytes, sha256_file
from pipeline.product import ITEM, ZARR, ZARR_OPEN_KWARGS

CATALOG, COLLECTION, MANIFEST, CLAIM = "catalog.json", "collection.json", "manifest.json", "_claim.json"
DEFAULT_LICENSE = "CC-BY-4.0"
ENDPOINT_ENV = "AWS_ENDPOINT_URL"
EXT = {
    "datacube": "https://stac-extensions.github.io/datacube/v2.2.0/schema.json",
    "xarray": "https://stac-extensions.github.io/xarray-assets/v1.0.0/schema.json",
    "item_assets": "https://stac-extensions.github.io/item-assets/v1.0.0/schema.json",
    "version": "https://stac-extensions.github.io/version/v1.2.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
}
PROCESSOR = {"name": "sdgcube", "roles": ["processor"],
             "description": "SDG indicator products computed from STAC imagery"}
_VERSION = re.compile(r"^v([1-9][0-9]*)$")


class PublishError(SdgcubeError):
    """Publishing failed; the message says what, where and how to fix it."""


@dataclass(frozen=True)
class Published:
    series: str
    version: int
    url: str  # of the version directory
    created: bool  # False: the run was already published completely, nothing was written
    uploaded: int
    skipped: int


@dataclass(frozen=True)
class _Version:
    number: int
    run_id: str | None
    complete: bool
    content: str | None = None  # sha256 of the product's content, from its manifest or claim


Log = Callable[[str], None]


def publish(run_dir: str | Path, dest: str, *, series: str | None = None, endpoint_url: str | None = None,
            log: Log | None = None) -> Published:
    """Publish the product in ``run_dir`` under ``dest`` as ``<series>/v<N>/`` (see module doc).

    ``series`` defaults to ``sdg-<indicator>``; ``endpoint_url`` (or $AWS_ENDPOINT_URL)
    points ``s3://`` at an S3-compatible server. ``log`` receives one line per file.
    """
    log = log or (lambda line: None)
    run_dir = Path(run_dir)
    item, files = read_product(run_dir)
    series = series or default_series(item)
    _check_series(series)
    endpoint = _endpoint(dest, endpoint_url)
    fs, root = open_destination(dest, endpoint)
    series_root = f"{root}/{series}"
    with _io_errors(f"{dest}/{series}", endpoint, resumable=True):
        versions = _versions(fs, series_root)
        content = content_id(item)
        for v in versions:
            if v.run_id == item["id"] and v.content != content:
                state = "published" if v.complete else "claimed"
                raise PublishError(f"{series}/v{v.number} is {state} for run {item['id']} with other content (content "
                                   f"sha256 {v.content or 'unknown'}, this product's {content}): a run id names one "
                                   "product; re-run the recipe for a new run id, or publish to another series")
        done = [v for v in versions if v.run_id == item["id"] and v.complete]
        if done:
            log(f"{item['id']} is already published as {series}/v{done[0].number}: nothing to upload")
            _refresh_index(fs, root, series)
            return Published(series, done[0].number, _url(fs, f"{series_root}/v{done[0].number}"), False, 0, 0)
        number = _claim(fs, series_root, versions, item["id"], content, log)
        vroot = f"{series_root}/v{number}"
        _refuse_foreign_files(fs, vroot, files)
        previous = max((v.number for v in versions if v.complete and v.number < number), default=None)
        published_item = _published_item(item, run_dir, series, number, previous, endpoint)
        item_bytes = json.dumps(published_item, indent=2).encode()
        uploaded, skipped, manifest_files = _upload_all(fs, vroot, run_dir, files, item_bytes, log)
        _write_manifest(fs, vroot, published_item, series, number, manifest_files)
        _refresh_index(fs, root, series)
    log(f"published {item['id']} as {_url(fs, vroot)}")
    return Published(series, number, _url(fs, vroot), True, uploaded, skipped)


def default_series(item: dict) -> str:
    return f"sdg-{item['properties']['sdg:indicator']}"


def _check_series(series: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", series):
        raise PublishError(f"series id {series!r} is not a plain name: use letters, digits, '.', '_' or '-'")


# -- the local product --------------------------------------------------------------------------------


def read_product(run_dir: Path) -> tuple[dict, list[str]]:
    """The product's Item and its files (relative posix paths), or PublishError if unfinished."""
    hint = ("pass a product directory written by `python -m pipeline run`, e.g. outputs/15.1.1/<run-id>")
    if run_dir.name.startswith(".") or run_dir.name.endswith(".partial"):
        raise PublishError(f"{run_dir} is a partial (unfinished or failed) run, not a product: {hint}")
    if not run_dir.is_dir():
        raise PublishError(f"{run_dir} is not a directory: {hint}")
    try:
        item = json.loads((run_dir / ITEM).read_text())
    except (OSError, ValueError) as exc:
        raise PublishError(f"{run_dir} is not a finished product: no readable {ITEM} ({exc}); {hint}") from None
    if item.get("type") != "Feature" or "sdg:indicator" not in item.get("properties", {}):
        raise PublishError(f"{run_dir / ITEM} is not an sdgcube product Item; {hint}")
    missing = [a["href"] for a in item.get("assets", {}).values() if not _local_asset(run_dir, a["href"]).exists()]
    if not (run_dir / ZARR / "zarr.json").exists():
        missing.append(f"{ZARR}/zarr.json")
    if missing:
        raise PublishError(f"{run_dir} is not a finished product: missing {', '.join(missing)}; {hint}")
    files = [f for f in _regular_files(run_dir) if f != ITEM]  # first: a symlink is never followed, not even read
    _check_arrays(run_dir, item)
    return item, files


def _regular_files(run_dir: Path) -> list[str]:
    """Every file of the product; anything but regular files and directories is refused by name.

    A symlink (``notes.txt -> /etc/passwd``) would upload what it points at, from outside
    the product: it is refused, not followed, and so are devices, sockets and FIFOs.
    """
    files, odd = [], []
    for path in sorted(run_dir.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            odd.append(path.relative_to(run_dir).as_posix())
        elif stat.S_ISREG(mode):
            files.append(path.relative_to(run_dir).as_posix())
    if odd:
        raise PublishError(f"{run_dir} holds {', '.join(odd)}, which are not regular files (symlinks, devices or "
                           "pipes are never published); remove them, or re-run the recipe for a clean product")
    return files


def _local_asset(run_dir: Path, href: str) -> Path:
    path = Path(href.removeprefix("file://"))
    return path if path.is_absolute() else run_dir / path


def _check_arrays(run_dir: Path, item: dict) -> None:
    """Every file and Zarr array is still what the run wrote: the Item's checksums must be there and match."""
    props = item["properties"]
    for key in ("sdgcube:array_checksums", "sdgcube:file_checksums"):
        if not isinstance(props.get(key), dict) or not props[key]:
            raise PublishError(f"{run_dir / ITEM} has no {key}: nothing proves the files are the ones its run wrote; "
                               "re-run the recipe (products record them since this version)")
    recorded = props["sdgcube:array_checksums"]
    actual = array_checksums(run_dir / ZARR)
    changed = sorted(k for k in set(actual) | set(recorded) if recorded.get(k) != actual.get(k))
    if changed:
        raise PublishError(f"{run_dir / ZARR} differs from what its run wrote (arrays {', '.join(changed)} do not "
                           "match sdgcube:array_checksums in item.json); re-run the recipe to get a clean product")
    recorded = props["sdgcube:file_checksums"]
    actual = file_checksums(run_dir, ZARR)
    changed = sorted(k for k in set(actual) | set(recorded) if recorded.get(k) != actual.get(k))
    if changed:
        raise PublishError(f"{run_dir} differs from what its run wrote ({', '.join(changed[:10])} do not match "
                           "sdgcube:file_checksums in item.json: edited, added or removed); re-run the recipe to "
                           "get a clean product")


def content_id(item: dict) -> str:
    """What identifies the product's content, whatever its run id says."""
    props = item["properties"]
    return content_checksum(props["sdgcube:file_checksums"], props["sdgcube:array_checksums"])


# -- the destination -----------------------------------------------------------------------------------


def _is_s3(dest: str) -> bool:
    return urlsplit(dest).scheme in ("s3", "s3a")


def _endpoint(dest: str, endpoint_url: str | None) -> str | None:
    """The S3 endpoint: the option, else $AWS_ENDPOINT_URL; none for other destinations."""
    return (endpoint_url or os.environ.get(ENDPOINT_ENV) or None) if _is_s3(dest) else None


def storage_options(dest: str, endpoint_url: str | None) -> dict[str, Any]:
    """fsspec options for ``dest``: the S3 endpoint and bounded retries (fail fast when unreachable)."""
    if not _is_s3(dest):
        return {}
    options: dict[str, Any] = {"config_kwargs": {"connect_timeout": 10, "read_timeout": 120,
                                                 "retries": {"max_attempts": 3, "mode": "standard"}}}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    return options


def open_destination(dest: str, endpoint_url: str | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, root path) for ``dest``, checked to be reachable and writable-looking."""
    if "://" not in dest:
        dest = os.path.abspath(dest)
    if urlsplit(dest).scheme in ("http", "https", "ftp"):
        raise PublishError(f"cannot publish to {_safe_url(dest)}: HTTP is read-only here",
                           hint="publish to a local folder (then serve it) or to the object store behind the "
                                "server, e.g. s3://bucket/prefix with --endpoint-url")
    try:
        fs, root = url_to_fs(dest, **storage_options(dest, endpoint_url))
    except (ImportError, ValueError) as exc:
        raise PublishError(f"cannot open destination {dest}: {exc}; for s3:// install s3fs, "
                           "or pass a local path") from None
    root = root.rstrip("/")
    with _io_errors(dest, endpoint_url):
        if _is_local(fs):
            fs.makedirs(root, exist_ok=True)
        else:
            fs.ls(root.split("/", 1)[0])  # the bucket: exists, reachable, credentials accepted
    return fs, root


@contextlib.contextmanager
def _io_errors(where: str, endpoint: str | None = None, *, resumable: bool = False) -> Iterator[None]:
    """Turn storage errors into PublishError naming where it failed and what to do."""
    try:
        yield
    except PublishError:
        raise
    except Exception as exc:
        fix = _fix_for(exc, remote="://" in where)
        if fix is None:
            raise
        server = f" (endpoint {_safe_url(endpoint)})" if endpoint else ""
        if resumable:
            fix += "; then re-run the same command: it resumes where it stopped (nothing published is lost)"
        raise PublishError(f"cannot publish to {where}{server}: {type(exc).__name__}: {exc}; {fix}") from exc


def _fix_for(exc: Exception, *, remote: bool) -> str | None:
    name = type(exc).__name__
    if isinstance(exc, PermissionError) and not remote:
        return "check you may create directories and write files there, or choose another DEST"
    if isinstance(exc, PermissionError) or name in ("NoCredentialsError", "PartialCredentialsError"):
        return ("set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) to credentials allowed to "
                "list, read and write there")
    if isinstance(exc, FileNotFoundError):
        return "check the bucket and prefix exist (create the bucket first) and are spelled right"
    if "Endpoint" in name or "Connect" in name or isinstance(exc, (ConnectionError, TimeoutError)):
        return f"check the server is up and --endpoint-url / ${ENDPOINT_ENV} points at it"
    if isinstance(exc, OSError) or type(exc).__module__.startswith(("botocore", "aiobotocore", "s3fs")):
        return "check the destination, its free space and the credentials"
    return None


def _safe_url(url: str | None) -> str:
    parts = urlsplit(url or "")
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", "")) if parts.port is None else \
        urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port}", parts.path, "", ""))


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return "file" in protocols


def _url(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return path if _is_local(fs) else fs.unstrip_protocol(path)


def _exists(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    try:
        fs.info(path)
        return True
    except FileNotFoundError:
        return False


def _read_json(fs: fsspec.AbstractFileSystem, path: str) -> dict | None:
    try:
        return json.loads(fs.cat_file(path))
    except FileNotFoundError:
        return None


# -- versions ------------------------------------------------------------------------------------------


def _versions(fs: fsspec.AbstractFileSystem, series_root: str) -> list[_Version]:
    """Every ``v<N>`` of a series: its run (from manifest or claim) and whether it is complete."""
    fs.invalidate_cache()
    try:
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(series_root, detail=False)]
    except FileNotFoundError:
        return []
    versions = []
    for name in names:
        match = _VERSION.match(name)
        if not match:
            continue
        manifest = _read_json(fs, f"{series_root}/{name}/{MANIFEST}")
        claim = None if manifest else _read_json(fs, f"{series_root}/{name}/{CLAIM}")
        record = manifest or claim or {}
        versions.append(_Version(int(match.group(1)), record.get("run_id"), manifest is not None,
                                 record.get("content_sha256")))
    return sorted(versions, key=lambda v: v.number)


def _refuse_foreign_files(fs: fsspec.AbstractFileSystem, vroot: str, files: list[str]) -> None:
    """A version directory holds this product's files and its claim, nothing else (a planted file would be
    published with it)."""
    fs.invalidate_cache()
    try:
        present = [_relative_to(p, vroot) for p in fs.find(vroot)]
    except FileNotFoundError:
        return
    foreign = sorted(set(present) - set(files) - {ITEM, CLAIM})
    if foreign:
        raise PublishError(f"{_url(fs, vroot)} holds files this product does not have: {', '.join(foreign[:10])}; "
                           "they are not published with it: remove them (or the whole incomplete version) and "
                           "publish again")


def _relative_to(path: str, root: str) -> str:
    root = root.rstrip("/")
    path = path.rstrip("/")
    return path[len(root):].lstrip("/") if path.startswith(root) else path.rsplit("/", 1)[-1]


def _claim(fs: fsspec.AbstractFileSystem, series_root: str, versions: list[_Version], run_id: str,
           content: str, log: Log) -> int:
    """The version number this run publishes into: its own incomplete one, else a new one."""
    for v in versions:
        if v.run_id == run_id and not v.complete:
            log(f"resuming the incomplete v{v.number} of {run_id}")
            return v.number
    number = max((v.number for v in versions), default=0) + 1
    body = json.dumps({"run_id": run_id, "content_sha256": content, "claimed": _now()}).encode()
    for _ in range(100):
        try:
            _create(fs, f"{series_root}/v{number}/{CLAIM}", body)
            return number
        except FileExistsError:  # another publisher took it a moment ago
            number += 1
    raise PublishError(f"could not claim a new version under {_url(fs, series_root)}: 100 numbers taken at once")


def _create(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Write ``data`` to a new file; FileExistsError if it exists (never overwrites)."""
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "xb") as f:
        f.write(data)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- upload and verification ---------------------------------------------------------------------------


def _put_file(fs: fsspec.AbstractFileSystem, local: Path, remote: str) -> None:
    """Upload one file (a separate function so tests can interrupt or corrupt an upload)."""
    fs.put_file(str(local), remote)


def _upload_all(fs: fsspec.AbstractFileSystem, vroot: str, run_dir: Path, files: list[str], item_bytes: bytes,
                log: Log) -> tuple[int, int, dict[str, dict]]:
    """Upload (or find already uploaded) every file, then verify each by reading it back."""
    staged = _staged_item(item_bytes)
    try:
        sources = [(rel, run_dir / rel) for rel in files] + [(ITEM, staged)]
        expected = {rel: {"sha256": sha256_file(src), "size": src.stat().st_size} for rel, src in sources}
        uploaded = skipped = 0
        fs.invalidate_cache()
        for i, (rel, src) in enumerate(sources, 1):
            remote = f"{vroot}/{rel}"
            if _already_there(fs, remote, expected[rel]):
                skipped += 1
                log(f"[{i}/{len(sources)}] {rel}: already uploaded, checksum ok")
                continue
            fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
            _put_file(fs, src, remote)
            uploaded += 1
            log(f"[{i}/{len(sources)}] {rel}: uploaded {expected[rel]['size']} bytes")
        fs.invalidate_cache()
        for rel, _ in sources:
            _verify(fs, f"{vroot}/{rel}", expected[rel])
        log(f"verified {len(sources)} files (sha256 read back)")
    finally:
        staged.unlink(missing_ok=True)
    return uploaded, skipped, expected


def _staged_item(item_bytes: bytes) -> Path:
    """The published Item as a temporary local file, so it is uploaded and verified like any other."""
    handle, name = tempfile.mkstemp(prefix=".publish-item-", suffix=".json")
    with os.fdopen(handle, "wb") as f:
        f.write(item_bytes)
    return Path(name)


def _already_there(fs: fsspec.AbstractFileSystem, remote: str, expected: dict) -> bool:
    try:
        size = fs.info(remote).get("size")
    except FileNotFoundError:
        return False
    return size == expected["size"] and sha256_file(remote, fs) == expected["sha256"]


def _verify(fs: fsspec.AbstractFileSystem, remote: str, expected: dict) -> None:
    try:
        got = sha256_file(remote, fs)
    except FileNotFoundError:
        got = "nothing (the file is missing)"
    if got != expected["sha256"]:
        raise PublishError(
            f"checksum mismatch after upload: {_url(fs, remote)} has sha256 {got}, the local file "
            f"{expected['sha256']}; the upload was corrupted or changed meanwhile. The version stays incomplete "
            "(no manifest); re-run the same publish command to upload it again")


def _write_manifest(fs: fsspec.AbstractFileSystem, vroot: str, item: dict, series: str, number: int,
                    files: dict[str, dict]) -> None:
    """The last write: its presence marks ``v<N>`` complete.

    The claim stays: as every claim is an exclusive create, no later publisher can ever
    claim (and write into) a version number that was once taken.
    """
    manifest = {"type": "sdgcube-publication", "series": series, "version": number, "run_id": item["id"],
                "content_sha256": content_id(item), "published": _now(), "files": files,
                "array_checksums": item["properties"].get("sdgcube:array_checksums")}
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    try:
        _create(fs, f"{vroot}/{MANIFEST}", data)
    except FileExistsError:
        raise PublishError(f"{_url(fs, vroot)}/{MANIFEST} appeared while publishing: another publisher "
                           "completed this version; run publish again to see its state") from None
    _verify(fs, f"{vroot}/{MANIFEST}", {"sha256": sha256_bytes(data)})


def verify(dest: str, series: str, version: int, *, endpoint_url: str | None = None) -> dict:
    """Re-check a published version against its manifest; returns the manifest or raises PublishError."""
    endpoint = _endpoint(dest, endpoint_url)
    fs, root = open_destination(dest, endpoint)
    vroot = f"{root}/{series}/v{version}"
    with _io_errors(_url(fs, vroot), endpoint):
        manifest = _read_json(fs, f"{vroot}/{MANIFEST}")
        if manifest is None:
            raise PublishError(f"{_url(fs, vroot)} has no {MANIFEST}: the version is incomplete; re-run publish "
                               "for its run to complete it")
        for rel, expected in manifest["files"].items():
            _verify(fs, f"{vroot}/{rel}", expected)
    return manifest


# -- the published Item --------------------------------------------------------------------------------


def _published_item(item: dict, run_dir: Path, series: str, number: int, previous: int | None,
                     endpoint: str | None) -> dict:
    """The product Item for its new place: relative links into the catalog, version, datacube."""
    out = json.loads(json.dumps(item))
    out["links"] = [
        {"rel": "root", "href": f"../../{CATALOG}", "type": "application/json"},
        {"rel": "parent", "href": f"../{COLLECTION}", "type": "application/json"},
        {"rel": "collection", "href": f"../{COLLECTION}", "type": "application/json"},
    ]
    if previous is not None:
        out["links"].append({"rel": "predecessor-version", "href": f"../v{previous}/{ITEM}",
                             "type": "application/geo+json"})
    out["collection"] = series
    for asset in out["assets"].values():
        asset["href"] = _relative_href(run_dir, asset["href"])
    zarr_asset = next((a for a in out["assets"].values() if a["href"].rstrip("/") == ZARR), None)
    if zarr_asset is not None:
        zarr_asset["xarray:open_kwargs"] = dict(ZARR_OPEN_KWARGS)
        if endpoint:
            zarr_asset["xarray:storage_options"] = {"endpoint_url": _safe_url(endpoint)}
    props = out["properties"]
    props["version"] = str(number)
    props.setdefault("providers", _providers(item))
    dims, variables = datacube(run_dir / ZARR, props.get("proj:code"))
    props["cube:dimensions"], props["cube:variables"] = dims, variables
    out["stac_extensions"] = sorted(set(out.get("stac_extensions", [])) | {EXT["datacube"], EXT["xarray"],
                                                                         EXT["version"]})
    return out


def _relative_href(run_dir: Path, href: str) -> str:
    """Asset hrefs relative to the Item, so they resolve wherever the version is published."""
    path = _local_asset(run_dir, href)
    try:
        return path.resolve().relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        return href  # outside the product (e.g. an external URL): left as it is


def _providers(item: dict) -> list[dict]:
    """sdgcube as processor, plus the input collections' providers where the input catalog is local."""
    providers = [dict(PROCESSOR)]
    inputs = item["properties"].get("sdgcube:provenance", {}).get("inputs", {})
    for record in inputs.values():
        for collection in sorted({i.get("collection") for i in record.get("items", []) if i.get("collection")}):
            for provider in _input_providers(record.get("catalog", ""), collection):
                if provider not in providers:
                    providers.append(provider)
    return providers


def _input_providers(catalog: str, collection: str) -> list[dict]:
    """Providers of an input collection of a local static catalog; [] if it cannot be read cheaply."""
    if "://" in catalog and not catalog.startswith("file://"):
        return []  # an API or remote catalog: not fetched while publishing
    path = Path(catalog.removeprefix("file://"))
    root = path if path.suffix == ".json" else path / CATALOG
    try:
        parent = pystac.read_file(str(root))
        if not isinstance(parent, pystac.Catalog):  # an Item or ItemCollection: no children to look up
            return []
        found = parent.get_child(collection)
    except Exception:  # noqa: BLE001 - the input catalog moved or is not readable: providers are optional
        return []
    return [p.to_dict() for p in (getattr(found, "providers", None) or [])]


def datacube(store: str | Path, crs: str | None = None, **storage_options: Any) -> tuple[dict, dict]:
    """The datacube extension's ``cube:dimensions`` and ``cube:variables`` of a Zarr store."""
    with xr.open_zarr(str(store), mask_and_scale=False, decode_times=True, storage_options=storage_options or None,
                      **{k: v for k, v in ZARR_OPEN_KWARGS.items() if k != "engine"}) as ds:
        dims = {name: _dimension(ds, name, crs) for name in ds.dims}
        variables = {name: _variable(ds[name], "data") for name in ds.data_vars}
        variables.update({name: _variable(ds[name], "auxiliary") for name in ds.coords if name not in ds.dims})
    return dims, variables


def _dimension(ds: xr.Dataset, name: str, crs: str | None) -> dict:
    values: np.ndarray = ds[name].values if name in ds.coords else np.arange(ds.sizes[name])
    dim: dict[str, Any]
    if name in ("x", "y"):
        dim = {"type": "spatial", "axis": name, "extent": [float(values.min()), float(values.max())]}
        steps = np.unique(np.diff(values))
        if steps.size == 1:
            dim["step"] = float(steps[0])
        if crs and crs.upper().startswith("EPSG:"):
            dim["reference_system"] = int(crs.split(":", 1)[1])
        return dim
    if np.issubdtype(values.dtype, np.datetime64):
        iso = [np.datetime_as_string(v, unit="s") + "Z" for v in values]
        dim = {"type": "temporal", "extent": [iso[0], iso[-1]], "values": iso}
        years = ds["year"].values if "year" in ds.coords and ds["year"].dims == (name,) else None
        if years is not None and len(years) > 1 and (np.diff(years) == 1).all():
            dim["step"] = "P1Y"
        return dim
    return {"type": "other", "values": [v.item() for v in values]} if values.size <= 100 else \
        {"type": "other", "extent": [values.min().item(), values.max().item()]}


def _variable(var: xr.DataArray, kind: str) -> dict:
    out: dict[str, Any] = {"dimensions": list(var.dims), "type": kind}
    if "long_name" in var.attrs:
        out["description"] = str(var.attrs["long_name"])
    if "units" in var.attrs:
        out["unit"] = str(var.attrs["units"])
    if "flag_values" in var.attrs:
        out["values"] = [int(v) for v in np.atleast_1d(var.attrs["flag_values"])]
    if var.ndim:
        out["shape"] = list(var.shape)
    return out


# -- the catalog index ---------------------------------------------------------------------------------


def _refresh_index(fs: fsspec.AbstractFileSystem, root: str, series: str) -> None:
    """Rewrite the Collection and root Catalog from the complete versions (only if they changed)."""
    items = list(_published_items(fs, f"{root}/{series}"))
    if items:
        _write_if_changed(fs, f"{root}/{series}/{COLLECTION}", collection(series, items))
    catalog = _read_json(fs, f"{root}/{CATALOG}") or {
        "type": "Catalog", "stac_version": pystac.get_stac_version(), "id": "sdgcube-products",
        "title": "sdgcube: published SDG indicator products",
        "description": "SDG indicator products published by sdgcube. Each collection is a product series; "
                       "each item one immutable version (v<N>/, complete when v<N>/manifest.json exists).",
        "links": [{"rel": "root", "href": f"./{CATALOG}", "type": "application/json"}]}
    child = f"./{series}/{COLLECTION}"
    if items and not any(link.get("rel") == "child" and link.get("href") == child for link in catalog["links"]):
        catalog["links"].append({"rel": "child", "href": child, "type": "application/json", "title": series})
    _write_if_changed(fs, f"{root}/{CATALOG}", catalog)


def _published_items(fs: fsspec.AbstractFileSystem, series_root: str) -> Iterator[tuple[int, dict]]:
    for v in _versions(fs, series_root):
        if v.complete:
            item = _read_json(fs, f"{series_root}/v{v.number}/{ITEM}")
            if item is not None:
                yield v.number, item


def collection(series: str, items: list[tuple[int, dict]]) -> dict:
    """The series' Collection: union extents, latest version's item_assets and datacube, providers."""
    number, latest = max(items, key=lambda pair: pair[0])
    props = latest["properties"]
    licences = {i["properties"].get("license") or DEFAULT_LICENSE for _, i in items}
    bboxes = np.array([i["bbox"] for _, i in items], dtype=float)
    starts = sorted(i["properties"].get("start_datetime") or i["properties"]["datetime"] for _, i in items)
    ends = sorted(i["properties"].get("end_datetime") or i["properties"]["datetime"] for _, i in items)
    providers: list[dict] = []
    for _, i in items:
        for p in i["properties"].get("providers", [PROCESSOR]):
            if p not in providers:
                providers.append(p)
    links = [{"rel": "root", "href": f"../{CATALOG}", "type": "application/json"},
             {"rel": "parent", "href": f"../{CATALOG}", "type": "application/json"}]
    links += [{"rel": "item", "href": f"./v{n}/{ITEM}", "type": "application/geo+json", "title": f"v{n}"}
              for n, _ in sorted(items, key=lambda pair: pair[0])]
    links.append({"rel": "latest-version", "href": f"./v{number}/{ITEM}", "type": "application/geo+json"})
    return {
        "type": "Collection", "stac_version": pystac.get_stac_version(),
        "stac_extensions": sorted({EXT["datacube"], EXT["xarray"], EXT["item_assets"], EXT["processing"]}),
        "id": series,
        "title": f"SDG {props['sdg:indicator']}: {props.get('description', '')}".rstrip(": "),
        "description": (f"{props.get('description', 'SDG indicator')} (SDG {props['sdg:indicator']}), published "
                        f"by sdgcube; {len(items)} version(s), each an immutable v<N>/ directory with a STAC Item, "
                        "a Zarr v3 product and its tables."),
        "license": licences.pop() if len(licences) == 1 else "various",
        "providers": providers,
        "extent": {"spatial": {"bbox": [[*bboxes[:, :2].min(axis=0).tolist(), *bboxes[:, 2:].max(axis=0).tolist()]]},
                   "temporal": {"interval": [[starts[0], ends[-1]]]}},
        "item_assets": {key: {k: v for k, v in asset.items() if k != "href"}
                        for key, asset in latest["assets"].items()},
        "cube:dimensions": props.get("cube:dimensions", {}),
        "cube:variables": props.get("cube:variables", {}),
        "processing:software": props.get("processing:software", {}),
        "links": links,
    }


def _write_if_changed(fs: fsspec.AbstractFileSystem, path: str, value: dict) -> None:
    data = json.dumps(value, indent=2).encode()
    try:
        if fs.cat_file(path) == data:
            return
    except FileNotFoundError:
        pass
    fs.pipe_file(path, data)


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
