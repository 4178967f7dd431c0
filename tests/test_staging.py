"""A killed run's staging directory is swept by the next run; a live run's never is."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from pipeline import staging
from pipeline.recipe import load_recipe
from pipeline.run import run

ROOT = Path(__file__).parents[1]


def _partial(root: Path, sdg: str = "15.1.1", name: str = ".run.abc.partial") -> Path:
    path = root / sdg / name
    (path / "product.zarr").mkdir(parents=True)
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _write_lock(partial: Path, **holder) -> None:
    lock = {"host": socket.gethostname(), "pid": os.getpid(), "start": staging._start_time(os.getpid()), **holder}
    partial.with_name(partial.name + staging.LOCK_SUFFIX).write_text(json.dumps(lock))


def test_which_staging_directories_are_stale(tmp_path):
    live = _partial(tmp_path, name=".live.1.partial")
    staging.lock(live)
    dead = _partial(tmp_path, name=".dead.1.partial")
    _write_lock(dead, pid=_dead_pid())
    reused = _partial(tmp_path, name=".reused.1.partial")
    _write_lock(reused, start="1")  # this PID, but a process that started at another time
    elsewhere = _partial(tmp_path, name=".elsewhere.1.partial")
    _write_lock(elsewhere, host="another-machine", pid=_dead_pid())
    young = _partial(tmp_path, name=".young.1.partial")
    old = _partial(tmp_path, name=".old.1.partial")
    os.utime(old, (time.time() - 2 * staging.UNLOCKED_GRACE_S,) * 2)
    assert [staging.is_stale(p) for p in (live, dead, reused, elsewhere, young, old)] == \
        [False, True, True, False, False, True]
    removed = staging.sweep(tmp_path)
    assert sorted(p.name for p in removed) == [".dead.1.partial", ".old.1.partial", ".reused.1.partial"]
    left = sorted(p.name for p in (tmp_path / "15.1.1").iterdir())
    assert left == [".elsewhere.1.partial", ".elsewhere.1.partial.lock", ".live.1.partial", ".live.1.partial.lock",
                    ".young.1.partial"]


def test_sweeping_removes_the_folder_it_emptied(tmp_path):
    dead = _partial(tmp_path, "6.6.1")
    _write_lock(dead, pid=_dead_pid())
    staging.sweep(tmp_path)
    assert not (tmp_path / "6.6.1").exists()


def test_a_run_killed_with_sigkill_is_cleaned_up_by_the_next_run(demo_catalog, tmp_path):
    """Without resume records (``--no-resume``) there is nothing to keep: the next run of any recipe sweeps it."""
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(ROOT / "recipes" / "15.3.1.yaml"),
                              "--catalog", demo_catalog, "--out", str(out), "--no-progress", "--no-resume"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not list(out.glob("15.3.1/.*.partial")) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if child.poll() is not None:
        pytest.fail("the run ended before its staging directory was seen; nothing to kill")
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = list(out.glob("15.3.1/.*.partial"))
    assert left, "kill -9 leaves the staging directory (nothing can catch it)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(load_recipe(ROOT / "recipes" / "11.3.1.yaml"), catalog=demo_catalog, out=out, progress=False)
    assert not (out / "15.3.1").exists()  # swept, and its emptied folder with it
    assert [p.name for p in (out / "11.3.1").iterdir() if p.name.startswith(".")] == []
