"""``report.html``: one self-contained page a person reads to judge a product.

Self-contained means it makes no request at all when opened: CSS is inline, the chart
is inline SVG, maps are PNG ``data:`` URIs, there are no fonts, scripts or links to
fetch. So it can be mailed, archived next to the product and opened offline, and
opening it reveals nothing to any server. Every piece of text is HTML-escaped: recipe
titles, item ids and notes come from users and catalogs.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable, Mapping, Sequence, Set
from html import escape
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath

from pipeline import quicklook
from pipeline.footprint import Footprint
from pipeline.tables import ALL, OUTSIDE_ZONES
from pipeline.zones import Zones

REPORT = "report.html"
MAP_DPI = 80
# series name suffixes that hold the bounds of an interval of another series
INTERVAL_SUFFIXES = (("_ci_low", "_ci_high"), ("_ci_lower", "_ci_upper"), ("_lower", "_upper"), ("_low", "_high"))
# table columns that hold the bounds of each row's interval
INTERVAL_COLUMNS = (("ci_low", "ci_high"), ("ci_lower", "ci_upper"), ("lower", "upper"))
ACCURACY_WORDS = ("accuracy", "stderr", "standard_error", "kappa", "f1")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2733;
background:#f6f7f9;line-height:1.45}
main{max-width:1200px;margin:0 auto;padding:24px 32px 48px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}
h2{font-size:1.2em;margin:32px 0 8px;border-bottom:1px solid #d5dbe3;padding-bottom:4px}
.sub{color:#5a6878;margin:0 0 16px}.headline{font-size:1.15em;background:#eef5ee;border-left:4px solid #1b7837;
padding:10px 14px;margin:16px 0}
table{border-collapse:collapse;font-size:.88em;margin:8px 0}th,td{border:1px solid #d5dbe3;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:8px 0}figure img{max-width:100%;height:auto}figcaption{color:#5a6878;font-size:.85em}
pre{background:#f3f4f6;padding:8px;overflow-x:auto;font-size:.85em}details{margin:6px 0}
summary{cursor:pointer;font-weight:600}.muted{color:#5a6878}.chart svg{max-width:100%;height:auto}
"""


def write(directory: Path, *, ds: xr.Dataset, plan, table: pd.DataFrame, item: Mapping[str, Any], recipe,
          headline: str, footprint: Footprint | None = None, zones: Zones | None = None) -> Path:
    """Render the report of a product into ``directory`` (the partial directory of a run)."""
    props = item.get("properties", {})
    indicators = table[table.zone == ALL]
    years = [int(table.start_year.min()), int(table.end_year.max())]
    title = f"SDG {recipe.sdg}: {recipe.title}"
    parts = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{escape(str(props.get("description", "")))} &middot; AOI {escape(recipe.aoi.name)} '
        f"&middot; {years[0]}&ndash;{years[-1]} &middot; run {escape(str(item.get('id', '')))}</p>",
        f'<p class="headline">{escape(headline)}</p>',
        _trend_section(indicators, plan.series),
        _maps_section(ds, plan.legend),
        _zones_section(table, zones, plan.map_series, recipe.aoi.shape()),
        _intervals_section(indicators),
        _table_section(indicators),
        _footprint_section(footprint),
        _provenance_section(props.get("sdgcube:provenance", {}), item),
    ]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
            + "\n".join(p for p in parts if p) + "\n</main></body></html>\n")
    path = Path(directory) / REPORT
    path.write_text(page, encoding="utf-8")
    return path


# --- sections -------------------------------------------------------------------------------------------

def _trend_section(table: pd.DataFrame, series: Sequence[str]) -> str:
    if not series:
        return ""
    fig, ax = plt.subplots(figsize=(9, 4))
    drawn = quicklook.draw_series(ax, table, series)
    for name in series:  # interval bands where the table has them
        band = _intervals(table[table.series.str.startswith(name)])
        band = band[(band.series == name) & (band.start_year == band.end_year)].sort_values("start_year")
        if len(band):
            ax.fill_between(band.start_year, band.low, band.high, alpha=0.2, label=f"{name} interval")
            ax.legend(fontsize=8)
    ax.set_title("")
    quicklook.tight_layout(fig)
    chart = _svg(fig)
    if not drawn:
        return ""  # none of the series has values: nothing to chart
    rows = table[table.series.isin(series)]
    per = "yearly values" if (rows.start_year == rows.end_year).all() else "values per period"
    return (f"<h2>Indicator trend</h2><figure class=\"chart\">{chart}<figcaption>{per} of "
            f"{escape(', '.join(series))}</figcaption></figure>")


