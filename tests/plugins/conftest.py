"""Fixtures: the template installed with pip into a temp folder, and hand-made dists.

Plugins are found the way users' plugins are: through ``importlib.metadata`` entry points
on ``sys.path``. Nothing is installed into the venv itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "examples" / "plugin-template"

#: Misbehaving drivers, shipped by a fake distribution "vhuman-testplugins".
BAD_PLUGINS = '''
import time

import numpy as np

from vhuman.core.frames import Pose


class _Base:
    priority = 10

    def __init__(self):
        self.starts = 0
        self.stops = 0

    async def start(self, ctx):
        self.starts += 1

    async def stop(self):
        self.stops += 1


class Raiser(_Base):
    name = "raiser"

    def sample(self, t_ns):
        raise RuntimeError("camera unplugged")


class Sleeper(_Base):
    name = "sleeper"

    def sample(self, t_ns):
        time.sleep(0.2)  # blocks: exactly what the contract forbids
        return Pose(t_ns, np.full(52, 0.3, np.float32), np.ones(52, np.float32))


class NaNDriver(_Base):
    name = "nan"

    def sample(self, t_ns):
        w = np.zeros(52, np.float32)
        w[17] = np.nan
        return Pose(t_ns, w, np.ones(52, np.float32))


class EchoChat:
    name = "echo"

    def __init__(self, lines="hello"):
        self.lines = lines.split("|")

    async def messages(self):
        for i, text in enumerate(self.lines):
            yield {"user": "viewer", "text": text, "ts": float(i)}

    async def close(self):
        pass


class SilentTTS:
    name = "silent"

    def __init__(self, voice="none"):
        self.voice = voice
'''

ENTRY_POINTS = """\
[vhuman.drivers]
raiser = vhuman_badplugins:Raiser
sleeper = vhuman_badplugins:Sleeper
nan = vhuman_badplugins:NaNDriver
broken = vhuman_brokenplugin:Driver

[vhuman.chat]
echo = vhuman_badplugins:EchoChat

[vhuman.tts]
silent = vhuman_badplugins:SilentTTS
"""


def _forget_modules(prefixes: tuple[str, ...]) -> None:
    for name in list(sys.modules):
        if name.startswith(prefixes):
            del sys.modules[name]


@pytest.fixture(scope="session")
def template_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin template, pip-installed (no deps) into a temp folder.

    The source is copied first so the build never writes into the repository.
    """
    work = tmp_path_factory.mktemp("template")
    src = work / "src"
    shutil.copytree(TEMPLATE, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                 "__pycache__"))
    site = work / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
           "--disable-pip-version-check", "--target", str(site), str(src)]
    if importlib.util.find_spec("wheel") is not None:
        # Offline-friendly and faster: build with the setuptools already in this venv.
        cmd.insert(4, "--no-build-isolation")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"pip could not install the template:\n{proc.stderr[-3000:]}"
    return site


@pytest.fixture(scope="session")
def fake_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a hand-made dist-info with bad plugins and an import-broken one."""
    site = tmp_path_factory.mktemp("fake_site")
    (site / "vhuman_badplugins.py").write_text(textwrap.dedent(BAD_PLUGINS))
    (site / "vhuman_brokenplugin.py").write_text(
        "raise ImportError('vhuman_brokenplugin needs libfoo 2.0 (pip install foo)')\n")
    dist = site / "vhuman_testplugins-0.3.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vhuman-testplugins\nVersion: 0.3.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


@pytest.fixture
def plugin_path(template_site: Path, fake_site: Path):
    """Put both plugin folders on sys.path for one test, then take them off again."""
    added = [str(template_site), str(fake_site)]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield added
    finally:
        for p in added:
            sys.path.remove(p)
        importlib.invalidate_caches()
        _forget_modules(("vhuman_nod", "vhuman_badplugins", "vhuman_brokenplugin"))


@pytest.fixture
def fake_path(fake_site: Path):
    """Only the hand-made dist on sys.path (fast: no pip)."""
    sys.path.insert(0, str(fake_site))
    importlib.invalidate_caches()
    try:
        yield fake_site
    finally:
        sys.path.remove(str(fake_site))
        importlib.invalidate_caches()
        _forget_modules(("vhuman_badplugins", "vhuman_brokenplugin"))
