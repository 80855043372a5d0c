"""Assembles a running host from command-line arguments.

Avatar, drivers, speech, show, server. The engine knows nothing about sockets; the server
nothing about GL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from vhuman.avatar.resolve import resolve_avatar
from vhuman.core.clock import SimClock, SystemClock
from vhuman.core.errors import ConfigError
from vhuman.drivers.registry import default_registry, parse_driver_spec
from vhuman.engine.config import EngineConfig
from vhuman.engine.engine import Engine
from vhuman.render import renderer_factory

log = logging.getLogger("vhuman.app")

Progress = Callable[[str, float], None]


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    """The engine configuration (size, fps, address, avatar, drivers, voice) from CLI args."""
    w, h = args.size
    return EngineConfig(width=w, height=h, fps=args.fps, host=args.host, port=args.port,
                        avatar=args.avatar, avatar_overrides=args.avatar_overrides,
                        codec=args.codec, drivers=tuple(args.driver),
                        voice=args.voice, tts_engine=args.tts)


def make_engine(config: EngineConfig, avatar, *, clock=None) -> Engine:
    """An engine drawing ``avatar`` with the moderngl renderer (not started)."""
    return Engine(config, avatar, clock=clock,
                  make_renderer=renderer_factory(avatar, config.width, config.height))


def build_engine(args: argparse.Namespace, *, offline: bool,
                 progress: Progress | None = None) -> Engine:
    """Create the engine with its avatar and driver layers (not started)."""
    cfg = config_from_args(args)
    t0 = time.monotonic()
    spec, overrides = cfg.avatar, cfg.avatar_overrides
    if args.scene:  # a scene file may name the host (the command line wins)
        from vhuman.avatar.resolve import avatar_choice
        from vhuman.scenes.scene import load_scene

        spec, overrides = avatar_choice(cfg.avatar, cfg.avatar_overrides, load_scene(args.scene))
    avatar = resolve_avatar(spec, overrides=overrides, progress=progress)
    log.info("avatar %s ready in %.1f s", avatar.name, time.monotonic() - t0)
    clock = SimClock() if offline else SystemClock()
    engine = make_engine(cfg, avatar, clock=clock)
    registry = default_registry()
    if not args.no_idle:
        engine.add_driver(registry.create("idle"))
    for spec in cfg.drivers:
        name, options = parse_driver_spec(spec)
        info = registry.info(name)
        plugin = info is not None and info.origin != "builtin"
        try:
            driver = registry.create(name, **options)
        except Exception as exc:
            if not plugin:
                raise  # a built-in with bad options is a configuration error
            engine.driver_failed(name, "constructor", exc)  # a broken plugin: go on without it
            continue
        if plugin:
            driver = _isolate(driver, engine)
        engine.add_driver(driver, name=name)
    return engine


def _isolate(driver, engine: Engine):
    """Wrap a plugin so an exception or a slow sample cannot stall the tick."""
    try:
        from vhuman.drivers.isolation import IsolatedDriver
    except ImportError:  # isolation not available: run it bare
        return driver
    return IsolatedDriver(driver, emit=engine.events.emit, clock=engine.clock)


ASSETS = Path(__file__).resolve().parent / "assets"  # package data: shows, scenes, products
DEMO_SHOW = ASSETS / "shows" / "demo_zh.yaml"
WELCOME = ("大家好，欢迎来到直播间！", "Hello everyone, welcome to the live room!")


def _add_capture(args: argparse.Namespace, engine: Engine, offline: bool) -> None:
    """--camera / --replay layers; the camera opens only after consent is recorded."""
    registry = default_registry()
    if args.camera is not None:
        from vhuman.safety.audit import AuditLog, default_audit_path
        from vhuman.safety.consent import require_consent

        audit = AuditLog(default_audit_path())
        consent = require_consent(args.consent, interactive=sys.stdin.isatty(), audit=audit)
        engine.add_driver(registry.create("capture", source=args.camera, consent=consent,
                                          audit=audit, record=args.record, offline=offline,
                                          body=args.body))
    if args.replay is not None:
        engine.add_driver(registry.create("replay", path=args.replay))


class Live:
    """The show side of a run: speaker, host, runner (None when not wanted)."""

    def __init__(self, args: argparse.Namespace, engine: Engine, *, offline: bool) -> None:
        from vhuman.drivers.lipsync import LipsyncDriver
        from vhuman.scenes.scene import default_scene, load_scene
        from vhuman.scenes.show_loader import load_show
        from vhuman.speech.queue import Speaker
        from vhuman.studio.studio import Studio

        self.show = None
        show_path = args.show
        if show_path is None and not args.no_show and not args.say and args.camera is None \
                and args.replay is None and DEMO_SHOW.exists():
            show_path = str(DEMO_SHOW)
        self.moderator = self._moderator(engine)
        if show_path is not None:
            self.show = load_show(show_path, moderator=self.moderator)
        scene = load_scene(args.scene) if args.scene else (
            self.show.scene if self.show is not None else default_scene())
        self.speaker = Speaker(engine.clock, engine=engine.config.tts_engine,
                               voice=engine.config.voice, out_rate=engine.config.audio_rate,
                               lipsync=LipsyncDriver())
        self.host = Studio(engine, self.speaker, scene, moderator=self.moderator,
                           background_raster=not offline)
        self.runner = None
        self.engine = engine
        self.args = args

    def _moderator(self, engine: Engine):
        from vhuman.safety.audit import AuditLog, default_audit_path
        from vhuman.safety.moderation import Moderator

        return Moderator.default(audit=AuditLog(default_audit_path()), emit=engine.events.emit)

    def start(self) -> None:
        """Queue --say lines and start the show runner (call on the running loop)."""
        from vhuman.scenes.runner import ShowRunner

        for text in self.args.say:
            self._say_checked(text, "say", "--say")
        # The host greets in both languages on start; a show's own lines follow.
        resuming = getattr(self.args, "start_segment", None)
        if not self.args.say and self.args.frames is None and not resuming:
            for text in WELCOME:
                self._say_checked(text, "welcome", "welcome")
        self.runner = ShowRunner(self.host, self.show, start_segment=resuming)
        self._task = asyncio.ensure_future(self.runner.run())

    def _say_checked(self, text: str, kind: str, source: str) -> None:
        from vhuman.core.errors import ModerationBlocked
        from vhuman.safety.moderation import describe_hits

        try:
            self.host.say(text, kind=kind, source=source)
        except ModerationBlocked as exc:
            raise ConfigError(f"{source} text blocked by moderation: "
                              f"{describe_hits(exc.hits)}") from None

    async def stop(self) -> None:
        """Stop the show runner, then close the speaker and the host."""
        if self.runner is not None:
            self.runner.stop()
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001, S110 - we cancelled it
                pass
        self.speaker.close()
        self.host.close()


def label_recording(outputs, live: Live) -> None:
    """The recording's metadata carries the room's AI label (set before it opens)."""
    from vhuman.safety.label import ensure_label

    if getattr(outputs, "recorder", None) is not None:
        outputs.recorder.label = ensure_label(live.host.compositor.scene.ai_label.text)


async def run_offline(args: argparse.Namespace, progress: Progress | None) -> int:
    """Render ``--frames`` unpaced ticks to PNGs in ``--out`` (and to any outputs).

    Returns:
        The process exit code (0).
    """
    from PIL import Image

    from vhuman.stream.outputs import outputs_from_args

    out = Path(args.out)
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    outputs = outputs_from_args(args, offline=True)  # --save: checked before the slow part
    engine = build_engine(args, offline=True, progress=progress)
    _add_capture(args, engine, offline=True)
    live = Live(args, engine, offline=True)  # the AI label is always on, show or not
    await engine.start()
    if outputs is not None:
        label_recording(outputs, live)
        outputs.attach(engine)
        outputs.start()
    if live is not None:
        live.start()
    try:
        def save(i: int, frame) -> None:  # the outputs have it from engine.media already
            Image.fromarray(frame.rgba[:, :, :3]).save(out / f"frame_{i:05d}.png",
                                                       compress_level=1)
            if progress is not None:
                progress("rendering frames", (i + 1) / args.frames)

        await engine.render_offline(args.frames, save)
    finally:
        if live is not None:
            await live.stop()
        await engine.stop()
        if outputs is not None:
            await outputs.stop()
    print(f"wrote {args.frames} frames to {out}")
    if outputs is not None and outputs.recorder is not None:
        print(f"recorded {outputs.recorder.path}")
    return 0


def check_access(args: argparse.Namespace) -> None:
    """Tokens and exposure, before anything slow starts (docs/security.md).

    Raises:
        ConfigError: a weak token, the same token for /control and /chat, --chat-open or
            a missing token on a non-loopback --host.
    """
    from vhuman.api.auth import check_token
    from vhuman.stream.guard import exposure_problem, is_loopback

    if args.token:
        check_token(args.token, "control token")
    chat_token = getattr(args, "chat_token", None)
    if chat_token:
        check_token(chat_token, "chat token")
        if chat_token == args.token:
            raise ConfigError("--chat-token must differ from --token: a chat bridge must not "
                              "be able to steer the show")
    problem = exposure_problem(args.host, control_token=args.token, chat_token=chat_token,
                               chat_open=getattr(args, "chat_open", False))
    if problem is not None:
        raise ConfigError(problem)
    if not is_loopback(args.host):
        print(f"warning: --host {args.host} listens beyond this machine; anyone who can "
              "reach the port can watch; /control and /chat need their tokens",
              file=sys.stderr, flush=True)


async def run_live(args: argparse.Namespace, progress: Progress | None) -> int:
    """Serve the live host (page, media, control, chat, outputs) until stopped.

    Returns:
        The process exit code.
    """
    from vhuman.api.auth import AuthThrottle
    from vhuman.api.chat import ChatIntake, chat_handler
    from vhuman.api.chat_hub import build_hub
    from vhuman.api.control import control_handler, generate_token
    from vhuman.safety.paths import FileRoots
    from vhuman.stream.outputs import outputs_from_args
    from vhuman.stream.server import MediaServer

    check_access(args)
    # --push/--save checked first; with --codec h264 the /media viewers share the one x264
    outputs = outputs_from_args(args, offline=False, media_h264=args.codec == "h264")
    engine = build_engine(args, offline=False, progress=progress)
    _add_capture(args, engine, offline=False)
    live = Live(args, engine, offline=False)
    cfg = engine.config
    server = MediaServer(cfg.host, cfg.port, width=cfg.width, height=cfg.height, fps=cfg.fps,
                         codec=cfg.codec, jpeg_quality=cfg.jpeg_quality,
                         audio_rate=cfg.audio_rate,
                         outputs=outputs if cfg.codec == "h264" else None,
                         label=live.host.compositor.scene.ai_label.text)
    server.allow_hosts(getattr(args, "allow_host", []), getattr(args, "allow_origin", []))
    engine.media.subscribe(server.consume)
    hubs: list = []  # the chat hub, once the runner exists
    server.set_health_provider(lambda: {**engine.health(),
                                        "speech": live.speaker.health(),
                                        "show": live.runner.status() if live.runner else None,
                                        **(outputs.health() if outputs else {}),
                                        **(hubs[0].health() if hubs else {})})
    if outputs is not None:
        outputs.attach(engine)
    await server.start()  # first: a taken port must fail before anything else runs
    try:
        await engine.start()
    except BaseException:
        await server.stop()
        raise
    if outputs is not None:
        label_recording(outputs, live)
        outputs.start()
    live.start()
    intake = ChatIntake(live.runner, live.moderator)
    try:  # platform chat sources (--chat, the show's chat:) and the reply tiers
        show = live.runner.show
        hub = build_hub(live.runner, intake, live.moderator,
                        extras=show.chat.extras if show else None, specs=args.chat,
                        emit=live.host.emit, lang=show.language if show else "zh")
        await hub.start()
    except BaseException:
        await live.stop()
        await engine.stop()
        await server.stop()
        raise
    hubs.append(hub)

    def on_show_loaded(event: str, fields: dict) -> None:  # /control load_show
        if event == "show_loaded" and live.runner.show is not None:
            hub.configure(live.runner.show.chat.extras, lang=live.runner.show.language)

    live.host.subscribe(on_show_loaded)
    token = args.token or generate_token()
    chat_open = getattr(args, "chat_open", False)
    chat_token = None if chat_open else (getattr(args, "chat_token", None) or generate_token())
    throttle = AuthThrottle()  # one budget of wrong tokens for /control and /chat together
    origins = tuple(getattr(args, "allow_origin", []))
    server.add_websocket_route("/control", control_handler(
        live.host, live.runner, token, origins, moderator=live.moderator,
        shows_dir=ASSETS / "shows", scenes_dir=ASSETS / "scenes",
        roots=FileRoots.of(ASSETS), throttle=throttle))
    server.add_websocket_route("/chat", chat_handler(
        intake, live.runner, token=chat_token, allowed_origins=origins, throttle=throttle,
        hub=hub))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, engine.request_stop)
        except (NotImplementedError, RuntimeError):
            pass
    print(f"vhuman is live: open {server.url} (Ctrl+C to stop)", flush=True)
    if not args.token:
        print(f"control token (for /control): {token}", flush=True)
    if chat_token is not None and not getattr(args, "chat_token", None):
        print(f"chat token (for /chat): {chat_token}", flush=True)
    try:
        await engine.run()
    finally:
        await hub.stop()
        await live.stop()
        await engine.stop()  # first: its last frames still have somewhere to go
        if outputs is not None:
            await outputs.stop()  # finalises the recording, whatever the viewers do
        await server.stop()  # aborts stuck viewers at once (no close-timeout wait)
    return 0


async def run_app(args: argparse.Namespace, progress: Progress | None = None) -> int:
    """Run offline when ``--frames`` is given, else live.

    Returns:
        The process exit code.
    """
    if args.frames is not None:
        return await run_offline(args, progress)
    return await run_live(args, progress)
