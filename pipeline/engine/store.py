"""The layers' Zarr write as plain ``dask.array.store`` arrays, computed with the statistics.

``Dataset.to_zarr(compute=False)`` wraps its store in a ``dask.delayed``, and turning an array
into a delayed argument optimises its graph on the spot: the block tasks are fused into the
store under new keys, while the statistics read them under their own. One compute then ran
every block twice (once per copy). Here xarray writes the metadata and the in-memory
variables, and each dask-backed layer is stored chunk by chunk into its Zarr array by
``dask.array.store``, whose graph keeps the block tasks' keys: the statistics and the write
share one task per block.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
import zarr


def zarr_write(layers: xr.Dataset, path: Path, encoding: Mapping[str, Any]) -> list[da.Array]:
    """Write ``layers``' metadata and eager variables to a new Zarr v3 store at ``path`` (consolidated),
    and return the lazy writes of its dask-backed variables (to compute with the statistics)."""
    lazy = [str(name) for name, var in layers.variables.items() if dask.is_dask_collection(var.data)]
    with warnings.catch_warnings():
        # consolidated metadata is a zarr-python extension to v3; it makes opening fast
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        layers.to_zarr(path, mode="w-", zarr_format=3, consolidated=True, compute=False, encoding=dict(encoding))
    group = zarr.open_group(path, mode="r+", zarr_format=3)
    writes = []
    for name in lazy:
        source, target = layers[name].data, group[name]
        assert isinstance(target, zarr.Array)
        if np.dtype(target.dtype) != source.dtype or target.shape != source.shape:
            # a CF encoding (scale, dtype) changes values: the raw chunks would not be what xarray writes
            raise TypeError(f"layer {name!r} is encoded as {target.dtype} {target.shape} from {source.dtype} "
                            f"{source.shape}; layers are written as they are, without a CF value encoding")
        if target.chunks != tuple(c[0] for c in source.chunks):
            raise ValueError(f"layer {name!r}: Zarr chunks {target.chunks} differ from its blocks "
                             f"{tuple(c[0] for c in source.chunks)}")
        target_: Any = target  # a zarr.Array takes numpy-style slice assignment, which is all store needs
        writes.append(da.store(source, target_, lock=False, compute=False, return_stored=False))
    return writes
