"""Local rasters as STAC items: national data come as GeoTIFFs, not catalogs.

Each file becomes an in-memory item (grid, CRS, nodata and dtype read from the file)
dated to its year, with a profile made for it, so it loads through the same
``load_cube`` as any collection: same grid, masking and resampling rules. Integer
rasters are categorical (nearest, or mode when aggregating); float ones continuous.
One band per file input: the file's first band.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pystac
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds
from shapely.geometry import MultiPolygon, box, mapping

from catalog.errors import SdgcubeError
from catalog.profiles import Profile

STATIC_YEAR = 1970  # the date of a file given without a year (a layer valid for every period)
ASSET = "data"


class RasterFileError(SdgcubeError, ValueError):
    """A local raster that cannot be used as an input; the message says which and how to fix it."""


def file_items(name: str, files: Mapping[int | None, str], band: str) -> list[pystac.Item]:
    """One item per (year, file) of input ``name``; ``None`` as year = static."""
    items = [_item(name, year, Path(path), band)
             for year, path in sorted(files.items(), key=lambda kv: STATIC_YEAR if kv[0] is None else kv[0])]
    dtypes = sorted({str(it.properties["sdgcube:dtype"]) for it in items})
    if len(dtypes) > 1:
        raise RasterFileError(f"inputs.{name}: the files have different data types ({', '.join(dtypes)}); "
                              "give rasters of one type")
    return items


def file_profile(name: str, items: Sequence[pystac.Item], band: str, categorical: bool | None = None) -> Profile:
    """The profile of a file input (its one band; nodata and dtype from the first file). ``categorical``
    None: integer files hold classes, float files quantities."""
    dtype = str(items[0].properties["sdgcube:dtype"])
    classes = not dtype.startswith("float") if categorical is None else categorical
    return Profile(collection=f"file:{name}", bands={band: ASSET},
                   categorical=frozenset({band}) if classes else frozenset(),
                   nodata=items[0].properties["sdgcube:nodata"], mask=None, cloud_cover_property=None,
                   groupby="solar_day", source=Path(str(items[0].assets[ASSET].href)), name=f"file:{name}",
                   provider="local file", dtype=dtype)


def _item(name: str, year: int | None, path: Path, band: str) -> pystac.Item:
    where = f"inputs.{name}" + (f".files.{year}" if year is not None else ".file")
    if not path.is_file():
        raise RasterFileError(f"{where}: {path} is not a file; give the path of a GeoTIFF (relative to the "
                              "working directory)")
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise RasterFileError(f"{where}: {path} has no CRS; assign one (gdal_edit.py -a_srs EPSG:...)")
            crs = src.crs.to_string()
            transform, shape, dtype, nodata = src.transform, src.shape, src.dtypes[0], src.nodata
            lonlat = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
    except RasterioIOError as exc:
        raise RasterFileError(f"{where}: cannot read {path} as a raster ({exc}); give a GeoTIFF") from None
    when = datetime(STATIC_YEAR if year is None else year, 1, 1, tzinfo=UTC)
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    props = {"start_datetime": when.isoformat(), "end_datetime": when.replace(month=12, day=31, hour=23,
                                                                             minute=59, second=59).isoformat(),
             "proj:code": crs, "sdgcube:dtype": dtype, "sdgcube:nodata": nodata,
             "sdgcube:static": year is None}
    west, south, east, north = lonlat
    footprint = (box(west, south, east, north) if west <= east  # else it crosses the antimeridian: two parts
                 else MultiPolygon([box(west, south, 180, north), box(-180, south, east, north)]))
    item = pystac.Item(f"{name}-{when.year}-{digest}", mapping(footprint), list(lonlat), when, props)
    item.collection_id = f"file:{name}"
    raster = {"data_type": dtype, **({"nodata": nodata} if nodata is not None else {})}
    item.add_asset(ASSET, pystac.Asset(str(path.resolve()), title=band, media_type=pystac.MediaType.GEOTIFF,
                                       roles=["data"],
                                       extra_fields={"proj:shape": list(shape), "proj:transform": list(transform)[:6],
                                                     "proj:code": crs, "raster:bands": [raster]}))
    return item
