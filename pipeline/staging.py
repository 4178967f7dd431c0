"""Staging directories of runs, and the locks that tell a dead run's leftovers from a live run's work.

A run writes into a hidden ``.<run-id>.<random>.partial`` directory beside its final place and
renames it when complete; a failure removes it. A ``kill -9`` cannot be caught, so the next run
sweeps: every staging directory carries a sibling ``<name>.lock`` with the writer's host, PID and
process start time; one whose process is gone (or whose PID now belongs to a younger process) is
removed, one of a live process is never touched. A directory without a lock (its writer died
between creating it and locking it) is removed once it is older than ``UNLOCKED_GRACE_S``.

Resume: a run records what it is (``resume.json``: its identity, run id and start) and saves
each finished block (``pipeline.engine.checkpoints``) in its staging directory. A dead run's
directory that holds finished blocks is kept for ``RESUME_KEEP_S`` instead of swept; the next
run with the same identity (the same recipe text, catalog and sdgcube code) adopts it, takes
over its run id, and computes only the blocks that are missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import Any

LOCK_SUFFIX = ".lock"
UNLOCKED_GRACE_S = 600.0
RESUME = "resume.json"  # in a staging directory: what run it is
BLOCKS = ".blocks"  # in a staging directory: the finished blocks
RESUME_KEEP_S = 7 * 86400.0
_CODE = ("pipeline", "catalog", "kernels")


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def lock(partial: Path) -> Path:
    """Claim ``partial`` for this process (atomically: written aside, then renamed)."""
    path = partial.with_name(partial.name + LOCK_SUFFIX)
    aside = path.with_name(path.name + f".{os.getpid()}")
    aside.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                 "start": _start_time(os.getpid())}))
    os.replace(aside, path)
    return path


def release(partial: Path) -> None:
    with contextlib.suppress(OSError):
        partial.with_name(partial.name + LOCK_SUFFIX).unlink()


def is_stale(partial: Path, now: float | None = None) -> bool:
    """True if no live process on this host can still be writing ``partial``."""
    path = partial.with_name(partial.name + LOCK_SUFFIX)
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        try:
            age = (now or time.time()) - partial.stat().st_mtime
        except OSError:
            return False  # gone already
        return age > UNLOCKED_GRACE_S
    if holder.get("host") != socket.gethostname():
        return False  # a shared disk: another machine's process cannot be checked
    pid = int(holder.get("pid", -1))
    if pid <= 0 or not _alive(pid):
        return True
    start = holder.get("start")
    return start is not None and _start_time(pid) not in (None, start)  # the PID was reused


def sweep(root: Path, now: float | None = None) -> list[Path]:
    """Remove dead runs' staging directories (and their locks) under ``root/<sdg>/``, and ``<sdg>/``
    folders left empty; return what was removed. Resumable ones younger than ``RESUME_KEEP_S`` stay."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for partial in sorted(root.glob("*/.*.partial")):
        if partial.is_dir() and not partial.is_symlink() and is_stale(partial) and not _kept(partial, now):
            shutil.rmtree(partial, ignore_errors=True)
            release(partial)
            removed.append(partial)
    for orphan in root.glob(f"*/.*.partial{LOCK_SUFFIX}"):
        if not orphan.with_name(orphan.name[:-len(LOCK_SUFFIX)]).exists():
            with contextlib.suppress(OSError):
                orphan.unlink()
    for folder in {p.parent for p in removed}:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty
    return removed


def identity(recipe_text: str, catalog: str) -> str:
    """What a resumed run must share with the killed one: recipe text, catalog and the code that computes."""
    digest = hashlib.sha256()
    for part in (recipe_text, catalog):
        digest.update(part.encode() + b"\0")
    base = Path(__file__).parents[1]
    for package in _CODE:
        for path in sorted((base / package).rglob("*")):
            if path.suffix in (".py", ".yaml") and "data" not in path.relative_to(base).parts:
                digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def record(partial: Path, *, identity: str, run_id: str, started: str) -> Path:
    """Mark ``partial`` resumable; returns the folder its finished blocks go to."""
    (partial / RESUME).write_text(json.dumps({"identity": identity, "run_id": run_id, "started": started}))
    blocks = partial / BLOCKS
    blocks.mkdir(exist_ok=True)
    return blocks


def forget(partial: Path) -> None:
    """Drop the resume record and saved blocks of a finished run (they are not part of the product)."""
    shutil.rmtree(partial / BLOCKS, ignore_errors=True)
    with contextlib.suppress(OSError):
        (partial / RESUME).unlink()


def _record_of(partial: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((partial / RESUME).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _blocks(partial: Path) -> list[Path]:
    folder = partial / BLOCKS
    return sorted(folder.glob("*.npz")) if folder.is_dir() else []


def _kept(partial: Path, now: float | None = None) -> bool:
    """A dead run's directory worth resuming: a record, finished blocks, and not older than RESUME_KEEP_S."""
    if _record_of(partial) is None:
        return False
    try:
        newest = max(p.stat().st_mtime for p in _blocks(partial))
    except (ValueError, OSError):  # no blocks: nothing to resume
        return False
    return (now or time.time()) - newest < RESUME_KEEP_S


def waiting(root: Path) -> list[Path]:
    """Dead runs' staging directories kept for resuming (``sweep`` leaves them)."""
    if not root.is_dir():
        return []
    return [p for p in sorted(root.glob("*/.*.partial"))
            if p.is_dir() and not p.is_symlink() and is_stale(p) and _kept(p)]


def adopt(folder: Path, identity: str) -> tuple[Path, dict[str, Any], int] | None:
    """Take over a dead run's staging directory in ``folder`` with this ``identity``: (the directory under a
    new name of this process's, its record, the number of finished blocks), or None.

    The new name is locked before the rename, so a concurrent sweep never sees it unlocked, and the
    rename is what claims it: of two runs adopting the same directory, one wins.
    """
    if not folder.is_dir():
        return None
    for partial in sorted(folder.glob(".*.partial")):
        if not partial.is_dir() or partial.is_symlink() or not is_stale(partial):
            continue
        found = _record_of(partial)
        if found is None or found.get("identity") != identity or not _blocks(partial):
            continue
        mine = folder / f".{found['run_id']}.{secrets.token_hex(4)}.partial"
        lock(mine)
        try:
            os.rename(partial, mine)
        except OSError:  # another run adopted it first
            release(mine)
            continue
        release(partial)
        for leftover in (mine / BLOCKS).glob(".*.tmp"):  # a block being saved when the run was killed
            with contextlib.suppress(OSError):
                leftover.unlink()
        return mine, found, len(_blocks(mine))
    return None
