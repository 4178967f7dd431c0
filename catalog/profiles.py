"""Collection profiles: per-collection facts kept as data (catalog/profiles/*.yaml).

A recipe names bands by common name; the profile says which asset holds it, which
bands are categorical (never interpolated) or extensive (counts per pixel, such as people:
rescaled by the pixel-area ratio), how pixels are masked (a class list like Sentinel-2 SCL
or bit flags like Landsat QA_PIXEL), how digital numbers scale to
physical values when the items do not say, and which property carries cloud cover.
Adding a collection is a new YAML file, not new code.

One collection id can be served by several catalogs with different asset keys
(``sentinel-2-l2a`` is ``blue``/``scl`` on Earth Search v1 and ``B02``/``SCL`` on the
Planetary Computer), so a profile is chosen by collection id AND by the assets of the
items found (``match.assets``), optionally narrowed by ``provider``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pystac
import yaml

from catalog.errors import SdgcubeError

PROFILE_DIR = Path(__file__).parent / "profiles"
NOT_PROFILES = frozenset({"harmonisation"})  # other data kept beside the profiles (catalog.harmonise reads it)

_REQUIRED = {"collection", "bands"}
_OPTIONAL = {"provider", "default", "match", "categorical", "extensive", "nodata", "dtype", "mask", "scale_offset",
             "cloud_cover_property", "groupby", "sign"}


class ProfileError(SdgcubeError, ValueError):
    """A collection or band the profiles do not describe, or a malformed profile file."""


@dataclass(frozen=True)
class MaskRule:
    """Pixels flagged by the ``band`` are masked (set to nodata) in every other band.

    Two kinds: ``invalid`` lists class values (SCL: 0, 1, 3, 8, 9, 10); ``bits`` names bit
    positions (QA_PIXEL: fill 0, dilated cloud 1, ...) of which ``invalid_bits`` mask a pixel
    when any of them is set.
    """

    band: str
    invalid: tuple[int, ...] = ()
    bits: Mapping[str, int] = field(default_factory=dict)
    invalid_bits: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "bits" if self.bits else "classes"

    @property
    def bitmask(self) -> int:
        """The OR of the invalid bits: ``value & bitmask != 0`` marks an unusable pixel."""
        return sum(1 << self.bits[name] for name in self.invalid_bits)


@dataclass(frozen=True)
class ScaleOffset:
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class PropertyRule:
    """Overrides scale/offset for items whose ``property`` (or the ``pattern`` group taken
    from it) compares ``>= at_least`` as a string: e.g. S2 processing baseline >= 04.00
    carries offset -0.1 when the catalog has no raster:bands to say so."""

    property: str
    at_least: str
    pattern: str | None = None
    scale: float | None = None
    offset: float | None = None

    def applies(self, item: pystac.Item) -> bool:
        value = item.properties.get(self.property)
        if value is None:
            return False
        value = str(value)
        if self.pattern is not None:
            found = re.search(self.pattern, value)
            if not found:
                return False
            value = found.group(1)
        return value >= self.at_least


@dataclass(frozen=True)
class ScaleOffsetRules:
    """Where an item's DN -> value scale/offset comes from, in order: the asset's
    ``raster:bands`` (when ``from_items`` and present), else a fixed per-band value, else
    ``default``; property rules then override the fixed values."""

    from_items: bool = True
    default: ScaleOffset = ScaleOffset()
    bands: Mapping[str, ScaleOffset] = field(default_factory=dict)
    rules: tuple[PropertyRule, ...] = ()

    def resolve(self, item: pystac.Item, band: str, key: str) -> tuple[float, float]:
        if self.from_items:
            stated = _raster_band(item, key)
            if "scale" in stated or "offset" in stated:
                try:
                    return float(stated.get("scale", 1.0)), float(stated.get("offset", 0.0))
                except (TypeError, ValueError):
                    raise ProfileError(f"item {item.id}: asset {key!r} states raster:bands scale "
                                       f"{stated.get('scale')!r} / offset {stated.get('offset')!r}, not numbers; fix "
                                       "the item, or set scale_offset (from_items: false) in the profile") from None
        fixed = self.bands.get(band, self.default)
        scale, offset = fixed.scale, fixed.offset
        if band not in self.bands:
            for rule in self.rules:
                if rule.applies(item):
                    scale = rule.scale if rule.scale is not None else scale
                    offset = rule.offset if rule.offset is not None else offset
        return float(scale), float(offset)


def _raster_band(item: pystac.Item, key: str) -> dict:
    bands = item.assets[key].extra_fields.get("raster:bands") or [{}]
    return bands[0]


@dataclass(frozen=True)
class Profile:
    collection: str
    bands: Mapping[str, str]
    categorical: frozenset[str]
    nodata: int | float | Mapping[str, int | float | None] | None
    mask: MaskRule | None
    cloud_cover_property: str | None
    groupby: str
    source: Path
    name: str = ""
    provider: str | None = None
    default: bool = False
    match_assets: tuple[str, ...] = ()
    dtype: str | Mapping[str, str] | None = None
    scale_offset: ScaleOffsetRules = ScaleOffsetRules()
    sign: str | None = None  # "module.function" that signs an href just before it is read
    extensive: frozenset[str] = frozenset()  # per-pixel totals (people per cell): rescaled to the grid's pixels

    def asset(self, band: str) -> str:
        """Asset key of a common band name, with an error that lists the valid names."""
        try:
            return self.bands[band]
        except KeyError:
            raise ProfileError(f"band {band!r} is not in the {self.collection} profile ({self.source}); "
                               f"valid bands: {', '.join(self.bands)}") from None

    def nodata_of(self, band: str) -> int | float | None:
        """Nodata of a band when the items do not state it (``nodata`` may be per band)."""
        return _per_band(self.nodata, band)

    def dtype_of(self, band: str) -> str | None:
        return _per_band(self.dtype, band)

    def missing_assets(self, asset_keys: Collection[str]) -> list[str]:
        """The ``match.assets`` this profile needs that ``asset_keys`` lack (empty: it matches)."""
        return [key for key in self.match_assets if key not in asset_keys]

    def matches(self, item: pystac.Item) -> bool:
        return not self.missing_assets(item.assets.keys())

    def item_scale_offset(self, item: pystac.Item, band: str) -> tuple[float, float]:
        """(scale, offset) turning this item's DNs of ``band`` into physical values."""
        return self.scale_offset.resolve(item, band, self.asset(band))

    def describe(self) -> str:
        return f"{self.name} ({self.provider or 'any provider'}, {self.source.name})"


