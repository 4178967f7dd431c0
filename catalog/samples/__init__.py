"""Small real scenes shipped by Debian packages, registered as a local STAC catalog."""

from catalog.samples.build import DEFAULT_DIR, SCENES, build_samples, ensure_samples

__all__ = ["DEFAULT_DIR", "SCENES", "build_samples", "ensure_samples"]