def _first_and_last_with_data(layer: xr.DataArray, dim: str) -> list[int]:
    """Indices along ``dim`` of the first and last map holding any value (15.3.1's status has none at
    its baseline), read at the quicklook's stride."""
    fill = layer.attrs.get("_FillValue", layer.encoding.get("_FillValue"))
    step = max(1, int(np.ceil(max(layer.shape[-2:]) / quicklook.MAX_PIXELS)))
    found = []
    for i in range(layer.sizes[dim]):
        values = np.asarray(layer.isel({dim: i})[::step, ::step].values)
        valid = ~np.isnan(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
        if fill is not None and not np.isnan(fill):
            valid &= values != fill
        if valid.any():
            found.append(i)
    return sorted({found[0], found[-1]}) if found else []


def _maps_section(ds: xr.Dataset, legend) -> str:
    names = [legend.layer] + [n for n in ds.data_vars if n != legend.layer]
    figures = []
    for name in names:
        classes = quicklook.layer_classes(ds, name, legend)
        dim = quicklook.along(ds, name)
        if not classes or dim is None:  # the zone index is mapped by the choropleth
            continue
        times = _first_and_last_with_data(ds[name], dim)
        if not times:
            continue
        aspect = ds.sizes["y"] / ds.sizes["x"]
        fig, axes = plt.subplots(1, len(times), figsize=(6.2 * len(times), 4.8 * min(max(aspect, 0.4), 2) + 1.7),
                                 squeeze=False)
        drawn: dict = {}
        for ax, t in zip(axes[0], times, strict=True):
            drawn.update(quicklook.draw_map(ax, ds, name, classes, time_index=t))
        handles = [Patch(facecolor=c, edgecolor="0.3", label=label) for label, c in drawn.values()]
        ncol = min(4, len(handles))
        legend_inches = 0.25 * -(-len(handles) // ncol) + 0.15  # rows of the legend under the maps
        quicklook.tight_layout(fig, rect=(0, legend_inches / fig.get_figheight(), 1, 1))
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=9, frameon=False)
        long_name = str(ds[name].attrs.get("long_name", name))
        caption = (f"first and last {'year' if dim == 'time' else 'period'}" if len(times) > 1
                   else f"the only {'year' if dim == 'time' else 'period'}")
        figures.append(f"<figure><img alt=\"map of {escape(name)}\" src=\"{_png_data_uri(fig)}\">"
                       f"<figcaption>{escape(name)}: {escape(long_name)} ({caption})</figcaption></figure>")
    return "<h2>Maps</h2>" + "".join(figures) if figures else ""


def _zones_section(table: pd.DataFrame, zones: Zones | None, series: str | None, aoi: Any = None) -> str:
    """Per-zone values of the headline series (periods across) and a choropleth of its last period."""
    if zones is None or series is None:
        return ""
    rows = table[table.series == series]
    if not len(rows):
        return ""
    spans = rows.drop_duplicates("period").sort_values(["end_year", "start_year"], kind="stable")
    periods = [str(p) for p in spans.period]  # years, or named periods (15.3.1's baseline, 2016-2019, ...)
    unit = rows.unit.iloc[0]
    order = [ALL, *zones.ids, OUTSIDE_ZONES]
    body = []
    for zone in order:
        part = rows[rows.zone == zone]
        if len(part):
            values = dict(zip(part.period.astype(str), part.value, strict=True))
            body.append([zone, part.zone_name.iloc[0]] + [_number(values.get(p)) for p in periods])
    html = (f"<h2>Per zone</h2><p class=\"muted\">{escape(series)} ({escape(unit)}) per zone of "
            f"{escape(zones.source)}; zone membership by pixel centre, so the zones and the remainder outside "
            "them add up to the AOI.</p>")
    html += _html_table(["zone", "name", *map(str, periods)], body, numeric=set(range(2, 2 + len(periods))))
    latest = dict(zip(*(rows[rows.period.astype(str) == periods[-1]][c] for c in ("zone", "value")), strict=True))
    shade = np.array([latest.get(z, np.nan) for z in zones.ids], dtype=float)
    return html + _choropleth(zones, shade, series, unit, periods[-1], aoi)


def _choropleth(zones: Zones, shade: np.ndarray, series: str, unit: str, period: Any, aoi: Any) -> str:
    """Zones clipped to the AOI, coloured by ``shade``; the AOI outline and the part in no zone shown too."""
    from odc.geo.geom import Geometry

    outline = Geometry(aoi, crs="EPSG:4326").to_crs(zones.crs).geom if aoi is not None else None
    x0, y0, x1, y1 = outline.bounds if outline is not None else shapely.union_all(zones.geometries).bounds
    aspect = (y1 - y0) / max(x1 - x0, 1e-9)
    fig, ax = plt.subplots(figsize=(8, min(max(6.5 * aspect, 3.0), 9.0) + 0.8))
    finite = shade[np.isfinite(shade)]
    norm = matplotlib.colors.Normalize(vmin=float(finite.min()) if finite.size else 0.0,
                                       vmax=float(finite.max()) if finite.size else 1.0)
    cmap = plt.get_cmap("viridis")

    def fill(geom: Any, **style: Any) -> None:
        """Polygons with their holes (a compound path), so what lies under a hole shows through."""
        for poly in getattr(geom, "geoms", [geom]):
            if poly.geom_type != "Polygon" or poly.is_empty:
                continue
            rings = [np.asarray(poly.exterior.coords), *(np.asarray(r.coords) for r in poly.interiors)]
            codes = np.concatenate([[MplPath.MOVETO] + [MplPath.LINETO] * (len(r) - 2) + [MplPath.CLOSEPOLY]
                                    for r in rings])
            ax.add_patch(PathPatch(MplPath(np.concatenate(rings), codes), **style))

    if outline is not None:
        fill(outline, facecolor="#eeeeee", edgecolor="none", hatch="//")
    for geom, value, zone in zip(zones.geometries, shade, zones.ids, strict=True):
        part = geom.intersection(outline) if outline is not None else geom
        if part.is_empty:
            continue
        fill(part, facecolor=cmap(norm(value)) if np.isfinite(value) else "#dddddd", edgecolor="0.2",
             linewidth=0.8)
        point = part.representative_point()
        ax.annotate(zone, (point.x, point.y), ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.7, "linewidth": 0})
    if outline is not None:
        for poly in getattr(outline, "geoms", [outline]):
            ax.plot(*poly.exterior.xy, color="0.1", linewidth=1.2, linestyle="--")
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.8,
                 label=f"{series} ({unit})")
    pad = 0.02 * max(x1 - x0, y1 - y0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(axis="x", labelrotation=30)
    from pyproj import CRS

    ax.set_xlabel(f"x ({CRS.from_user_input(zones.crs).name})")
    ax.set_ylabel("y")
    ax.set_title(f"{series} per zone, {period}")
    quicklook.tight_layout(fig)
    return (f"<figure><img alt=\"choropleth of {escape(series)}\" src=\"{_png_data_uri(fig)}\">"
            f"<figcaption>{escape(series)} per zone, {period}, zones clipped to the AOI (dashed); hatched: AOI "
            "in no zone</figcaption></figure>")


def _table_section(table: pd.DataFrame) -> str:
    """Yearly series as one row per series (years across), then the multi-year rows as they are."""
    yearly = table[(table.start_year == table.end_year) & (table.period == table.start_year.astype(str))]
    html = "<h2>Indicator table</h2><p class=\"muted\">The whole AOI (zone <code>all</code>); per-zone rows are "
    html += "in table.csv and table.parquet.</p>"
    if len(yearly):
        years = sorted(yearly.start_year.unique())
        rows = []
        for name, group in yearly.groupby("series", sort=False):
            values = dict(zip(group.start_year, group.value, strict=True))
            rows.append([name, group.unit.iloc[0]] + [_number(values.get(y)) for y in years] + [group.note.iloc[0]])
        html += _html_table(["series", "unit", *map(str, years), "note"], rows,
                            numeric=set(range(2, 2 + len(years))))
    other = table.drop(yearly.index)
    if len(other):
        html += _html_table(["series", "period", "value", "unit", "note"],
                            [[r.series, r.period, _number(r.value), r.unit, r.note] for r in other.itertuples()],
                            numeric={2})
    return html


def _intervals_section(table: pd.DataFrame) -> str:
    intervals = _intervals(table)
    accuracy = table[table.series.str.contains("|".join(ACCURACY_WORDS), case=False, regex=True)]
    if not len(intervals) and not len(accuracy):
        return ""  # this indicator reports no accuracy: say nothing rather than something empty
    html = "<h2>Accuracy and confidence intervals</h2>"
    if len(intervals):
        html += _html_table(["series", "period", "value", "interval", "unit"],
                            [[r.series, r.period, _number(r.value), f"[{_number(r.low)}, {_number(r.high)}]", r.unit]
                             for r in intervals.itertuples()], numeric={2, 3})
    if len(accuracy):
        html += _html_table(["series", "period", "value", "unit", "note"],
                            [[r.series, r.period, _number(r.value), r.unit, r.note] for r in accuracy.itertuples()],
                            numeric={2})
    return html


def _footprint_section(fp: Footprint | None) -> str:
    if fp is None:
        return ""
    per = fp.per_km2()
    km2 = f" ({_number(per['energy_j'])} J/km², {_number(per['co2e_g'])} gCO2e/km²)" if fp.aoi_km2 else ""
    rows = [
        ["wall time", f"{fp.wall_s:.2f} s"],
        ["CPU time (user + system, all threads)", f"{fp.cpu_s:.2f} s"],
        ["bytes read (files and network)", _bytes(fp.bytes_read)],
        ["bytes written", _bytes(fp.bytes_written)],
        ["product size", _bytes(fp.product_bytes)],
        ["peak memory during the run", _bytes(fp.peak_memory_bytes)],
        ["energy", f"{fp.energy_j:.1f} J ({fp.energy_j / 3600:.3g} Wh){km2}"],
        ["energy method", fp.energy_method],
        ["grid carbon intensity", f"{fp.grid_intensity_g_per_kwh:g} gCO2e/kWh"],
        ["CO2e", f"{fp.co2e_g:.3g} g"],
        ["AOI area (geodesic)", f"{fp.aoi_km2:.3f} km²" if fp.aoi_km2 else "unknown"],
    ]
    return ("<h2>Run footprint</h2><p class=\"muted\">Measured by the run itself, up to writing its STAC Item; "
            "energy and CO2e are estimates by the stated method.</p>" + _html_table(["quantity", "value"], rows))


def _sensors_html(name: str, record: Mapping[str, Any]) -> str:
    """Items per collection and, when harmonised, each sensor's fit and its source (as provenance holds them)."""
    html = []
    collections = record.get("collections") or {}
    if collections:
        html.append(f"<p>{escape(name)}: " + ", ".join(f"{escape(str(c))} ({n} items)" for c, n in collections.items())
                    + "</p>")
    harmonised = record.get("harmonisation") or {}
    rows = []
    for sensor, spec in (harmonised.get("sensors") or {}).items():
        for platform, bands in (spec.get("coefficients") or {}).items():
            fits = "; ".join(f"{b} {f.get('slope')} / {f.get('intercept')}" for b, f in bands.items())
            rows.append([str(sensor), str(platform), fits, str(spec.get("source", ""))[:160]])
    if rows:
        html.append(f"<p>{escape(name)} harmonised to {escape(str(harmonised.get('target', '')).upper())}: "
                    f"{escape(str(harmonised.get('formula', '')))}</p>")
        html.append(_html_table(["sensor", "platform", "band slope / intercept", "source"], rows))
    return "".join(html)


def _provenance_section(prov: Mapping[str, Any], item: Mapping[str, Any]) -> str:
    html = ["<h2>Provenance</h2>"]
    inputs = prov.get("inputs", {}) or {}
    rows = []
    for name, record in inputs.items():
        items = record.get("items", [])
        rows.append([name, record.get("catalog", ""), str(len(items)),
                     f"{items[0]['datetime'][:10]} – {items[-1]['datetime'][:10]}" if items else ""])
    if rows:
        html.append(_html_table(["input", "catalog", "items", "dates"], rows, numeric={2}))
    for name, record in inputs.items():
        ids = "".join(f"<li>{escape(str(i.get('id', '')))} <span class=\"muted\">{escape(str(i.get('datetime', '')))}"
                      "</span></li>" for i in record.get("items", []))
        html.append(f"<details><summary>{escape(name)}: {len(record.get('items', []))} input items</summary>"
                    f"<ul>{ids}</ul></details>")
    for name, record in inputs.items():
        html.append(_sensors_html(name, record))
    recipe = prov.get("recipe", {}) or {}
    html.append(_html_table(None, [
        ["recipe", str(recipe.get("path", ""))],
        ["recipe sha256", str(recipe.get("sha256", ""))],
        ["started", str(prov.get("started", ""))],
        ["finished", str(prov.get("finished", ""))],
        ["STAC item", str(item.get("id", ""))],
    ]))
    html.append(f"<details><summary>recipe text</summary><pre>{escape(str(recipe.get('text', '')))}</pre></details>")
    for title, mapping in (("software versions", prov.get("software")), ("host", prov.get("host"))):
        if mapping:
            html.append(f"<details><summary>{escape(title)}</summary>"
                        + _html_table(None, [[k, _plain(v)] for k, v in mapping.items()]) + "</details>")
    warnings = prov.get("warnings") or []
    if warnings:
        html.append("<details open><summary>warnings</summary><ul>" + "".join(
            f"<li>{escape(str(w.get('message', w) if isinstance(w, Mapping) else w))}</li>" for w in warnings)
            + "</ul></details>")
    return "".join(html)


# --- helpers ----------------------------------------------------------------------------------------------

def _intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Rows with an interval: ``series, period, start_year, end_year, value, low, high, unit``.

    From interval columns (``ci_low``/``ci_high`` ...) or from bound series
    (``<series>_ci_low``/``<series>_ci_high`` ... of the same period); empty if none.
    """
    out = pd.DataFrame(columns=["series", "period", "start_year", "end_year", "value", "low", "high", "unit"])
    for low, high in INTERVAL_COLUMNS:
        if {low, high} <= set(table.columns):
            hit = table[table[low].notna() & table[high].notna()]
            if len(hit):
                return hit.rename(columns={low: "low", high: "high"})[out.columns].reset_index(drop=True)
    found = []
    names = set(table.series)
    for low_suffix, high_suffix in INTERVAL_SUFFIXES:
        for name in sorted(n for n in names if n.endswith(low_suffix)):
            base = name[: -len(low_suffix)]
            if base + high_suffix not in names or base not in names:
                continue
            merged = (table[table.series == base]
                      .merge(table[table.series == name][["period", "value"]].rename(columns={"value": "low"}),
                             on="period")
                      .merge(table[table.series == base + high_suffix][["period", "value"]]
                             .rename(columns={"value": "high"}), on="period"))
            found.append(merged[out.columns])
        if found:
            break  # "_ci_low" series also end with "_low": the first matching convention wins
    return pd.concat(found, ignore_index=True) if found else out


def _html_table(header: Sequence[str] | None, rows: Iterable[Sequence[Any]], numeric: Set[int] = frozenset()) -> str:
    """An escaped HTML table; ``numeric`` columns align right; no header row when ``header`` is None."""
    head = "<tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in header) + "</tr>" if header else ""
    def cell(i: int, c: Any) -> str:
        return f'<td class="num">{escape(str(c))}</td>' if i in numeric else f"<td>{escape(str(c))}</td>"

    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"


def _number(value: Any) -> str:
    try:
        v = float("nan") if value is None else float(value)
    except (TypeError, ValueError):
        return str(value)
    return "–" if not np.isfinite(v) else f"{v:,.6g}" if abs(v) < 1e6 else f"{v:,.0f}"


def _bytes(n: int | None) -> str:
    if n is None:
        return "not measured on this host"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit} ({n:,} B)"
    return f"{n} B"


def _plain(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _png_data_uri(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=MAP_DPI)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _svg(fig) -> str:
    """The figure as an inline <svg> element: no XML prolog, DOCTYPE or RDF metadata (which name URLs)."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path"}):  # glyphs as paths: no font to fetch
        fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    return re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
