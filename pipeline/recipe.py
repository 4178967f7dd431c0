"""Recipes: one declarative YAML file per indicator, loaded into frozen dataclasses.

The top-level keys are shared by every indicator; ``parameters`` belongs to the
indicator module, which declares its own dataclass (so a new indicator is one recipe
and one module, and its parameters are validated as strictly as the rest).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pyproj import CRS
from pyproj.exceptions import CRSError

from pipeline.schema import RecipeError, build


def unwrap(geom):
    """A lon/lat (multi)polygon that spans more than 180 degrees of longitude is taken to cross the
    antimeridian (GeoJSON splits such a polygon at +-180): negative longitudes move by +360 and the parts
    join into one piece, so a projected grid sees one contiguous area."""
    from shapely.ops import transform, unary_union

    if geom.is_empty or geom.bounds[2] - geom.bounds[0] <= 180:
        return geom
    shifted = transform(lambda x, y, z=None: (np.where(np.asarray(x) < 0, np.asarray(x) + 360, x), y), geom)
    return unary_union([shifted]) if shifted.geom_type == "MultiPolygon" else shifted


def wrapped(geom):
    """The parts of an AOI within -180..180 (itself if it does not cross the antimeridian)."""
    from shapely.affinity import translate
    from shapely.geometry import MultiPolygon, box

    if geom.bounds[2] <= 180:
        return geom
    west = geom.intersection(box(-180, -90, 180, 90))
    east = translate(geom.intersection(box(180, -90, 540, 90)), xoff=-360)
    parts = [p for g in (west, east) for p in getattr(g, "geoms", [g]) if not p.is_empty and p.area > 0]
    return MultiPolygon(parts)


@dataclass(frozen=True)
class AOI:
    """Area of interest in WGS84 longitude/latitude: a bbox or a GeoJSON geometry."""

    name: str
    bbox: tuple[float, float, float, float] | None = None
    geometry: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.bbox is None) == (self.geometry is None):
            raise ValueError("give exactly one of 'bbox' [west, south, east, north] or 'geometry' (GeoJSON)")
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if not (-180 <= w <= 180 and -180 <= e <= 180 and w != e and -90 <= s < n <= 90):
                raise ValueError(f"bbox {list(self.bbox)} is not [west, south, east, north] in degrees "
                                 "with south < north (west > east: a box across the antimeridian)")
            if w > e and e + 360 - w > 180:
                raise ValueError(f"bbox {list(self.bbox)} has west > east, a box across the antimeridian, "
                                 f"{e + 360 - w:g} degrees wide: swap west and east if that is not meant")
        else:
            self._check_geometry()

    def _check_geometry(self) -> None:
        """A GeoJSON AOI must be a valid (multi)polygon: a self-intersecting one has no well-defined area."""
        from shapely.geometry import shape
        from shapely.validation import explain_validity

        try:
            geom = unwrap(shape(dict(self.geometry or {})))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"geometry is not GeoJSON ({exc}); give a Polygon or MultiPolygon in lon/lat") from None
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
            raise ValueError(f"geometry is a {geom.geom_type}{' (empty)' if geom.is_empty else ''}; an AOI is a "
                             "Polygon or MultiPolygon in lon/lat")
        if not geom.is_valid:
            raise ValueError(f"geometry is not a valid polygon ({explain_validity(geom)}); repair it, e.g. with "
                             "shapely.make_valid or QGIS 'Fix geometries'")

    def shape(self):
        """The AOI as a shapely geometry in EPSG:4326; one that crosses the antimeridian is one piece with
        longitudes beyond 180 (``wrapped`` gives its parts within -180..180, for GeoJSON and searches)."""
        from shapely.geometry import box, shape

        if self.bbox is not None:
            w, s, e, n = self.bbox
            return box(w, s, e + 360 if w > e else e, n)
        if self.geometry is None:  # __post_init__ requires exactly one of them
            raise ValueError(f"AOI {self.name!r} has neither 'bbox' nor 'geometry'")
        return unwrap(shape(dict(self.geometry)))

    @property
    def crosses_antimeridian(self) -> bool:
        return self.shape().bounds[2] > 180


@dataclass(frozen=True)
class Grid:
    """Target grid: every layer of the product is on it; areas are true areas on it. ``crs: auto`` picks
    the AOI's UTM zone, or an equal-area projection centred on an AOI that spans zones (the run says
    which, and why); the resolution is then in metres."""

    crs: str
    resolution: float
    chunk: int = 1024
    max_blocks: int = 250_000  # spatial blocks: a larger grid is refused before anything is read
    max_memory_gib: float | None = None  # what the tasks running at once may hold (default: half the RAM)

    def __post_init__(self) -> None:
        try:
            if self.crs != "auto":
                CRS.from_user_input(self.crs)
        except CRSError:
            raise ValueError(f"crs {self.crs!r} is not a CRS pyproj knows (use 'auto' or e.g. 'EPSG:32721')") from None
        if not (math.isfinite(self.resolution) and self.resolution > 0):
            raise ValueError(f"resolution must be a finite number > 0 (in CRS units); got {self.resolution}")
        if not 64 <= self.chunk <= 8192:
            raise ValueError(f"chunk must be within 64..8192 pixels; got {self.chunk}")
        if self.max_blocks < 1:
            raise ValueError(f"max_blocks must be >= 1; got {self.max_blocks}")
        if self.max_memory_gib is not None and not (math.isfinite(self.max_memory_gib) and self.max_memory_gib > 0):
            raise ValueError(f"max_memory_gib must be a number > 0 (GiB); got {self.max_memory_gib}")


@dataclass(frozen=True)
class Input:
    """One input the indicator reads, by common band names: a STAC ``collection`` (profiles
    resolve assets), or local rasters (national data): ``file`` (one GeoTIFF valid for
    every year, e.g. a soil map) or ``files`` (year -> GeoTIFF), each with one band.

    ``collection`` may list several collections (``[landsat-c2-l2, sentinel-2-l2a]``): each is
    searched and loaded through its own profile onto the grid and their dates make one time
    series, with ``platform`` and ``sensor`` on its time axis. ``harmonise: oli`` moves every
    sensor's reflectance to Landsat 8/9 OLI with the published coefficients of
    ``catalog/profiles/harmonisation.yaml`` (Roy et al. 2016 for TM/ETM+, HLS for MSI);
    ``none`` (default) uses each sensor's own reflectance.

    ``on_unreadable``: what to do with an asset that still cannot be read after the
    retries: ``fail`` the run (default), or use ``nodata`` for it and record a warning
    in the product's provenance. ``categorical`` (files only): whether the file holds
    classes (nearest/mode) or a quantity (nearest/average/bilinear); by default integer
    files are classes, float ones quantities: an int16 DEM needs ``categorical: false``.
    """

    bands: tuple[str, ...]
    collection: str | tuple[str, ...] | None = None
    file: str | None = None
    files: Mapping[int, str] | None = None
    max_cloud_cover: float | None = None
    on_unreadable: Literal["fail", "nodata"] = "fail"
    categorical: bool | None = None
    harmonise: Literal["none", "oli"] = "none"

    def __post_init__(self) -> None:
        if isinstance(self.collection, tuple):
            ids = self.collection
            if not ids or not all(isinstance(c, str) and c for c in ids) or len(set(ids)) != len(ids):
                raise ValueError(f"collection lists collection ids, each once; got {list(ids)}")
            if len(ids) == 1:
                object.__setattr__(self, "collection", ids[0])  # one listed collection is that collection
        if self.categorical is not None and self.collection is not None:
            raise ValueError("categorical is for file inputs; a collection's profile says which bands are classes")
        if self.harmonise != "none" and self.collection is None:
            raise ValueError("harmonise is for collection inputs (it moves a sensor's reflectance to another's)")
        if not self.bands:
            raise ValueError("bands must list at least one common band name")
        given = [k for k in ("collection", "file", "files") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of 'collection' (a STAC collection id), 'file' (one GeoTIFF for "
                             f"every year) or 'files' (year: GeoTIFF); got {', '.join(given) or 'none'}")
        if self.collection is None and len(self.bands) != 1:
            raise ValueError(f"a file input has one band; got bands {list(self.bands)}")
        if self.max_cloud_cover is not None and not 0 <= self.max_cloud_cover <= 100:
            raise ValueError(f"max_cloud_cover must be within 0..100 %; got {self.max_cloud_cover}")
        if self.on_unreadable not in ("fail", "nodata"):
            raise ValueError(f"on_unreadable must be 'fail' or 'nodata'; got {self.on_unreadable!r}")

    @property
    def collections(self) -> tuple[str, ...]:
        """The collection ids of a collection input (one or several); () for file inputs."""
        if self.collection is None:
            return ()
        return (self.collection,) if isinstance(self.collection, str) else self.collection

    @property
    def local_files(self) -> dict[int | None, str] | None:
        """year -> path of a file input (None = valid for every year); None for a collection."""
        if self.file:
            return {None: self.file}
        if not self.files:
            return None
        files: dict[int | None, str] = {}
        files.update(self.files.items())
        return files


@dataclass(frozen=True)
class Periods:
    """Calendar years to compute, and optional baseline/reporting periods within them."""

    years: tuple[int, int]
    baseline: tuple[int, int] | None = None
    reporting: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        first, last = self.years
        if first > last:
            raise ValueError(f"years {list(self.years)} must be [first, last] with first <= last")
        for name in ("baseline", "reporting"):
            span = getattr(self, name)
            if span is not None and not first <= span[0] <= span[1] <= last:
                raise ValueError(f"{name} {list(span)} must be [first, last] within years {list(self.years)}")
        if self.baseline and self.reporting and not self.baseline[1] < self.reporting[0]:
            raise ValueError(f"baseline {list(self.baseline)} must end before reporting {list(self.reporting)} "
                             "starts: a change is measured from the baseline to a later period")

    def all_years(self) -> list[int]:
        return list(range(self.years[0], self.years[1] + 1))


@dataclass(frozen=True)
class ZonesSpec:
    """Zones to report per (admin units, basins): a vector file read with geopandas.

    ``path`` is a GeoPackage, GeoJSON or Shapefile in any CRS (relative paths from the
    working directory); ``layer`` picks one layer of a multi-layer file; ``make_valid``
    repairs invalid polygons with shapely instead of refusing them.
    """

    path: str
    id_field: str
    name_field: str | None = None
    layer: str | None = None
    make_valid: bool = False

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("path must name a zones file (GeoPackage, GeoJSON or Shapefile)")


VALID_OUTPUTS = ("zarr", "csv", "parquet", "png", "stac")


@dataclass(frozen=True)
class Recipe:
    """A validated recipe; ``parameters`` is the indicator's own frozen dataclass."""

    sdg: str
    title: str
    aoi: AOI
    grid: Grid
    inputs: Mapping[str, Input]
    periods: Periods
    parameters: Any = None
    zones: ZonesSpec | None = None
    outputs: tuple[str, ...] = VALID_OUTPUTS
    licence: str = "CC-BY-4.0"
    # where the recipe came from; not recipe keys
    source: str = field(default="<memory>", compare=False, metadata={"internal": True})
    text: str = field(default="", compare=False, repr=False, metadata={"internal": True})

    @property
    def sha256(self) -> str:
        """Hash of the recipe file's bytes: the provenance key of a run."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    def with_bbox(self, bbox: tuple[float, float, float, float]) -> Recipe:
        """Same recipe on another AOI (the CLI's ``--bbox``).

        The text (and so the hash in provenance) is rewritten to the AOI really run: a
        product never claims a recipe it was not made from.
        """
        west, south, east, north = (float(v) for v in bbox)
        try:
            aoi = AOI(name=f"{self.aoi.name} (bbox override)", bbox=(west, south, east, north))
        except ValueError as exc:
            raise RecipeError(f"--bbox {west:g} {south:g} {east:g} {north:g}: {exc}; give WEST SOUTH EAST NORTH "
                              "in degrees, e.g. --bbox -56.1 -12.6 -56.0 -12.5") from None
        data = yaml.safe_load(self.text) if self.text else None
        text = self.text
        if isinstance(data, dict):
            data["aoi"] = {"name": aoi.name, "bbox": [west, south, east, north]}
            text = f"# {self.source} with its AOI replaced by a bbox\n" + yaml.safe_dump(data, sort_keys=False)
        return replace(self, aoi=aoi, text=text)

    def with_zones(self, zones: ZonesSpec) -> Recipe:
        """Same recipe reported per ``zones`` (the CLI's ``--zones``); the text says so too."""
        data = yaml.safe_load(self.text) if self.text else None
        text = self.text
        if isinstance(data, dict):
            data["zones"] = {k: v for k, v in asdict(zones).items() if v not in (None, False)}
            text = f"# {self.source} with zones from the command line\n" + yaml.safe_dump(data, sort_keys=False)
        return replace(self, zones=zones, text=text)


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file; errors name the file, the key and the valid keys."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise RecipeError(f"{source}: cannot read recipe ({exc.strerror}); "
                          "pass a path such as recipes/15.1.1.yaml") from None
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{source}: not UTF-8 text (byte {exc.start}); a recipe is a YAML text file: save it as "
                          "UTF-8") from None
    return recipe_from_text(text, source=source)


