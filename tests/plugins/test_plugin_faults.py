"""A plugin that raises in its constructor, start, sample or stop: the show goes on, the
layer is left out or restarted, /health counts the truth and the log keeps the traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import types

import numpy as np

from vhuman.app import build_engine, make_engine
from vhuman.avatar.procedural import build_procedural_avatar
from vhuman.core.clock import SimClock
from vhuman.core.frames import Pose
from vhuman.drivers.idle import IdleDriver
from vhuman.drivers.isolation import IsolatedDriver
from vhuman.engine.config import EngineConfig

TICK = 1_000_000_000 // 30


class Plugin:
    priority = 10

    def __init__(self, name: str, fail_in: str) -> None:
        self.name, self.fail_in = name, fail_in

    async def start(self, ctx) -> None:
        if self.fail_in == "start":
            raise RuntimeError("start went wrong")

    def sample(self, t_ns: int):
        if self.fail_in == "sample":
            raise ValueError("sample went wrong")
        return Pose(t_ns, np.full(52, 0.2, np.float32), np.ones(52, np.float32), None, None)

    async def stop(self) -> None:
        if self.fail_in == "stop":
            raise OSError("stop went wrong")


def _engine(clock: SimClock):
    return make_engine(EngineConfig(width=64, height=48), build_procedural_avatar(), clock=clock)


def test_start_sample_and_stop_faults_are_contained_and_counted(caplog) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> dict:
        clock = SimClock()
        engine = _engine(clock)
        engine.add_driver(IdleDriver(), name="idle")
        bare = Plugin("bare-start", "start")  # not isolated: start raises
        engine.add_driver(bare, name="bare-start")
        for fail_in in ("start", "sample", "stop"):
            engine.add_driver(IsolatedDriver(Plugin(f"p-{fail_in}", fail_in),
                                             emit=engine.events.emit, clock=clock,
                                             first_backoff_s=0.5, max_backoff_s=1.0),
                              name=f"p-{fail_in}")
        events = []
        engine.events.subscribe(lambda e, f: events.append((e, f)))
        await engine.start()
        for i in range(150):  # 5 s of ticks: the mix goes on every tick
            clock.set(i * TICK)
            state = engine.step(i * TICK)
            assert state.t_ns == i * TICK
            await asyncio.sleep(0.002)
        await engine.stop()
        await asyncio.sleep(0.05)
        return {"health": engine.health(), "events": events}

    out = asyncio.run(main())
    h = out["health"]
    assert "bare-start" in h["layers_disabled"]
    by = {p["name"]: p for p in h["plugins"]}
    assert by["p-start"]["exceptions"] >= 1 and by["p-sample"]["exceptions"] >= 2
    assert by["p-sample"]["restarts"] >= 1  # restarted with backoff, failed again
    assert by["p-stop"]["errors"] >= 1  # its stop raised at shutdown
    assert h["driver_errors"] >= 1 + 1 + 2 + 1 and h["driver_restarts"] >= 1
    kinds = {(f["name"], f["kind"]) for e, f in out["events"] if e == "driver_error"}
    assert {("bare-start", "start"), ("p-start", "exception"),
            ("p-sample", "exception")} <= kinds
    # the warning is one line; the traceback is kept at debug level
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert any("sample went wrong" in str(r.exc_info[1]) for r in debug)
    assert any("start went wrong" in str(r.exc_info[1]) for r in debug)
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING
                   and "went wrong" in r.getMessage())


def test_a_plugin_whose_constructor_raises_does_not_end_the_run(monkeypatch) -> None:
    def create(name, **options):
        raise RuntimeError("cannot find my model file")

    fake = types.SimpleNamespace(
        create=create, info=lambda name: types.SimpleNamespace(origin="plugin"))
    monkeypatch.setattr("vhuman.app.default_registry", lambda: fake)
    args = argparse.Namespace(size=(64, 48), fps=30.0, host="127.0.0.1", port=0,
                              avatar="procedural", avatar_overrides=None, codec="jpeg",
                              driver=["acme-face"], voice=None, tts="espeak", scene=None,
                              no_idle=True)
    engine = build_engine(args, offline=True)
    h = engine.health()
    assert engine.driver_names() == []
    assert h["driver_errors"] == 1
    assert "cannot find my model file" in h["layers_disabled"]["acme-face"]
