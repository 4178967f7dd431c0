"""Zones (admin units, basins): read a vector file once, label any block of the grid.

Membership is the pixel-centre rule (``rasterio.features.rasterize`` without
``all_touched``): every AOI pixel belongs to exactly one zone or to none, so the
areas of the zones and of the ``outside zones`` remainder add up to the AOI total,
and the zone-index layer says which pixel went where. Fractional coverage
(exactextract) is measured against it by ``make bench`` (part 6); the figures and
the reason for this choice are in the README (Zones).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from catalog.errors import SdgcubeError

MAX_ZONES = 65534  # the zone-index layer is uint16 with 65535 outside the AOI


class ZonesError(SdgcubeError, ValueError):
    """A zones file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Zones:
    """Zone ids, names and geometries in the grid's CRS, in file order (zone i has label i + 1)."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    geometries: tuple[BaseGeometry, ...] = field(repr=False)
    source: str = ""
    crs: str = ""

    @property
    def token(self) -> str:
        """What identifies these zones in the graph's keys."""
        from dask.base import tokenize

        return tokenize(self.ids, self.names, [g.wkb for g in self.geometries], self.crs)

    def labels(self, box: Any) -> np.ndarray:
        """int32 labels of ``box``'s pixels: 0 = in no zone, i = ``ids[i - 1]`` (pixel centres)."""
        from rasterio.features import rasterize

        ny, nx = box.shape
        x0, y0, x1, y1 = box.boundingbox
        window = shapely.box(x0, y0, x1, y1)
        shapes = [(g, i + 1) for i, g in enumerate(self.geometries) if g.intersects(window)]
        if not shapes:
            return np.zeros((ny, nx), np.int32)
        return rasterize(shapes, out_shape=(ny, nx), transform=box.affine, fill=0, all_touched=False,
                         dtype="int32")


def read_zones(path: str | Path, *, id_field: str, name_field: str | None = None, layer: str | None = None,
               make_valid: bool = False, aoi: BaseGeometry, crs: str) -> Zones:
    """Read, check and reproject a zones file (GeoPackage, GeoJSON, Shapefile; any CRS).

    ``aoi`` is in EPSG:4326 and ``crs`` is the grid's. Every problem is a one-line
    ``ZonesError`` that names the file and says how to fix it.
    """
    import geopandas as gpd

    source = str(path)
    if not Path(path).exists():
        raise ZonesError(f"zones file {source} does not exist; give a GeoPackage, GeoJSON or Shapefile path")
    try:
        frame = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises DataSourceError, DataLayerError, ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ZonesError(f"zones file {source} is not readable vector data ({reason}); give a GeoPackage, "
                         "GeoJSON or Shapefile (and 'layer' for a file with several layers)") from None
    if frame.crs is None:
        raise ZonesError(f"zones file {source} has no CRS; write one into the file (e.g. geopandas "
                         "set_crs('EPSG:4326').to_file(...))")
    if len(frame) == 0:
        raise ZonesError(f"zones file {source} has no features")
    _check_fields(frame, source, id_field, name_field)
    ids = _ids(frame[id_field], source, id_field)
    names = tuple(str(v) if v is not None and str(v) != "nan" else z
                  for v, z in zip(frame[name_field] if name_field else ids, ids, strict=True))
    if len(ids) > MAX_ZONES:
        raise ZonesError(f"zones file {source} has {len(ids)} zones; at most {MAX_ZONES} are supported: "
                         "split the run by region")
    geoms = frame.geometry
    if geoms.isna().any() or geoms.is_empty.any():
        bad = [ids[i] for i in np.flatnonzero(geoms.isna().to_numpy() | geoms.is_empty.to_numpy())]
        raise ZonesError(f"zones file {source}: zones {_few(bad)} have no geometry; remove them or draw them")
    kinds = set(geoms.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise ZonesError(f"zones file {source} holds {', '.join(sorted(kinds - {'Polygon', 'MultiPolygon'}))} "
                         "geometries; zones must be polygons")
    invalid = ~geoms.is_valid
    if invalid.any():
        bad = [ids[i] for i in np.flatnonzero(invalid.to_numpy())]
        if not make_valid:
            raise ZonesError(f"zones file {source}: zones {_few(bad)} have invalid geometry (e.g. "
                             "self-intersections); fix them, or set 'zones.make_valid: true' in the recipe "
                             "to repair them with shapely.make_valid")
        frame = frame.set_geometry(shapely.make_valid(geoms.to_numpy()))
        frame = frame.set_geometry(frame.geometry.apply(_polygonal))
    lonlat = frame.to_crs("EPSG:4326")
    if not lonlat.geometry.intersects(aoi).any():
        w, s, e, n = lonlat.total_bounds
        raise ZonesError(f"zones file {source} does not overlap the AOI (zones span lon {w:.4f}..{e:.4f}, "
                         f"lat {s:.4f}..{n:.4f}); give zones of this AOI or move the AOI (--bbox)")
    projected = frame.to_crs(crs).geometry
    return Zones(ids=ids, names=names, geometries=tuple(projected), source=source, crs=str(crs))


def _check_fields(frame: Any, source: str, id_field: str, name_field: str | None) -> None:
    fields = [c for c in frame.columns if c != frame.geometry.name]
    for key, value in (("id_field", id_field), ("name_field", name_field)):
        if value is not None and value not in fields:
            raise ZonesError(f"zones file {source} has no field {value!r} (zones.{key}); its fields: "
                             f"{', '.join(fields) or 'none'}")


def _ids(column: Any, source: str, id_field: str) -> tuple[str, ...]:
    values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip() for v in column]
    empty = [i for i, v in enumerate(values) if not v]
    if empty:
        raise ZonesError(f"zones file {source}: {len(empty)} features have an empty {id_field!r} (rows "
                         f"{_few(empty)}); every zone needs an id")
    duplicates = sorted(str(v) for v, n in Counter(values).items() if n > 1)
    if duplicates:
        raise ZonesError(f"zones file {source}: {id_field!r} is not unique ({_few(duplicates)} repeat); "
                         "merge those features (e.g. geopandas dissolve) or choose another id_field")
    return tuple(v for v in values if v is not None)


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygon parts of a repaired geometry (make_valid may add lines or points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _few(values: Sequence[Any], n: int = 5) -> str:
    shown = ", ".join(map(str, values[:n]))
    return shown + (f" and {len(values) - n} more" if len(values) > n else "")
