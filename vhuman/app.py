"""Assembles a running host from command-line arguments: avatar, drivers, speech, show,
server. The engine knows nothing about sockets; the server nothing about GL."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from vhuman.avatar.resolve import resolve_avatar
from vhuman.drivers.registry import default_registry, parse_driver_spec
from vhuman.engine.clock import SimClock, SystemClock
from vhuman.engine.config import EngineConfig
from vhuman.engine.engine import Engine
from vhuman.errors import ConfigError

log = logging.getLogger("vhuman.app")

Progress = Callable[[str, float], None]


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    w, h = args.size
    return EngineConfig(width=w, height=h, fps=args.fps, host=args.host, port=args.port,
                        avatar=args.avatar, codec=args.codec, drivers=tuple(args.driver),
                        voice=args.voice, tts_engine=args.tts)


def build_engine(args: argparse.Namespace, *, offline: bool,
                 progress: Progress | None = None) -> Engine:
    """Create the engine with its avatar and driver layers (not started)."""
    cfg = config_from_args(args)
    t0 = time.monotonic()
    avatar = resolve_avatar(cfg.avatar, progress=progress)
    log.info("avatar %s ready in %.1f s", avatar.name, time.monotonic() - t0)
    clock = SimClock() if offline else SystemClock()
    engine = Engine(cfg, avatar, clock=clock)
    registry = default_registry()
    if not args.no_idle:
        engine.add_driver(registry.create("idle"))
    for spec in cfg.drivers:
        name, options = parse_driver_spec(spec)
        driver = registry.create(name, **options)
        info = registry.info(name)
        if info is not None and info.origin != "builtin":
            driver = _isolate(driver, engine)
        engine.add_driver(driver, name=name)
    return engine


def _isolate(driver, engine: Engine):
    """Wrap a plugin so an exception or a slow sample cannot stall the tick."""
    try:
        from vhuman.engine.isolation import IsolatedDriver
    except ImportError:  # isolation not available: run it bare
        return driver
    return IsolatedDriver(driver, emit=engine.events.emit, clock=engine.clock)


async def run_offline(args: argparse.Namespace, progress: Progress | None) -> int:
    from PIL import Image

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engine = build_engine(args, offline=True, progress=progress)
    await engine.start()
    try:
        def save(i: int, frame) -> None:
            Image.fromarray(frame.rgba[:, :, :3]).save(out / f"frame_{i:05d}.png",
                                                       compress_level=1)
            if progress is not None:
                progress("rendering frames", (i + 1) / args.frames)

        await engine.render_offline(args.frames, save)
    finally:
        await engine.stop()
    print(f"wrote {args.frames} frames to {out}")
    return 0


async def run_live(args: argparse.Namespace, progress: Progress | None) -> int:
    from vhuman.stream.server import MediaServer

    engine = build_engine(args, offline=False, progress=progress)
    cfg = engine.config
    server = MediaServer(cfg.host, cfg.port, width=cfg.width, height=cfg.height, fps=cfg.fps,
                         codec=cfg.codec, jpeg_quality=cfg.jpeg_quality)
    engine.add_video_sink(server.submit_video)
    engine.add_audio_sink(server.submit_audio)
    server.set_health_provider(engine.health)
    await engine.start()
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, engine.request_stop)
        except (NotImplementedError, RuntimeError):
            pass
    print(f"vhuman is live: open {server.url} (Ctrl+C to stop)", flush=True)
    try:
        await engine.run()
    finally:
        await server.stop()
        await engine.stop()
    return 0


async def run_app(args: argparse.Namespace, progress: Progress | None = None) -> int:
    if args.frames is not None:
        return await run_offline(args, progress)
    return await run_live(args, progress)
