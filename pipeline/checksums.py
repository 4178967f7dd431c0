"""SHA-256 checksums of files and of Zarr arrays, locally or on any fsspec filesystem.

An array's checksum covers its chunk bytes only, not its ``zarr.json``: metadata
attributes carry the run's time and id, so two runs of the same recipe on the same
inputs differ there while their data must not. Chunks are hashed in sorted key order
with each key and length framed in, so a moved, missing or resized chunk changes
the checksum as surely as a changed byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.core import url_to_fs

BLOCK = 1 << 20
METADATA = "zarr.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, fs: fsspec.AbstractFileSystem | None = None) -> str:
    """Checksum of a local file, or of ``path`` on ``fs``, read in 1 MiB blocks."""
    if fs is None:
        with open(path, "rb") as f:
            return _sha256_stream(f)
    with fs.open(str(path), "rb") as f:
        return _sha256_stream(f)


def _sha256_stream(f: BinaryIO) -> str:
    digest = hashlib.sha256()
    while block := f.read(BLOCK):
        digest.update(block)
    return digest.hexdigest()


def array_checksums(store: str | Path, **storage_options: Any) -> dict[str, str]:
    """``{array path: sha256 over its chunks}`` for every array of a Zarr v3 store.

    ``store`` is a local path or an fsspec URL (``s3://bucket/x/product.zarr``); the
    same product gives the same checksums wherever it is stored.
    """
    fs, root = url_to_fs(str(store), **storage_options)
    root = root.rstrip("/")
    files = sorted(_relative(p, root) for p in fs.find(root))
    arrays = [f.rsplit("/", 1)[0] if "/" in f else "" for f in files
              if f.rsplit("/", 1)[-1] == METADATA and _is_array(fs, f"{root}/{f}")]
    return {name or "/": _array_digest(fs, root, name, files) for name in sorted(arrays)}


def _relative(path: str, root: str) -> str:
    return path[len(root):].lstrip("/")


def _is_array(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    return json.loads(fs.cat_file(path)).get("node_type") == "array"


def _array_digest(fs: fsspec.AbstractFileSystem, root: str, array: str, files: list[str]) -> str:
    """Hash of (key, length, bytes) of each chunk below ``array`` (arrays have no children)."""
    prefix = f"{array}/" if array else ""
    digest = hashlib.sha256()
    for name in files:
        if not name.startswith(prefix) or name == f"{prefix}{METADATA}":
            continue
        key = name[len(prefix):]
        data = fs.cat_file(f"{root}/{name}")
        digest.update(key.encode() + b"\0" + len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def file_checksums(directory: Path, zarr: str) -> dict[str, str]:
    """``{relative path: sha256}`` of every file of a product but its Item and the Zarr chunks (which
    ``array_checksums`` covers): tables, pictures, report, recipe and every Zarr metadata document."""
    out = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if not path.is_file() or rel == "item.json":
            continue
        if rel.startswith(f"{zarr}/") and path.name != METADATA:
            continue
        out[rel] = sha256_file(path)
    return out


def content_checksum(file_sums: dict[str, str], array_sums: dict[str, str]) -> str:
    """One hash that identifies a product's content (not its run id)."""
    return sha256_bytes(json.dumps({"files": file_sums, "arrays": array_sums}, sort_keys=True).encode())
