"""A quicklook PNG: the last year's map with a legend, beside the headline series.

The drawing helpers (``draw_map``, ``draw_series``, ``layer_classes``) are shared with
the HTML report (``pipeline.report``), so a map looks the same in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from pipeline.tables import ALL

MAX_PIXELS = 1200  # longest side drawn; larger layers are strided (a quicklook, not a product)
NODATA_COLOUR = "#ffffff"
NODATA_LABEL = "outside AOI / no data"
PALETTE = "tab20"  # colours of a layer the Plan's Legend does not describe

Classes = Mapping[int, tuple[str, str]]  # value -> (label, colour), like Legend.classes


def draw(ds: xr.Dataset, legend, table: pd.DataFrame, series: tuple[str, ...], title: str, path: Path) -> None:
    fig, (ax_map, ax_ts) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1.3, 1]})
    classes = draw_map(ax_map, ds, legend.layer, legend.classes, time_index=-1)
    map_legend(ax_map, classes)
    draw_series(ax_ts, table[table.zone == ALL] if "zone" in table else table, series)
    fig.suptitle(title)
    tight_layout(fig)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def tight_layout(fig, **kwargs) -> None:
    """``fig.tight_layout(**kwargs)``, once: the figure keeps no layout engine afterwards.

    ``Figure.tight_layout`` leaves a placeholder engine on the figure, and ``savefig`` then
    draws the whole figure one extra time (for an engine that does nothing) before the
    draw it renders: a third of a quicklook's cost. Without an engine the saved image is
    the same, drawn once. Left alone when rcParams ask for an automatic layout.
    """
    fig.tight_layout(**kwargs)
    if not (matplotlib.rcParams["figure.autolayout"] or matplotlib.rcParams["figure.constrained_layout.use"]):
        fig.set_layout_engine(None)


def layer_classes(ds: xr.Dataset, name: str, legend=None) -> dict[int, tuple[str, str]]:
    """Classes of a layer: the Plan's Legend where it describes the layer, else CF flags
    (with ``flag_colors`` where the layer has them)."""
    if legend is not None and legend.layer == name:
        return dict(legend.classes)
    attrs = ds[name].attrs
    values = [int(v) for v in np.atleast_1d(attrs.get("flag_values", []))]
    meanings = str(attrs.get("flag_meanings", "")).split()
    colours = str(attrs.get("flag_colors", "")).split()
    if len(colours) != len(values):  # no palette of its own: a qualitative one
        colours = [matplotlib.colors.to_hex(plt.get_cmap(PALETTE)(i % 20)) for i in range(len(values))]
    return {v: (meanings[i].replace("_", " ") if i < len(meanings) else str(v), colours[i])
            for i, v in enumerate(values)}


def along(ds: xr.Dataset, name: str) -> str | None:
    """The layer's time-like dimension: ``time`` (yearly), ``period`` (spans of years) or None."""
    return next((d for d in ("time", "period") if d in ds[name].dims), None)


def draw_map(ax: Axes, ds: xr.Dataset, name: str, classes: Classes, *, time_index: int = -1) -> dict:
    """Draw one year (or period) of a categorical layer; returns the classes drawn (with no data if any)."""
    dim = along(ds, name)
    layer = ds[name].isel({dim: time_index}) if dim else ds[name]
    step = max(1, int(np.ceil(max(layer.shape) / MAX_PIXELS)))
    data = np.asarray(layer[::step, ::step].values)
    values = sorted(classes)
    index = np.full(data.shape, len(values), dtype=np.int16)  # anything unlisted: no data
    for i, v in enumerate(values):
        index[data == v] = i
    cmap = ListedColormap([classes[v][1] for v in values] + [NODATA_COLOUR])
    x, y = layer.x.values[::step], layer.y.values[::step]
    ax.imshow(index, cmap=cmap, vmin=-0.5, vmax=len(values) + 0.5, interpolation="nearest",
              extent=(x[0], x[-1], y[-1], y[0]))
    when = {"time": lambda: int(ds.year.values[time_index]), "period": lambda: ds.period.values[time_index]}
    ax.set_title(f"{name} {when[dim]()}" if dim else name)
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.set_xlabel(f"x ({_crs_name(ds)})" if ds.spatial_ref.attrs.get("crs_wkt") else "x")
    ax.set_ylabel("y")
    drawn: dict[int | None, tuple[str, str]] = {v: classes[v] for v in values}
    if (index == len(values)).any():
        drawn[None] = (NODATA_LABEL, NODATA_COLOUR)
    return drawn


def map_legend(ax: Axes, classes: Mapping, *, ncol: int = 3) -> None:
    """Class legend under a map."""
    handles = [Patch(facecolor=colour, edgecolor="0.3", label=label) for label, colour in classes.values()]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=ncol, fontsize=8,
              frameon=False)


def draw_series(ax: Axes, table: pd.DataFrame, series: Sequence[str]) -> int:
    """Yearly values of ``series`` as lines (values of longer periods as bars); returns how many had values."""
    drawn = 0
    for name in series:
        rows = table[(table.series == name) & (table.start_year == table.end_year)].sort_values("start_year")
        if len(rows):
            ax.plot(rows.start_year, rows.value, marker="o", label=f"{name} ({rows.unit.iloc[0]})")
            drawn += 1
            continue
        rows = table[table.series == name]
        if len(rows):
            ax.bar([str(p) for p in rows.period], rows.value, label=f"{name} ({rows.unit.iloc[0]})",
                   color="#9b2779")
            drawn += 1
    ax.set_xlabel("year" if drawn and (table.start_year == table.end_year).any() else "period")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    ax.set_title("indicator series")
    return drawn


def _crs_name(ds: xr.Dataset) -> str:
    from pyproj import CRS

    return CRS.from_wkt(ds.spatial_ref.attrs["crs_wkt"]).name
