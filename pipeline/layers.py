"""Wrap lazy (year, y, x) arrays as CF-described layers on the recipe's grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords


def yearly_layer(data: da.Array, years: Sequence[int], geobox: GeoBox, *, long_name: str,
                 classes: Mapping[int, str], fill_value: int, extra: Mapping | None = None,
                 colours: Mapping[int, str] | None = None) -> xr.DataArray:
    """A categorical (time, y, x) layer with CF flag attributes and its fill value.

    ``colours`` (hex per class) become ``flag_colors``, as ESA CCI land cover writes them,
    so maps of the layer use the classes' own palette anywhere it is opened.
    """
    coords = dict(xr_coords(geobox, crs_coord_name="spatial_ref"))
    coords["time"] = ("time", pd.to_datetime([f"{y}-01-01" for y in years]).values,
                      {"long_name": "start of the calendar year the layer describes", "standard_name": "time"})
    coords["year"] = ("time", np.asarray(years, dtype=np.int32), {"long_name": "calendar year"})
    values = np.array(sorted(classes), dtype=data.dtype)
    attrs = {
        "long_name": long_name,
        "flag_values": values,
        "flag_meanings": " ".join(classes[int(v)].replace(" ", "_") for v in values),
        "grid_mapping": "spatial_ref",
        **({"flag_colors": " ".join(colours[int(v)] for v in values)} if colours else {}),
        **(extra or {}),
    }
    layer = xr.DataArray(data, dims=("time", "y", "x"), coords=coords, attrs=attrs)
    layer.encoding["_FillValue"] = fill_value
    return layer

