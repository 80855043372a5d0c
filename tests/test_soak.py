"""The soak harness, short: a minute and a half of a busy show on the driven clock."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak", ROOT / "benchmarks" / "soak.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_short_soak_keeps_audio_continuous_av_bounded_and_the_show_moving() -> None:
    soak = _soak_module()
    doc = asyncio.run(soak.soak(0.025, 30.0, 0, 1))
    assert soak.verdict(doc, 64.0) == [], doc
    assert doc["audio_holes"] == 0 and doc["av_offset_ms"]["max"] <= 100
    assert doc["lines_spoken"] >= 15 and doc["replies_spoken"] >= 5
    assert doc["questions"] >= 89 and doc["replies_dropped"] > 0  # the room is busier
    assert doc["engine"]["driver_errors"] == 0
