"""Wrap the engine's lazy arrays as CF-described layers on the recipe's grid.

Yearly layers keep ``time`` (start of the year) and ``year`` coordinates; layers of
longer periods get a ``period`` dimension with its first and last years; single
layers are (y, x). Categorical layers carry ``flag_values``/``flag_meanings`` (and
``flag_colors``, as ESA CCI land cover writes them, so maps use the classes' own
palette anywhere); continuous ones carry ``units`` and NaN as fill value.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

if TYPE_CHECKING:
    from pipeline.engine import Layer, Period


def product_layer(data: Any, periods: Sequence[Period] | None, geobox: GeoBox, layer: Layer) -> xr.DataArray:
    """The engine's ``layer_wrapper``: dims (time | period, y, x) or (y, x) with CF attributes."""
    coords = grid_coords(geobox)
    if periods is None:
        dims: tuple[str, ...] = ("y", "x")
    elif all(p.start == p.end and p.label == str(p.start) for p in periods):
        dims = ("time", "y", "x")
        years = [p.start for p in periods]
        coords["time"] = ("time", pd.to_datetime([f"{y}-01-01" for y in years]).values,
                          {"long_name": "start of the calendar year the layer describes", "standard_name": "time"})
        coords["year"] = ("time", np.asarray(years, dtype=np.int32), {"long_name": "calendar year"})
    else:
        dims = ("period", "y", "x")
        coords["period"] = ("period", np.array([p.label for p in periods], dtype=object),  # variable-length UTF-8
                            {"long_name": "period the layer describes"})
        coords["start_year"] = ("period", np.asarray([p.start for p in periods], np.int32))
        coords["end_year"] = ("period", np.asarray([p.end for p in periods], np.int32))
    attrs: dict[str, Any] = {"long_name": layer.long_name, "grid_mapping": "spatial_ref"}
    if layer.classes is not None:
        attrs.update(_flags(layer.classes, layer.colours, np.dtype(layer.dtype)))
    if layer.units is not None:
        attrs["units"] = layer.units
    attrs.update(layer.attrs)
    out = xr.DataArray(data, dims=dims, coords=coords, attrs=attrs)
    kind = np.dtype(layer.dtype).kind
    out.encoding["_FillValue"] = float(layer.fill_value) if kind == "f" else int(layer.fill_value)
    return out


def grid_coords(geobox: GeoBox) -> dict[Hashable, Any]:
    """The grid's coordinates, always on dims (y, x): a geographic grid's ``latitude``/``longitude``
    become ``y``/``x`` keeping their CF attributes (standard_name, units), so every layer,
    writer and map handles projected and geographic grids alike."""
    names = {"latitude": "y", "longitude": "x"}
    coords: dict[Hashable, Any] = {}
    for name, coord in xr_coords(geobox, crs_coord_name="spatial_ref").items():
        dim = names.get(str(name))
        coords[dim or name] = xr.Variable((dim,), coord.values, coord.attrs) if dim else coord
    return coords


def _flags(classes: Mapping[int, str], colours: Mapping[int, str] | None, dtype: np.dtype) -> dict[str, Any]:
    values = np.array(sorted(classes), dtype=dtype)
    return {
        "flag_values": values,
        "flag_meanings": " ".join(classes[int(v)].replace(" ", "_") for v in values),
        **({"flag_colors": " ".join(colours[int(v)] for v in values)} if colours else {}),
    }
