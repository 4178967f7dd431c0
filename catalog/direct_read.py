"""A raster read whose pixels are already the target grid's, done as one windowed read.

odc-loader reads each (band, date, chunk) by opening the file, planning a reprojection and, when
the grids line up, pasting a window. That planning and a second open per overview cost more than
the decode itself at the pipeline's chunk sizes. Here the same decision is taken on the grid
that is actually read, with one open:

- at native resolution, a paste exactly where odc-loader pastes (its tolerance, its window);
- from an overview (Sentinel-2 10 m green onto 20 m: the 2x overview), a paste when the
  overview's pixels are the target's. odc-loader decides this against the full-resolution grid,
  so it warps what is a 1:1 copy of the overview; the pixels are the same.

Anything else (a real reprojection, a band stack, an error) returns None, and odc-loader reads
as it would, reporting and handling what goes wrong.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import rasterio
import rasterio.errors
from odc.geo.converters import rio_geobox
from odc.geo.geobox import GeoBox
from odc.geo.overlap import compute_reproject_roi
from odc.geo.roi import roi_is_empty, roi_shape, w_
from odc.loader import resolve_dst_dtype, resolve_dst_nodata, resolve_src_nodata

from catalog.reliability import strip_token

OVERVIEW_TTOL = 0.05  # sub-pixel shift below which an overview counts as the target's grid (warping would copy)
_levels: dict[tuple[Any, ...], int | None] = {}  # (file, band, target scale) -> overview picked, None: native
_levels_lock = threading.Lock()
MAX_LEVELS = 100_000


def direct_read(src: Any, cfg: Any, dst_geobox: GeoBox,
                dst: np.ndarray | None) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """(roi, pixels) as odc-loader's ``rio_read`` returns them, or None when odc-loader must read.

    ``src`` is odc-loader's RasterSource (its href already signed), ``cfg`` its RasterLoadParams.
    """
    if src.band < 1 or src.ydim != 0 or (src.meta is not None and src.meta.extra_dims):
        return None
    key = (strip_token(src.uri), src.band, str(dst_geobox.crs), dst_geobox.resolution.xy, cfg.use_overviews)
    try:
        known = key in _levels
        level = _levels.get(key)
        if level is None:  # not known yet, or full resolution: the full-resolution file is opened anyway
            with rasterio.open(src.uri, "r", sharing=False) as full:
                ttol = 0.9 if cfg.nearest else 0.05  # odc-loader's: nearest ignores a sub-pixel shift
                rr = compute_reproject_roi(rio_geobox(full), dst_geobox, ttol=ttol)
                if not known:  # a file read at full resolution is not asked for its overviews again
                    level = _pick_overview(full, src.band, rr.read_shrink) if cfg.use_overviews else None
                    _remember(key, level)
                if level is None:
                    return _paste(full, src.band, rr, cfg, dst)
        with rasterio.open(src.uri, "r", sharing=False, overview_level=level) as ovr:
            return _paste(ovr, src.band, compute_reproject_roi(rio_geobox(ovr), dst_geobox, ttol=OVERVIEW_TTOL),
                          cfg, dst)
    except rasterio.errors.RasterioError:
        return None


def _pick_overview(rdr: Any, band: int, shrink: int) -> int | None:
    """The overview odc-loader reads from: the largest no coarser than the target (None: full resolution)."""
    if shrink <= 1:
        return None
    factors = [f for f in rdr.overviews(band) if f <= shrink]
    return len(factors) - 1 if factors else None


def _remember(key: tuple[Any, ...], level: int | None) -> None:
    with _levels_lock:
        if len(_levels) >= MAX_LEVELS:
            _levels.clear()
        _levels[key] = level


def _paste(rdr: Any, band: int, rr: Any, cfg: Any,
           dst: np.ndarray | None) -> tuple[tuple[slice, slice], np.ndarray] | None:
    roi: tuple[slice, slice] = tuple(rr.roi_dst)
    if not (rr.paste_ok and rr.read_shrink == 1) or roi_is_empty(rr.roi_dst) or roi_is_empty(rr.roi_src):
        return None
    dtype = resolve_dst_dtype(rdr.dtypes[band - 1], cfg)
    out = dst[roi] if dst is not None else np.empty(roi_shape(roi), dtype=dtype)
    if out.dtype != dtype:
        return None
    rdr.read(band, out=out, window=w_[rr.roi_src])
    src_nodata = resolve_src_nodata(rdr.nodatavals[band - 1], cfg)
    dst_nodata = resolve_dst_nodata(out.dtype, cfg, src_nodata)
    if dst_nodata is not None and src_nodata is not None and not _same_value(src_nodata, dst_nodata):
        missing = np.isnan(out) if math.isnan(src_nodata) else out == src_nodata
        np.copyto(out, dst_nodata, where=missing)
    return roi, out


def _same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b
