"""`import kernels` must pull in numpy and numba only."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import kernels

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("xarray", "dask", "pandas", "scipy")


def run_python(code):
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_adds_no_heavy_modules():
    # numba's own __init__ imports the top-level scipy package for a version
    # check when scipy is installed, so compare against a bare `import numba`.
    added = run_python(
        "import json, sys, numpy, numba\n"
        "before = set(sys.modules)\n"
        "import kernels\n"
        "print(json.dumps({'added': sorted(set(sys.modules) - before),"
        " 'present': sorted(m for m in %r if m in sys.modules)}))" % (HEAVY,)
    )
    heavy_added = [m for m in added["added"] if m.split(".")[0] in HEAVY]
    assert heavy_added == []
    assert not set(added["present"]) & {"xarray", "dask", "pandas"}


def test_kernels_work_with_heavy_modules_blocked():
    """With xarray, dask, pandas and scipy unimportable, every kernel still runs."""
    result = run_python(
        "import importlib.abc, json, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in %r:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import numpy as np, kernels\n"
        "a = np.full((1, 2, 2), 1500, np.uint16); s = np.array([1e-4]); o = np.array([-0.1])\n"
        "nd = np.empty((1, 2, 2), np.float32)\n"
        "kernels.normalized_difference(a, a + 500, s, o, s, o, 0, nd)\n"
        "w = np.empty((1, 2, 2), np.uint8); kernels.classify_water(nd, -0.5, w)\n"
        "y = np.empty((2, 2), np.uint8); kernels.yearly_water_class(w, 1, 0.5, y)\n"
        "m = np.empty((2, 2), np.uint8); kernels.mmu_filter(y // 3, np.ones((2, 2)), 2.0, True, m)\n"
        "areas = np.zeros(256); kernels.class_area_sums(y, np.ones((2, 2)), areas)\n"
        "print(json.dumps({'heavy': sorted(m for m in sys.modules if m.split('.')[0] in %r),"
        " 'nd': float(nd[0, 0, 0]), 'y': int(y[0, 0]), 'm': int(m[0, 0]), 'area3': float(areas[3])}))"
        % (HEAVY, HEAVY)
    )
    assert result["heavy"] == []
    assert np.isclose(result["nd"], (0.05 - 0.1) / 0.15)
    assert (result["y"], result["m"], result["area3"]) == (3, 1, 4.0)


def test_all_exports():
    """Every public kernel and constant of every kernels module is exported, and nothing else."""
    import importlib
    import pkgutil

    public = set()
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"kernels.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", module.__name__) != module.__name__:
                continue
            if hasattr(value, "py_func") or (name.isupper() and isinstance(value, int)):
                public.add(name)
    assert public and sorted(kernels.__all__) == sorted(public)
    for name in kernels.__all__:
        assert getattr(kernels, name) is not None
