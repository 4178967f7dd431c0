"""A quicklook PNG: the last year's map with a legend, beside the headline series."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

MAX_PIXELS = 1200  # longest side drawn; larger layers are strided (a quicklook, not a product)


def draw(ds: xr.Dataset, legend, table: pd.DataFrame, series: tuple[str, ...], title: str, path: Path) -> None:
    layer = ds[legend.layer].isel(time=-1)
    step = max(1, int(np.ceil(max(layer.shape) / MAX_PIXELS)))
    data = np.asarray(layer[::step, ::step].values)
    values = sorted(legend.classes)
    cmap = ListedColormap([legend.classes[v][1] for v in values] + ["#ffffff"])
    bounds = [v - 0.5 for v in values] + [values[-1] + 0.5, 255.5]
    norm = BoundaryNorm(bounds, cmap.N)
    x, y = layer.x.values[::step], layer.y.values[::step]
    fig, (ax_map, ax_ts) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1.3, 1]})
    ax_map.imshow(np.where(data == 255, 255, data), cmap=cmap, norm=norm, interpolation="nearest",
                  extent=(x[0], x[-1], y[-1], y[0]))
    ax_map.set_title(f"{legend.layer} {int(ds.year.values[-1])}")
    ax_map.ticklabel_format(useOffset=False, style="plain")
    crs = ds.spatial_ref.attrs.get("crs_wkt", "")
    ax_map.set_xlabel(f"x ({_crs_name(ds)})" if crs else "x")
    ax_map.set_ylabel("y")
    ax_map.legend(handles=[Patch(facecolor=legend.classes[v][1], edgecolor="0.3", label=legend.classes[v][0])
                           for v in values] + [Patch(facecolor="white", edgecolor="0.3", label="outside AOI / no data")],
                  loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8, frameon=False)
    for name in series:
        rows = table[(table.series == name) & (table.start_year == table.end_year)].sort_values("start_year")
        if len(rows):
            ax_ts.plot(rows.start_year, rows.value, marker="o", label=f"{name} ({rows.unit.iloc[0]})")
    ax_ts.set_xlabel("year")
    ax_ts.grid(alpha=0.3)
    ax_ts.legend(fontsize=8)
    ax_ts.set_title("indicator series")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _crs_name(ds: xr.Dataset) -> str:
    from pyproj import CRS

    return CRS.from_wkt(ds.spatial_ref.attrs["crs_wkt"]).name