def _per_band(value: Any, band: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(band, value.get("*"))
    return value


# ------------------------------------------------------------------------ parsing


def _parse(path: Path) -> Profile:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a YAML mapping; got {type(data).__name__}")
    missing, unknown = _REQUIRED - set(data), set(data) - _REQUIRED - _OPTIONAL
    if missing or unknown:
        raise ProfileError(f"{path}: missing keys {sorted(missing)}, unknown keys {sorted(unknown)}; "
                           f"allowed: {sorted(_REQUIRED | _OPTIONAL)}")
    bands = dict(data["bands"])
    categorical = frozenset(data.get("categorical") or ())
    mask = _parse_mask(path, data.get("mask"))
    match = data.get("match") or {}
    if set(match) - {"assets"}:
        raise ProfileError(f"{path}: match takes only 'assets' (keys the items must carry); got {sorted(match)}")
    profile = Profile(
        collection=data["collection"],
        bands=bands,
        categorical=categorical,
        nodata=data.get("nodata"),
        mask=mask,
        cloud_cover_property=data.get("cloud_cover_property"),
        groupby=data.get("groupby", "solar_day"),
        source=path,
        name=path.stem,
        provider=data.get("provider"),
        default=bool(data.get("default", False)),
        match_assets=tuple(match.get("assets") or ()),
        dtype=data.get("dtype"),
        scale_offset=_parse_scale_offset(path, data.get("scale_offset")),
        sign=data.get("sign"),
        extensive=frozenset(data.get("extensive") or ()),
    )
    _validate(profile)
    return profile


def _parse_mask(path: Path, mask: dict | None) -> MaskRule | None:
    if not mask:
        return None
    kinds = [k for k in ("invalid", "bits") if k in mask]
    if len(kinds) != 1 or set(mask) - {"band", "invalid", "bits", "invalid_bits"}:
        raise ProfileError(f"{path}: mask takes 'band' and either 'invalid' (class values) or 'bits' "
                           f"(name: bit position) with 'invalid_bits' (names); got {sorted(mask)}")
    if "invalid" in mask:
        return MaskRule(band=mask["band"], invalid=tuple(int(v) for v in mask["invalid"]))
    bits = {str(k): int(v) for k, v in mask["bits"].items()}
    invalid_bits = tuple(mask.get("invalid_bits") or ())
    unknown = [b for b in invalid_bits if b not in bits]
    if unknown or not invalid_bits:
        raise ProfileError(f"{path}: mask invalid_bits {list(invalid_bits)} must name some of the bits "
                           f"{sorted(bits)}")
    return MaskRule(band=mask["band"], bits=bits, invalid_bits=invalid_bits)


def _scale_offset(value: dict | None, where: str) -> ScaleOffset:
    value = value or {}
    if set(value) - {"scale", "offset"}:
        raise ProfileError(f"{where}: takes 'scale' and 'offset'; got {sorted(value)}")
    return ScaleOffset(float(value.get("scale", 1.0)), float(value.get("offset", 0.0)))


def _parse_scale_offset(path: Path, data: dict | None) -> ScaleOffsetRules:
    if not data:
        return ScaleOffsetRules()
    if set(data) - {"from_items", "default", "bands", "rules"}:
        raise ProfileError(f"{path}: scale_offset takes from_items, default, bands, rules; got {sorted(data)}")
    rules = []
    for rule in data.get("rules") or ():
        keys = set(rule)
        if keys - {"property", "at_least", "pattern", "scale", "offset"} or not {"property", "at_least"} <= keys:
            raise ProfileError(f"{path}: a scale_offset rule needs 'property' and 'at_least' (optional "
                               f"'pattern', 'scale', 'offset'); got {sorted(rule)}")
        rules.append(PropertyRule(property=rule["property"], at_least=str(rule["at_least"]),
                                  pattern=rule.get("pattern"), scale=rule.get("scale"), offset=rule.get("offset")))
    return ScaleOffsetRules(
        from_items=bool(data.get("from_items", True)),
        default=_scale_offset(data.get("default"), f"{path}: scale_offset.default"),
        bands={band: _scale_offset(v, f"{path}: scale_offset.bands.{band}") for band, v in
               (data.get("bands") or {}).items()},
        rules=tuple(rules),
    )


def _validate(profile: Profile) -> None:
    """Cross-field checks, so a broken profile fails when read, not half-way through a run."""
    where = profile.source
    unknown = set(profile.categorical) - set(profile.bands)
    unknown |= set(profile.scale_offset.bands) - set(profile.bands)
    unknown |= set(profile.extensive) - set(profile.bands)
    if isinstance(profile.nodata, Mapping):
        unknown |= set(profile.nodata) - set(profile.bands) - {"*"}
    if isinstance(profile.dtype, Mapping):
        unknown |= set(profile.dtype) - set(profile.bands) - {"*"}
    if unknown:
        raise ProfileError(f"{where}: {sorted(unknown)} are not bands of this profile; "
                           f"bands: {', '.join(profile.bands)}")
    if profile.mask:
        if profile.mask.band not in profile.bands:
            raise ProfileError(f"{where}: mask band {profile.mask.band!r} is not one of the bands")
        if profile.mask.band not in profile.categorical:
            raise ProfileError(f"{where}: mask band {profile.mask.band!r} must be categorical "
                               "(averaging class values or bit flags invents flags)")
    if profile.extensive & profile.categorical:
        raise ProfileError(f"{where}: {sorted(profile.extensive & profile.categorical)} cannot be both categorical "
                           "and extensive (a count per pixel)")
    if profile.groupby != "solar_day":
        raise ProfileError(f"{where}: groupby {profile.groupby!r} is not supported; use solar_day")
    if profile.sign is not None and "." not in profile.sign:
        raise ProfileError(f"{where}: sign must be 'module.function' (e.g. planetary_computer.sign)")


# ------------------------------------------------------------------------ selection


@cache
def profiles(directory: Path = PROFILE_DIR) -> dict[str, Profile]:
    """All profiles in ``directory`` (the package's by default), by name (the file stem)."""
    found = {path.stem: _parse(path) for path in sorted(Path(directory).glob("*.yaml"))
             if path.stem not in NOT_PROFILES}
    by_collection: dict[str, list[Profile]] = {}
    for profile in found.values():
        by_collection.setdefault(profile.collection, []).append(profile)
    for collection, group in by_collection.items():
        defaults = [p.name for p in group if p.default]
        if len(group) > 1 and len(defaults) != 1:
            raise ProfileError(f"profiles {', '.join(p.name for p in group)} share collection {collection!r}: "
                               f"mark exactly one 'default: true' (now: {defaults or 'none'})")
    return found


def candidates(collection: str, directory: Path = PROFILE_DIR) -> list[Profile]:
    """Profiles for a collection id, the default first."""
    found = [p for p in profiles(directory).values() if p.collection == collection]
    return sorted(found, key=lambda p: (not p.default, p.name))


def get_profile(collection: str, items: Sequence[pystac.Item] | None = None, *, provider: str | None = None,
                directory: Path = PROFILE_DIR) -> Profile:
    """The profile of ``collection`` whose required assets the first item carries.

    Without items (before a search) the collection's default profile is returned; pass
    the items found to pick between catalogs that share a collection id.
    """
    keys = items[0].assets.keys() if items else None
    where = f"item {items[0].id}" if items else None
    return select_profile(collection, keys, provider=provider, directory=directory, where=where)


def select_profile(collection: str, asset_keys: Collection[str] | None = None, *, provider: str | None = None,
                   directory: Path = PROFILE_DIR, where: str | None = None) -> Profile:
    """Profile selection on asset keys (an item's assets or a collection's item_assets)."""
    found = candidates(collection, directory)
    if not found:
        known = sorted({p.collection for p in profiles(directory).values()})
        raise ProfileError(f"no collection profile for {collection!r}; known: {', '.join(known)}; "
                           f"add one as {Path(directory)}/{collection}.yaml")
    if provider is not None:
        found = [p for p in found if p.provider == provider]
        if not found:
            offered = ", ".join(p.describe() for p in candidates(collection, directory))
            raise ProfileError(f"no {collection!r} profile from provider {provider!r}; profiles: {offered}")
    if asset_keys is None:
        return found[0]
    matching = [p for p in found if not p.missing_assets(asset_keys)]
    if not matching:
        reasons = "; ".join(f"{p.describe()} needs {', '.join(p.missing_assets(asset_keys))}" for p in found)
        raise ProfileError(f"no {collection!r} profile matches {where or 'the items'} (assets: "
                           f"{', '.join(sorted(asset_keys))}): {reasons}. Add a profile with this catalog's "
                           f"asset keys to {Path(directory)}/ (match.assets names the keys that identify it)")
    return matching[0]


def required_assets(profile: Profile, bands: Iterable[str]) -> dict[str, str]:
    """Common band name -> asset key for ``bands`` plus the mask band, in load order."""
    wanted = list(dict.fromkeys(list(bands) + ([profile.mask.band] if profile.mask else [])))
    return {band: profile.asset(band) for band in wanted}
