"""One base class for the failures a user can fix; anything else is a bug and is shown as one."""

import subprocess
import sys
from pathlib import Path

import pytest

from catalog.errors import SdgcubeError
from catalog.files import RasterFileError
from catalog.load import AssetError, GridError
from catalog.profiles import ProfileError
from catalog.reliability import AssetReadError, RetryError
from catalog.samples.build import SamplesError
from catalog.search import CatalogNotFound, NoItemsFound
from catalog.stac_server import StacServerError
from pipeline import cli
from pipeline.indicators import DataError
from pipeline.product import OutputError, ProductExistsError
from pipeline.publish import PublishError
from pipeline.schema import RecipeError
from pipeline.zones import ZonesError

ROOT = Path(__file__).parents[1]
USER_FACING = (RasterFileError, AssetError, GridError, ProfileError, AssetReadError, RetryError, SamplesError,
               CatalogNotFound, NoItemsFound, StacServerError, DataError, OutputError, ProductExistsError,
               PublishError, RecipeError, ZonesError)


@pytest.mark.parametrize("error", USER_FACING, ids=lambda e: e.__name__)
def test_every_user_facing_error_is_an_sdgcube_error(error):
    assert issubclass(error, SdgcubeError)


def test_the_hint_follows_the_message():
    assert str(SdgcubeError("grid.crs is unknown", hint="use e.g. EPSG:32721")) == \
        "grid.crs is unknown; use e.g. EPSG:32721"


def test_a_bug_is_a_traceback_with_a_report_line_never_a_tidy_error(monkeypatch, capsys):
    import pipeline.run

    def broken(*args, **kwargs):
        return {}["a key an indicator forgot"]  # a KeyError is a LookupError: it used to print as "error: ..."

    monkeypatch.setattr(pipeline.run, "run", broken)
    code = cli.main(["run", str(ROOT / "recipes" / "15.1.1.yaml"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 70
    assert "Traceback (most recent call last)" in err and "KeyError" in err and cli.BUG_REPORT in err
    assert not err.startswith("error:")


@pytest.mark.parametrize("out", ["a-file", "/proc/sdgcube-out"])  # /proc: not writable, even by root
def test_an_output_root_that_cannot_hold_products_is_one_line(demo_catalog, tmp_path, out):
    target = tmp_path / out
    if out == "a-file":
        target.write_text("not a folder")
    before = sorted(tmp_path.rglob("*"))
    done = subprocess.run([sys.executable, "-m", "pipeline", "run", str(ROOT / "recipes" / "11.3.1.yaml"),
                           "--catalog", demo_catalog, "--out", str(target), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: cannot write a product under") and "give --out a writable folder" in lines[0]
    assert sorted(tmp_path.rglob("*")) == before


def test_ctrl_c_while_starting_is_a_clean_exit(demo_catalog, tmp_path):
    """SIGINT while the stack imports: exit 130 and one line, no traceback. (``--catalog``: a fresh clone's run
    without it would first build the embedded demo, which is not what this test times.)"""
    import signal
    import time

    child = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(ROOT / "recipes" / "15.1.1.yaml"),
                              "--catalog", demo_catalog, "--out", str(tmp_path / "out")], stderr=subprocess.PIPE,
                             text=True, cwd=ROOT,  # as from a terminal: a background job (cmd &) ignores SIGINT
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.3)  # well inside the imports (about 2 s here)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130 and "Traceback" not in err, err
    assert err.strip().startswith("interrupted")
    assert not (tmp_path / "out").exists()


def test_a_full_disk_while_writing_is_one_line_and_leaves_nothing(demo_catalog, tmp_path, monkeypatch, capsys):
    import errno

    import pipeline.product

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline.product, "compute_and_write", full)
    code = cli.main(["run", str(ROOT / "recipes" / "11.3.1.yaml"), "--catalog", demo_catalog, "--out",
                     str(tmp_path / "out"), "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "No space left on device (nothing was kept); free space" in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


def test_a_read_only_home_works_quietly(demo_catalog, tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"} | {"HOME": "/proc/sdgcube-no-home"}
    done = subprocess.run([sys.executable, "-m", "pipeline", "run", str(ROOT / "recipes" / "11.3.1.yaml"),
                           "--catalog", demo_catalog, "--out", str(tmp_path / "out"), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if not line.startswith("footprint:")] == []