def recipe_from_text(text: str, *, source: str = "<text>") -> Recipe:
    """A recipe from YAML text (a notebook cell, a web form); validated like a file."""
    from pipeline.indicators import get_indicator  # registry imports indicator modules

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError(f"{source}: not valid YAML{at}: {problem}; fix the recipe text there") from None
    return parse_recipe(data, source=source, text=text, lookup=get_indicator)


def parse_recipe(data: Any, *, source: str, text: str, lookup) -> Recipe:
    """Validate parsed YAML; ``lookup(sdg)`` returns the indicator (for its parameters)."""
    if not isinstance(data, Mapping):
        raise RecipeError(f"{source}: a recipe must be a YAML mapping with keys sdg, title, aoi, "
                          "grid, inputs, periods, parameters")
    sdg = data.get("sdg")
    if not isinstance(sdg, str):
        raise RecipeError(f"{source}: missing key 'sdg' (a quoted string such as \"15.1.1\")")
    try:
        indicator = lookup(sdg)
    except KeyError as exc:
        raise RecipeError(f"{source}: 'sdg' = {sdg!r}: {exc.args[0]}") from None
    params = build(indicator.Parameters, data.get("parameters") or {}, "parameters", source)
    recipe = build(Recipe, data, "", source)
    for name in recipe.outputs:
        if name not in VALID_OUTPUTS:
            raise RecipeError(f"{source}: 'outputs' has unknown {name!r}; valid: {', '.join(VALID_OUTPUTS)}")
    required = indicator.required_inputs(params)
    missing = sorted(set(required) - set(recipe.inputs))
    if missing:
        example = missing[0]
        raise RecipeError(f"{source}: 'inputs' lacks {', '.join(map(repr, missing))} needed by SDG {sdg} with "
                          f"these parameters; it reads inputs {', '.join(required)}: add e.g. "
                          f"inputs.{example}: {{collection: ..., bands: [{', '.join(required[example])}]}}")
    for name, needed in required.items():
        lacking = sorted(set(needed) - set(recipe.inputs[name].bands))
        if lacking:
            raise RecipeError(f"{source}: 'inputs.{name}.bands' lacks {', '.join(lacking)} "
                              f"needed by SDG {sdg}")
    recipe = replace(recipe, parameters=params, source=source, text=text)
    problem = indicator.check(recipe) if indicator.check is not None else None
    if problem:
        raise RecipeError(f"{source}: {problem}")
    return recipe
