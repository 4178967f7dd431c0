"""A run killed with SIGKILL at a random point is finished by the same command, byte-identical to an
uninterrupted run, computing only the blocks the killed run had not saved."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import staging
from pipeline.engine import checkpoints

ROOT = Path(__file__).parents[1]


def _command(recipe: str | Path, catalog: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "run", str(ROOT / "recipes" / recipe), "--catalog", catalog,
            "--out", str(out), *extra]


@pytest.fixture(scope="module")
def small_chunks(tmp_path_factory) -> Path:
    """6.6.1 in 128-px chunks: 6 spatial blocks a period, so a kill lands between blocks of one period too."""
    path = tmp_path_factory.mktemp("recipe") / "6.6.1.yaml"
    text = (ROOT / "recipes" / "6.6.1.yaml").read_text()
    assert "chunk: 1024" in text
    path.write_text(text.replace("chunk: 1024", "chunk: 128"))
    return path


def _product(out: Path, sdg: str) -> Path:
    (found,) = [p for p in (out / sdg).iterdir() if not p.name.startswith(".")]
    return found


def _checksums(product: Path) -> tuple[dict, str]:
    item = json.loads((product / "item.json").read_text())
    return item["properties"]["sdgcube:array_checksums"], (product / "table.csv").read_text()


def _kill_after(command: list[str], out: Path, sdg: str, blocks: int) -> int:
    """Start ``command``, SIGKILL it once ``blocks`` finished blocks are saved; the number saved then."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                             env={**os.environ, "DASK_NUM_WORKERS": "1"})
    deadline = time.monotonic() + 180
    saved: set[str] = set()
    while child.poll() is None and time.monotonic() < deadline:
        saved = set().union(*(checkpoints.completed(p / staging.BLOCKS) for p in out.glob(f"{sdg}/.*.partial")))
        if len(saved) >= blocks:
            break
        time.sleep(0.005)
    if child.poll() is not None:
        pytest.fail(f"the run ended before {blocks} blocks were saved; nothing to kill")
    child.send_signal(signal.SIGKILL)
    child.wait()
    (partial,) = out.glob(f"{sdg}/.*.partial")
    return len(checkpoints.completed(partial / staging.BLOCKS))


@pytest.fixture(scope="module")
def uninterrupted(demo_catalog, small_chunks, tmp_path_factory):
    """6.6.1 and 15.3.1 (exact quantiles: blocks saved before the product's own pass) run once, whole."""
    out = tmp_path_factory.mktemp("whole")
    found = {}
    for recipe, sdg in ((small_chunks, "6.6.1"), ("15.3.1.yaml", "15.3.1")):
        done = subprocess.run(_command(recipe, demo_catalog, out), capture_output=True, text=True, cwd=ROOT,
                              check=True)
        total = int(re.search(r"blocks: (\d+) computed\n", done.stderr).group(1))
        found[sdg] = (_checksums(_product(out, sdg)), total)
    return found


@pytest.mark.parametrize("sdg,seed", [("6.6.1", 1), ("6.6.1", 2), ("15.3.1", 3)])
def test_a_killed_run_resumes_byte_identical(uninterrupted, small_chunks, demo_catalog, tmp_path, sdg, seed):
    recipe = small_chunks if sdg == "6.6.1" else "15.3.1.yaml"
    (whole, total) = uninterrupted[sdg]
    out = tmp_path / "out"
    target = random.Random(seed).randrange(1, total)
    saved = _kill_after(_command(recipe, demo_catalog, out), out, sdg, target)
    assert target <= saved < total
    again = subprocess.run(_command(recipe, demo_catalog, out), capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert f"{saved} finished blocks of the killed run are reused" in again.stderr
    assert f"blocks: {total - saved} computed, {saved} reused from the killed run" in again.stderr
    assert _checksums(_product(out, sdg)) == whole
    assert [p.name for p in (out / sdg).iterdir() if p.name.startswith(".")] == []  # nothing left to resume


def test_another_recipe_keeps_a_killed_run_and_resume_requires_one(uninterrupted, demo_catalog, tmp_path):
    out = tmp_path / "out"
    saved = _kill_after(_command("15.3.1.yaml", demo_catalog, out), out, "15.3.1", 1)
    other = subprocess.run(_command("15.1.1.yaml", demo_catalog, out, "--no-progress", "--resume"),
                           capture_output=True, text=True, cwd=ROOT)
    assert other.returncode == 1 and "no killed run of this recipe and catalog to resume" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1
    other = subprocess.run(_command("15.1.1.yaml", demo_catalog, out, "--no-progress"), capture_output=True,
                           text=True, cwd=ROOT)
    assert other.returncode == 0 and "kept " in other.stderr  # named, not swept
    fresh = subprocess.run(_command("15.3.1.yaml", demo_catalog, out, "--no-progress", "--no-resume"),
                           capture_output=True, text=True, cwd=ROOT)
    assert fresh.returncode == 0 and "reused" not in fresh.stderr
    (partial,) = out.glob("15.3.1/.*.partial")  # --no-resume left the killed run for a later resume
    assert len(checkpoints.completed(partial / staging.BLOCKS)) == saved
    week_later = time.time() + staging.RESUME_KEEP_S + 1
    assert staging.sweep(out, now=week_later) == [partial]
