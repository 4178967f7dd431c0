"""The notebooks run top to bottom in a real Jupyter kernel on the demo catalog."""

from pathlib import Path

import jupytext
import pytest
import xarray as xr
from nbclient import NotebookClient

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


def execute(name: str, tmp_path: Path) -> list[str]:
    """Run a jupytext percent script as a notebook; return the text each cell printed."""
    notebook = jupytext.read(ROOT / "notebooks" / name)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return ["".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            for cell in notebook.cells if cell.cell_type == "code"]


def test_every_notebook_is_a_percent_script_with_code():
    assert [p.name for p in NOTEBOOKS] == ["explore_product.py", "run_recipe.py"]
    for path in NOTEBOOKS:
        notebook = jupytext.read(path)
        assert sum(c.cell_type == "code" for c in notebook.cells) >= 4, path.name
        assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code")


@pytest.fixture(scope="module")
def notebook_run(demo_catalog, tmp_path_factory):
    """`run_recipe` in a kernel; its product is what `explore_product` then opens."""
    tmp = tmp_path_factory.mktemp("notebooks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SDGCUBE_ROOT", str(ROOT))
        mp.setenv("SDGCUBE_OUT", str(tmp / "outputs"))
        mp.setenv("SDGCUBE_CATALOG", demo_catalog)
        printed = execute("run_recipe.py", tmp)
    products = list((tmp / "outputs" / "6.6.1").iterdir())
    return printed, products


def test_run_recipe_notebook_writes_a_product_with_the_changed_recipe(notebook_run):
    printed, products = notebook_run
    assert len(products) == 1 and (products[0] / "product.zarr").is_dir()
    assert "recipe recorded with the change: True" in "".join(printed)
    assert "water_threshold: 0.1" in (products[0] / "recipe.yaml").read_text()
    with xr.open_zarr(products[0] / "product.zarr", mask_and_scale=False) as ds:
        assert set(ds.water_class.attrs["flag_values"]) <= set(range(256))


def test_explore_notebook_opens_the_product(notebook_run, tmp_path, monkeypatch):
    _, products = notebook_run
    monkeypatch.setenv("SDGCUBE_PRODUCT", str(products[0]))
    printed = "".join(execute("explore_product.py", tmp_path))
    assert f"product: {products[0]}" in printed
    assert "recipe sha256:" in printed and "pixels changed class" in printed
