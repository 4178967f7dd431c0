"""Shared fixtures: the demo catalog (built once, where `make indicator` also finds it)."""

import pytest


@pytest.fixture(scope="session")
def demo_catalog() -> str:
    from catalog.demo import ensure_demo_catalog

    return str(ensure_demo_catalog())


@pytest.fixture(scope="session")
def demo_truth(demo_catalog) -> dict:
    from catalog.demo import load_truth

    return load_truth()
