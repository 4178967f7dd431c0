"""The run says how big it is before it starts, and refuses what cannot fit, with the numbers and the fix."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.guard import RunTooLarge
from pipeline.recipe import RecipeError, recipe_from_text
from pipeline.run import run

ROOT = Path(__file__).parents[1]
TEXT = (ROOT / "recipes" / "15.1.1.yaml").read_text()


def test_a_resolution_in_the_wrong_unit_is_refused_before_any_search(tmp_path):
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(TEXT.replace("resolution: 10 ", "resolution: 0.001 "))
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pipeline", "run", str(recipe_file), "--catalog",
                           str(tmp_path / "no-catalog-needed"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT)
    assert time.monotonic() - start < 60
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 1 and len(errors) == 1 and done.stderr.strip().endswith(errors[0]), done.stderr
    assert "Traceback" not in done.stderr
    assert "22,560,531 blocks" in done.stderr and "grid.max_blocks = 250,000" in done.stderr
    assert "check grid.resolution (0.001 metre" in done.stderr
    assert not (tmp_path / "out").exists()


def test_memory_beyond_the_limit_is_refused_with_the_numbers(demo_catalog, tmp_path):
    text = TEXT.replace("chunk: 1024", "chunk: 1024\n  max_memory_gib: 0.001")
    with pytest.raises(RunTooLarge, match=r"tasks at once would hold ~\d+ MiB .* above the limit of 1 MiB; lower "
                                          r"grid\.chunk"):
        run(recipe_from_text(text, source="r.yaml"), catalog=demo_catalog, out=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_the_run_states_its_size_before_computing(demo_catalog, tmp_path, capsys):
    run(recipe_from_text(TEXT, source="r.yaml"), catalog=demo_catalog, out=tmp_path, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("grid CRS: EPSG:32721 (auto: UTM zone 21S")
    assert lines[1].startswith("grid ") and " px (" in lines[1] and " tasks, up to " in lines[1]


@pytest.mark.parametrize(("key", "value"), [("max_blocks", 0), ("max_memory_gib", -1), ("max_memory_gib", ".nan")])
def test_limits_are_validated(key, value):
    with pytest.raises(RecipeError, match=key):
        recipe_from_text(TEXT.replace("chunk: 1024", f"chunk: 1024\n  {key}: {value}"), source="r.yaml")


def test_a_pixel_larger_than_the_aoi_is_refused(tmp_path):
    text = TEXT.replace("resolution: 10 ", "resolution: 1e9 ")  # YAML 1.1 reads 1e9 as a string: still a number
    with pytest.raises(RunTooLarge, match=r"grid\.resolution 1e\+09 metre is larger than the AOI itself"):
        run(recipe_from_text(text, source="r.yaml"), catalog=str(tmp_path), out=tmp_path, progress=False)


def test_tasks_grow_linearly_with_the_number_of_blocks(demo_catalog, tmp_path):
    """The footprint's task count at 1, 6 and 18 blocks of the same grid: a straight line, within 15 %."""
    import pandas as pd

    counts = {}
    for chunk, blocks in ((1024, 1), (256, 6), (128, 18)):
        recipe = recipe_from_text(TEXT.replace("chunk: 1024", f"chunk: {chunk}"), source="r.yaml")
        result = run(recipe, catalog=demo_catalog, out=tmp_path / str(chunk), progress=False)
        counts[blocks] = pd.read_csv(result.path / "footprint.csv").set_index("quantity").value["tasks"]
    per_block = (counts[6] - counts[1]) / 5
    predicted = counts[1] + per_block * 17
    assert counts[18] == pytest.approx(predicted, rel=0.15), counts
