"""Collection profiles: per-collection facts kept as data (catalog/profiles/*.yaml).

A recipe names bands by common name; the profile says which asset holds it, which
bands are categorical (never interpolated), how pixels are masked and which property
carries cloud cover. Adding a collection is a new YAML file, not new code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

PROFILE_DIR = Path(__file__).parent / "profiles"


class ProfileError(ValueError):
    """A collection or band the profiles do not describe."""


@dataclass(frozen=True)
class MaskRule:
    """Pixels whose ``band`` value is in ``invalid`` are masked in every other band."""

    band: str
    invalid: tuple[int, ...]


@dataclass(frozen=True)
class Profile:
    collection: str
    bands: Mapping[str, str]
    categorical: frozenset[str]
    nodata: int | float | None
    mask: MaskRule | None
    cloud_cover_property: str | None
    groupby: str
    source: Path

    def asset(self, band: str) -> str:
        """Asset key of a common band name, with an error that lists the valid names."""
        try:
            return self.bands[band]
        except KeyError:
            raise ProfileError(f"band {band!r} is not in the {self.collection} profile ({self.source}); "
                               f"valid bands: {', '.join(self.bands)}") from None


def _parse(path: Path) -> Profile:
    data = yaml.safe_load(path.read_text())
    expected = {"collection", "bands", "categorical", "nodata", "mask", "cloud_cover_property", "groupby"}
    if set(data) != expected:
        raise ProfileError(f"{path}: keys must be exactly {sorted(expected)}; got {sorted(data)}")
    mask = data["mask"]
    return Profile(
        collection=data["collection"],
        bands=dict(data["bands"]),
        categorical=frozenset(data["categorical"]),
        nodata=data["nodata"],
        mask=MaskRule(band=mask["band"], invalid=tuple(mask["invalid"])) if mask else None,
        cloud_cover_property=data["cloud_cover_property"],
        groupby=data["groupby"],
        source=path,
    )


@cache
def profiles() -> dict[str, Profile]:
    """All profiles shipped with the package, by collection id."""
    found = {}
    for path in sorted(PROFILE_DIR.glob("*.yaml")):
        profile = _parse(path)
        found[profile.collection] = profile
    return found


def get_profile(collection: str) -> Profile:
    try:
        return profiles()[collection]
    except KeyError:
        raise ProfileError(f"no collection profile for {collection!r}; known: {', '.join(profiles())}; "
                           f"add one as {PROFILE_DIR}/{collection}.yaml") from None
