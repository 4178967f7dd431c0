"""STAC items -> a lazy, masked cube on a target grid (odc-stac), with per-time scale/offset.

Digital numbers are kept as integers and the scale/offset of every time step is
attached as coordinates (``scale_<band>``, ``offset_<band>``). Applying them here in
float32 would lose the reflectance of dark targets to cancellation (S2 baseline
>= 04.00: DN x 0.0001 - 0.1); kernels apply them in float64. ``to_reflectance`` gives
a float view for exploration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import odc.stac
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from catalog.profiles import Profile


class AssetError(LookupError):
    """An item lacks an asset, or carries metadata the loader cannot use."""


@dataclass(frozen=True)
class Cube:
    """A lazy dataset and the items behind each of its time steps (for provenance)."""

    data: xr.Dataset
    items: tuple[pystac.Item, ...]
    profile: Profile


def load_cube(items: Sequence[pystac.Item], profile: Profile, bands: Sequence[str], geobox: GeoBox,
              chunk: int = 1024) -> Cube:
    """Load ``bands`` (common names) of ``items`` onto ``geobox``, lazily, masked by the profile."""
    bands = [b for b in bands if not (profile.mask and b == profile.mask.band)]
    wanted = list(dict.fromkeys(bands + ([profile.mask.band] if profile.mask else [])))
    assets = {band: profile.asset(band) for band in wanted}
    for item in items:
        for band, key in assets.items():
            if key not in item.assets:
                raise AssetError(f"asset {key!r} (band {band!r}) missing in item {item.id}: add it to the "
                                 f"collection profile {profile.source} or drop the band from the recipe")
    resampling = {key: _resampling(band, key, items[0], profile, geobox) for band, key in assets.items()}
    ds = odc.stac.load(
        items,
        bands=list(assets.values()),
        geobox=geobox,
        chunks={"x": chunk, "y": chunk},
        groupby=profile.groupby,
        resampling=resampling,
        fail_on_error=True,
    )
    ds = ds.rename({key: band for band, key in assets.items() if key != band})
    groups = _group_items(items, ds.time.values, profile.groupby)
    for band in bands:
        if band in profile.categorical:
            continue
        scale, offset = _scale_offset(groups, assets[band])
        ds = ds.assign_coords({f"scale_{band}": ("time", scale), f"offset_{band}": ("time", offset)})
    if profile.mask:
        ds = _apply_mask(ds, profile, bands)
    return Cube(data=ds, items=tuple(items), profile=profile)


def _apply_mask(ds: xr.Dataset, profile: Profile, bands: Sequence[str]) -> xr.Dataset:
    """Set every band to its nodata where the mask band says the pixel is unusable."""
    rule = profile.mask
    bad = ds[rule.band].isin(list(rule.invalid))
    out = ds.drop_vars(rule.band)
    for band in bands:
        nodata = ds[band].attrs.get("nodata", profile.nodata)
        out[band] = ds[band].where(~bad, ds[band].dtype.type(nodata)).assign_attrs(ds[band].attrs)
    return out


def _native_resolution(item: pystac.Item, key: str) -> float | None:
    """Pixel size of an asset in metres (degrees converted at the item's latitude)."""
    asset = item.assets[key]
    transform = asset.extra_fields.get("proj:transform") or item.properties.get("proj:transform")
    if not transform:
        return None
    size = abs(transform[0])
    code = asset.extra_fields.get("proj:code") or item.properties.get("proj:code")
    epsg = asset.extra_fields.get("proj:epsg") or item.properties.get("proj:epsg")
    if code == "EPSG:4326" or epsg == 4326:
        lat = (item.bbox[1] + item.bbox[3]) / 2 if item.bbox else 0.0
        size *= 111_320.0 * math.cos(math.radians(lat))
    return size


def _resampling(band: str, key: str, item: pystac.Item, profile: Profile, geobox: GeoBox) -> str:
    """Categorical: nearest, or mode when aggregating; continuous: nearest at the native
    resolution, average when aggregating, bilinear when refining."""
    native = _native_resolution(item, key)
    target = abs(geobox.resolution.x)
    if geobox.crs.geographic:
        target *= 111_320.0
    coarser = native is not None and target > 1.5 * native
    finer = native is not None and target < native / 1.5
    if band in profile.categorical:
        return "mode" if coarser else "nearest"
    return "average" if coarser else ("bilinear" if finer else "nearest")


def _solar_day(item: pystac.Item) -> str:
    start = item.datetime or item.common_metadata.start_datetime
    lon = (item.bbox[0] + item.bbox[2]) / 2 if item.bbox else 0.0
    return (start + timedelta(hours=lon / 15)).date().isoformat()


def _group_items(items: Sequence[pystac.Item], times: np.ndarray, groupby: str) -> list[list[pystac.Item]]:
    """Items behind each time step of an odc-stac load (same grouping rule)."""
    if groupby != "solar_day":
        raise AssetError(f"groupby {groupby!r} is not supported; use solar_day")
    by_day: dict[str, list[pystac.Item]] = {}
    for item in items:
        by_day.setdefault(_solar_day(item), []).append(item)
    days = sorted(by_day)
    if len(days) != len(times):
        raise AssetError(f"{len(times)} time steps loaded but {len(days)} solar days among the items")
    return [by_day[d] for d in days]


def _scale_offset(groups: list[list[pystac.Item]], key: str) -> tuple[np.ndarray, np.ndarray]:
    scale = np.ones(len(groups))
    offset = np.zeros(len(groups))
    for i, group in enumerate(groups):
        pairs = {_item_scale_offset(item, key) for item in group}
        if len(pairs) > 1:
            ids = ", ".join(item.id for item in group)
            raise AssetError(f"asset {key!r}: items {ids} share a date but differ in scale/offset {sorted(pairs)}; "
                             "load them as separate searches")
        scale[i], offset[i] = pairs.pop()
    return scale, offset


def _item_scale_offset(item: pystac.Item, key: str) -> tuple[float, float]:
    bands = item.assets[key].extra_fields.get("raster:bands") or [{}]
    return float(bands[0].get("scale", 1.0)), float(bands[0].get("offset", 0.0))


def to_reflectance(ds: xr.Dataset, band: str) -> xr.DataArray:
    """Scaled float64 values of ``band`` with nodata as NaN (for exploration and plots)."""
    dn = ds[band]
    nodata = dn.attrs.get("nodata", 0)
    scaled = dn.astype("float64") * ds[f"scale_{band}"] + ds[f"offset_{band}"]
    return scaled.where(dn != nodata)


def item_time(item: pystac.Item) -> datetime:
    value = item.datetime or item.common_metadata.start_datetime
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
