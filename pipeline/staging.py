"""Staging directories of runs, and the locks that tell a dead run's leftovers from a live run's work.

A run writes into a hidden ``.<run-id>.<random>.partial`` directory beside its final place and
renames it when complete; a failure removes it. A ``kill -9`` cannot be caught, so the next run
sweeps: every staging directory carries a sibling ``<name>.lock`` with the writer's host, PID and
process start time; one whose process is gone (or whose PID now belongs to a younger process) is
removed, one of a live process is never touched. A directory without a lock (its writer died
between creating it and locking it) is removed once it is older than ``UNLOCKED_GRACE_S``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from pathlib import Path

LOCK_SUFFIX = ".lock"
UNLOCKED_GRACE_S = 600.0


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


def sweep(root: Path) -> list[Path]:
    """Remove dead runs' staging directories (and their locks) under ``root/<sdg>/``, and ``<sdg>/``
    folders left empty; return what was removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for partial in sorted(root.glob("*/.*.partial")):
        if partial.is_dir() and not partial.is_symlink() and is_stale(partial):
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
