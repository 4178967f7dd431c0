"""Finished blocks on disk, so that a killed run resumes where it stopped.

With a checkpoint folder, every (step, period, block) task saves what it returns (its layer
chunks and its reduction partials) as one ``.npz`` beside the staging store, under its
graph key, and a task whose file is there loads it instead of reading and computing. Keys
are tokens of everything a task depends on (``pipeline.engine.graph``), so a file can only
stand in for the very task that wrote it. Files appear by rename: a kill leaves a whole
file or none. Plain arrays only (``allow_pickle=False``): loading a file never runs code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.engine.tasks import run_block

SUFFIX = ".npz"
_PARTIALS, _LAYER = "_partials", "layer"


def file_name(key: tuple[Any, ...]) -> str:
    """The file of one task: readable step name, then a digest of the whole key."""
    step = str(key[0]).rsplit("-", 1)[0]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in step)[:60]
    return f"{safe}-{hashlib.sha256(repr(key).encode()).hexdigest()[:32]}{SUFFIX}"


def saved_block(folder: str, key: tuple[Any, ...], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``run_block``, or what it returned before for this key (read from ``folder``)."""
    path = Path(folder) / file_name(key)
    found = _load(path)
    if found is not None:
        return found
    result = run_block(*args, **kwargs)
    _save(path, result)
    return result


def completed(folder: Path) -> set[str]:
    """The tasks saved in ``folder`` (file names)."""
    return {p.name for p in folder.glob(f"*{SUFFIX}")} if folder.is_dir() else set()


def _save(path: Path, result: dict[str, Any]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, value in result.items():
        if name != _PARTIALS:
            arrays[f"{_LAYER}/{name}"] = value
    for name, part in result[_PARTIALS].items():
        if isinstance(part, tuple):
            arrays[f"{_PARTIALS}/{name}/present"], arrays[f"{_PARTIALS}/{name}/values"] = part
        else:  # a Distinct's values
            arrays[f"{_PARTIALS}/{name}/values"] = part
    aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # one writer per name
    with open(aside, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy types allow_pickle among the names
    os.replace(aside, path)


def _load(path: Path) -> dict[str, Any] | None:
    """The saved result, or None when there is none (or it cannot be read: the task runs again)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    result: dict[str, Any] = {}
    partials: dict[str, Any] = {}
    for name, value in arrays.items():
        kind, rest = name.split("/", 1)
        if kind == _LAYER:
            result[rest] = value
        elif rest.endswith("/values"):
            reduction = rest[: -len("/values")]
            present = arrays.get(f"{_PARTIALS}/{reduction}/present")
            partials[reduction] = value if present is None else (present, value)
    result[_PARTIALS] = partials
    return result
