"""Imports flow pipeline -> catalog and pipeline -> kernels, never back."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FORBIDDEN = {"catalog": {"pipeline"}, "kernels": {"pipeline", "catalog", "xarray", "dask", "pandas", "odc"}}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        bad = imported_roots(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_kernels_import_only_numpy_and_numba():
    for path in sorted((ROOT / "kernels").rglob("*.py")):
        assert imported_roots(path) <= {"numpy", "numba", "kernels", "__future__", "math"}, path
