"""Cross-sensor harmonisation: each date's surface reflectance moved to one reference sensor (OLI).

Landsat TM, ETM+, OLI and Sentinel-2 MSI see the same ground through slightly different
bandpasses. Published per-band linear fits (``reference = slope * sensor + intercept``) move
each sensor to Landsat 8 OLI: Roy et al. (2016) for ETM+ (and TM), the HLS bandpass
adjustment for MSI. They are data, ``catalog/profiles/harmonisation.yaml``, with their
sources; this module reads and checks that file and applies it.

Applying it touches no pixel: a loaded cube keeps integer DNs with a per-date
``scale_<band>``/``offset_<band>`` (``catalog.load``), so the fit folds into them,
``scale' = slope * scale`` and ``offset' = slope * offset + intercept``; the kernels then
compute harmonised reflectance from the DNs, in float64, exactly as before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from catalog.errors import SdgcubeError

HARMONISATION_FILE = Path(__file__).parent / "profiles" / "harmonisation.yaml"
TARGETS = ("none", "oli")  # what an input's ``harmonise`` may say: nothing, or to Landsat 8/9 OLI
FORMULA = "reflectance_reference = slope * reflectance_sensor + intercept"

_TOP = {"reference", "sources", "sensors"}
_SENSOR = {"description", "platforms", "source", "note", "reference", "bands", "by_platform"}


class HarmonisationError(SdgcubeError, ValueError):
    """A malformed harmonisation file, or a date or band it has no coefficients for."""


@dataclass(frozen=True)
class Linear:
    """``reference = slope * sensor + intercept`` for one band (reflectance 0..1)."""

    slope: float
    intercept: float


IDENTITY = Linear(1.0, 0.0)


@dataclass(frozen=True)
class Sensor:
    """One instrument family: its platforms and its fit to the reference, for all its platforms
    (``bands``) or per platform (``by_platform``); the reference itself has none (identity)."""

    name: str
    description: str
    platforms: tuple[str, ...]
    source: str | None = None
    note: str | None = None
    reference: bool = False
    bands: Mapping[str, Linear] = field(default_factory=dict)
    by_platform: Mapping[str, Mapping[str, Linear]] = field(default_factory=dict)

    def fits(self, platform: str) -> Mapping[str, Linear] | None:
        """The band fits of ``platform`` (None: the sensor has none for it)."""
        if self.by_platform:
            return self.by_platform.get(platform)
        return self.bands


@dataclass(frozen=True)
class Table:
    """The harmonisation file, parsed and checked."""

    reference: str
    sensors: Mapping[str, Sensor]
    sources: Mapping[str, str]
    path: Path

    def sensor_of(self, platform: str) -> str | None:
        """The sensor family of a (normalised) platform, or None if the file does not list it."""
        for sensor in self.sensors.values():
            if platform in sensor.platforms:
                return sensor.name
        return None

    def coefficients(self, platform: str, band: str, *, where: str = "") -> Linear:
        """The fit of ``band`` on ``platform`` to the reference, or an error saying what is there."""
        at = f"{where}: " if where else ""
        name = self.sensor_of(platform)
        if name is None:
            known = ", ".join(p for s in self.sensors.values() for p in s.platforms)
            raise HarmonisationError(f"{at}platform {platform or '(none stated)'!r} is not in {self.path.name}, so its "
                                     f"reflectance cannot be harmonised to {self.reference}",
                                     hint=f"known platforms: {known}; add it there, or set harmonise: none")
        sensor = self.sensors[name]
        if sensor.reference:
            return IDENTITY
        fits = sensor.fits(platform)
        if fits is None:
            raise HarmonisationError(f"{at}{self.path.name} has no {name} coefficients for platform {platform!r}",
                                     hint=f"add them under sensors.{name}.by_platform, or set harmonise: none")
        if band not in fits:
            raise HarmonisationError(f"{at}{self.path.name} has no {name} ({platform}) coefficients for band {band!r}",
                                     hint=f"bands it harmonises: {', '.join(fits)}; drop {band!r} from the input "
                                          "or set harmonise: none")
        return fits[band]

    def record(self, platforms: Sequence[str], bands: Sequence[str]) -> dict[str, Any]:
        """What provenance keeps: the formula, the file, and per sensor used its source and coefficients."""
        used: dict[str, dict[str, Any]] = {}
        for platform in sorted(set(platforms)):
            name = self.sensor_of(platform)
            if name is None:
                continue
            sensor = self.sensors[name]
            source = "the reference: identity" if sensor.reference else self.sources[sensor.source or ""]
            entry = used.setdefault(name, {"description": sensor.description, "platforms": [], "source": source,
                                           "coefficients": {}})
            entry["platforms"].append(platform)
            if sensor.note:
                entry["note"] = sensor.note
            if not sensor.reference:
                entry["coefficients"][platform] = {
                    band: {"slope": fit.slope, "intercept": fit.intercept}
                    for band in bands for fit in [self.coefficients(platform, band)]}
        return {"target": self.reference, "formula": FORMULA, "file": f"catalog/profiles/{self.path.name}",
                "sensors": used}


def normalise_platform(value: Any) -> str:
    """``LANDSAT_7``, ``Landsat 7`` and ``landsat-7`` are one platform: lower case, words joined by '-'."""
    return re.sub(r"[\s_]+", "-", str(value).strip().lower()) if value else ""


# ------------------------------------------------------------------------ the file


def _linear(value: Any, where: str) -> Linear:
    if not isinstance(value, Mapping) or set(value) != {"slope", "intercept"}:
        raise HarmonisationError(f"{where}: give {{slope: ..., intercept: ...}}; got {value!r}")
    try:
        slope, intercept = float(value["slope"]), float(value["intercept"])
    except (TypeError, ValueError):
        raise HarmonisationError(f"{where}: slope and intercept must be numbers; got {dict(value)}") from None
    if not (math.isfinite(slope) and slope > 0 and math.isfinite(intercept)):
        raise HarmonisationError(f"{where}: slope must be finite and > 0, intercept finite; got {dict(value)}")
    return Linear(slope, intercept)


def _bands(value: Any, where: str) -> dict[str, Linear]:
    if not isinstance(value, Mapping) or not value:
        raise HarmonisationError(f"{where}: a mapping of common band name -> {{slope, intercept}}")
    return {str(band): _linear(fit, f"{where}.{band}") for band, fit in value.items()}


def _sensor(name: str, data: Any, sources: Mapping[str, str], path: Path) -> Sensor:
    where = f"{path}: sensors.{name}"
    if not isinstance(data, Mapping):
        raise HarmonisationError(f"{where} must be a mapping with keys {', '.join(sorted(_SENSOR))}")
    unknown = set(data) - _SENSOR
    if unknown or "platforms" not in data or "description" not in data:
        raise HarmonisationError(f"{where}: unknown keys {sorted(unknown)}; needs description and platforms, "
                                 f"allowed: {', '.join(sorted(_SENSOR))}")
    platforms = tuple(normalise_platform(p) for p in data["platforms"] or ())
    reference = bool(data.get("reference", False))
    kinds = [k for k in ("bands", "by_platform") if data.get(k)]
    if reference == bool(kinds) or len(kinds) > 1:
        raise HarmonisationError(f"{where}: give exactly one of reference: true, bands (all its platforms) or "
                                 "by_platform (platform -> bands)")
    source = data.get("source")
    if not reference and source not in sources:
        raise HarmonisationError(f"{where}: source {source!r} is not one of sources ({', '.join(sources)}); "
                                 "every coefficient needs its citation")
    by_platform = {normalise_platform(p): _bands(b, f"{where}.by_platform.{p}")
                   for p, b in (data.get("by_platform") or {}).items()}
    stray = set(by_platform) - set(platforms)
    if stray:
        raise HarmonisationError(f"{where}.by_platform: {sorted(stray)} are not among its platforms {list(platforms)}")
    return Sensor(name=name, description=str(data["description"]), platforms=platforms, source=source,
                  note=data.get("note"), reference=reference,
                  bands=_bands(data["bands"], f"{where}.bands") if data.get("bands") else {}, by_platform=by_platform)


@cache
def table(path: Path = HARMONISATION_FILE) -> Table:
    """The harmonisation file, checked: one reference sensor, every platform in one sensor, sources cited."""
    import yaml

    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, Mapping) or set(data) != _TOP:
        got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise HarmonisationError(f"{path}: a mapping with exactly the keys {sorted(_TOP)}; got {got}")
    sources = {str(k): " ".join(str(v).split()) for k, v in (data["sources"] or {}).items()}
    sensors = {str(name): _sensor(str(name), value, sources, Path(path)) for name, value in data["sensors"].items()}
    references = [s.name for s in sensors.values() if s.reference]
    if references != [data["reference"]]:
        raise HarmonisationError(f"{path}: reference {data['reference']!r} must be the one sensor marked "
                                 f"reference: true; marked: {references}")
    seen: dict[str, str] = {}
    for sensor in sensors.values():
        for platform in sensor.platforms:
            if platform in seen:
                raise HarmonisationError(f"{path}: platform {platform!r} is in sensors {seen[platform]} and "
                                         f"{sensor.name}; a platform belongs to one sensor")
            seen[platform] = sensor.name
    return Table(reference=str(data["reference"]), sensors=sensors, sources=sources, path=Path(path))


# ------------------------------------------------------------------------ applying it


def harmonised(ds: Any, bands: Sequence[str], platform: str, *, target: str = "oli", where: str = "",
               path: Path = HARMONISATION_FILE) -> Any:
    """``ds`` (one platform's dates, from ``catalog.load.load_cube``) with ``scale_<band>``/``offset_<band>``
    of ``bands`` moved to the ``target`` sensor's reflectance; ``target`` 'none' returns it unchanged."""
    if target == "none":
        return ds
    found = table(path)
    if target != found.reference:
        raise HarmonisationError(f"{where}: harmonise {target!r} is not offered; {found.path.name} harmonises to "
                                 f"{found.reference!r}", hint=f"use one of {', '.join(TARGETS)}")
    updates = {}
    for band in bands:
        if f"scale_{band}" not in ds.coords:
            continue  # categorical bands (classes, flags) carry no scale: nothing to harmonise
        fit = found.coefficients(platform, band, where=where)
        scale = np.asarray(ds[f"scale_{band}"].values, np.float64)
        offset = np.asarray(ds[f"offset_{band}"].values, np.float64)
        updates[f"scale_{band}"] = ("time", scale * fit.slope)
        updates[f"offset_{band}"] = ("time", offset * fit.slope + fit.intercept)
    return ds.assign_coords(updates)
