# %% [markdown]
# # Explore an sdgcube product
# Open the Zarr layers, plot the last year and the indicator series, compare two
# years, and read the provenance. Run `make indicator SDG=6.6.1` first; set
# `SDGCUBE_PRODUCT` to a product directory to open another one.
# (A jupytext "percent" script: open it in JupyterLab as a notebook, or run it with python.)

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import xarray as xr

products = sorted(Path("outputs").glob("*/*/item.json"))
product = Path(os.environ.get("SDGCUBE_PRODUCT") or (products[-1].parent if products else ""))
if not (product / "product.zarr").exists():
    raise SystemExit("no product found: run `make indicator SDG=6.6.1` or set SDGCUBE_PRODUCT")
print("product:", product)

# %% Layers: categorical uint8 with CF flags; keep the raw codes (mask_and_scale=False)
ds = xr.open_zarr(product / "product.zarr", mask_and_scale=False)
layer = next(name for name, var in ds.data_vars.items() if "time" in var.dims)  # a yearly layer (not the zone index)
print(ds[layer].attrs["long_name"])
print(dict(zip(list(ds[layer].attrs["flag_values"]), ds[layer].attrs["flag_meanings"].split())))

# %% The last year, outside-AOI pixels hidden
last = ds[layer].isel(time=-1)
last.where(last != ds[layer].attrs["_FillValue"]).plot.imshow(figsize=(8, 4), cmap="viridis")
plt.title(f"{layer} {int(last.year)}")

# %% Compare the first and last years: pixels whose class changed
first = ds[layer].isel(time=0)
changed = (first != last) & (first != 255) & (last != 255)
print(f"{int(changed.sum())} pixels changed class between {int(first.year)} and {int(last.year)}")

# %% The indicator table: one row per series, zone and period (zone "all" is the whole AOI)
table = pd.read_parquet(product / "table.parquet")
print("zones:", sorted(table.zone.unique()))
indicator = table[table.zone == "all"]
yearly = indicator[indicator.start_year == indicator.end_year]
series = yearly.pivot(index="start_year", columns="series", values="value")
print(series.round(3))
series[[c for c in series.columns if c.endswith(("_pct", "_area")) and "aoi" not in c]].plot(marker="o")
plt.ylabel("value (see the table's unit column)")

# %% Compare periods: baseline and reporting means, and the change between them
periods = indicator[indicator.start_year != indicator.end_year]
print(periods[["series", "period", "start_year", "end_year", "value", "unit"]].to_string(index=False))

# %% Provenance: what went in, with which software
item = json.loads((product / "item.json").read_text())
prov = item["properties"]["sdgcube:provenance"]
for name, record in prov["inputs"].items():
    print(name, len(record["items"]), "items from", record["catalog"])
print("recipe sha256:", prov["recipe"]["sha256"])
print({k: prov["software"][k] for k in ("sdgcube", "odc-stac", "numba", "zarr")})

# %% What the run cost: time, bytes, memory, energy and CO2e (also per km² of AOI)
print(pd.read_csv(product / "footprint.csv")[["quantity", "value", "unit"]].to_string(index=False))
