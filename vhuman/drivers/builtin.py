"""Registers the drivers that ship with vhuman (imported lazily by their factories)."""

from __future__ import annotations

from typing import Any

from vhuman.drivers.registry import DriverRegistry


def _load(module: str, attr: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), attr)


def register_builtins(reg: DriverRegistry) -> None:
    """Register the drivers shipped with vhuman in ``reg`` (origin ``builtin``)."""
    from vhuman.drivers.capture.driver import CaptureDriver
    from vhuman.drivers.cues import CuesDriver
    from vhuman.drivers.idle import IdleDriver
    from vhuman.drivers.livelink import LiveLinkDriver
    from vhuman.drivers.replay import ReplayDriver

    reg.register("idle", IdleDriver, origin="builtin")
    reg.register("cues", CuesDriver, origin="builtin")
    reg.register("livelink", LiveLinkDriver, origin="builtin")
    reg.register("capture", CaptureDriver, origin="builtin")
    reg.register("replay", ReplayDriver, origin="builtin")
    reg.register("mic", _load("vhuman.drivers.mic", "MicDriver"), origin="builtin")
    reg.register("wav_lipsync", _load("vhuman.drivers.audio_lipsync", "WavLipsyncDriver"),
                 origin="builtin")
