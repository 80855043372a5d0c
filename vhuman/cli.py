"""Command line: ``run_avatar.py`` / ``vhuman run`` and the ``vhuman`` subcommands.

Bad arguments and bad input files (settings, avatars) print one clear line and exit with
code 2, the same from every command; runtime errors from vhuman print one line and exit
with code 1. Tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vhuman import __version__
from vhuman.core.errors import AvatarLoadError, ConfigError, VhumanError

log = logging.getLogger("vhuman.cli")

#: Modules that contribute subcommands through ``add_subcommand(subparsers)``.
SUBCOMMAND_MODULES = (
    "vhuman.speech.cli",
    "vhuman.avatar.inspect",
    "vhuman.drivers.capture.models",
    "vhuman.safety.audit",
    "vhuman.plugins",
    "vhuman.drivers.capture.cli",
    "vhuman.avatar.default_host",
    "vhuman.scenes.cli",
    "vhuman.fleet.cli",
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage dumps."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _size(text: str) -> tuple[int, int]:
    from vhuman.engine.config import parse_size

    try:
        return parse_size(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _number(kind: type, lo: float, hi: float, what: str) -> Any:
    """An argparse type: ``kind`` within ``lo..hi``, with a one-line message otherwise."""
    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range {lo:g}..{hi:g}")
        return v
    return parse


def _push_url(text: str) -> str:
    """An RTMP address, or ``env:NAME`` to read it from the environment.

    The environment form exists because keys in a command line are visible to every user
    through ``ps``.
    """
    from vhuman.stream.rtmp_session import check_push_url

    if text.startswith("env:"):
        name = text[4:]
        value = os.environ.get(name, "").strip()
        if not value:
            raise argparse.ArgumentTypeError(f"environment variable {name} is empty or not set")
        text = value
    try:
        return check_push_url(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _mp4_path(text: str) -> str:
    from vhuman.stream.recorder import recording_path

    try:
        recording_path(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _chat_spec(text: str) -> tuple[str, dict[str, str]]:
    """``--chat NAME[:K=V,...]``: checked for form here, for options when the source is made."""
    from vhuman.chat.config import parse_chat_spec

    try:
        return parse_chat_spec(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _existing_file(text: str) -> str:
    if not Path(text).expanduser().is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file")
    return str(Path(text).expanduser())


_positive_int = _number(int, 1, 10**9, "a whole number")
_fps = _number(float, 1, 120, "a number")
_port = _number(int, 0, 65535, "a port number")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``run_avatar.py`` (also ``vhuman run``)."""
    g = p.add_argument_group("server")
    g.add_argument("--host", default="127.0.0.1", help="interface to listen on (default %(default)s)")
    g.add_argument("--port", type=_port, default=8765, help="port (default %(default)s)")
    g.add_argument("--codec", choices=("jpeg", "h264"), default="jpeg",
                   help="video codec on /media (default %(default)s)")
    g.add_argument("--token", default=os.environ.get("VHUMAN_TOKEN"),
                   help="control token, 16+ characters (default: $VHUMAN_TOKEN, else generated "
                        "and printed; required with a non-loopback --host)")
    g.add_argument("--chat-token", default=os.environ.get("VHUMAN_CHAT_TOKEN"),
                   help="token for /chat, separate from the control token (default: "
                        "$VHUMAN_CHAT_TOKEN, else generated and printed)")
    g.add_argument("--chat-open", action="store_true",
                   help="let /chat take messages without a token (loopback --host only)")
    g.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another Host name this server answers to, e.g. its public DNS name "
                        "(IP addresses and localhost always work; docs/security.md)")
    g.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="a web origin allowed to open websockets, e.g. https://studio.example")
    g = p.add_argument_group("picture")
    g.add_argument("--size", type=_size, default=(1280, 720), metavar="WxH",
                   help="frame size (default 1280x720)")
    g.add_argument("--fps", type=_fps, default=30.0, help="frame rate (default 30)")
    g.add_argument("--avatar", default="default",
                   help="'default' (realistic host), 'procedural', or a .glb/.gltf/.vrm file")
    g.add_argument("--avatar-overrides", type=_existing_file, metavar="FILE",
                   help="override file for --avatar (YAML/JSON: targets, bones, facing, "
                        "framing; docs/avatars.md); default: <avatar>.vhuman.yaml beside it")
    g.add_argument("--scene", help="scene YAML file")
    g = p.add_argument_group("motion and speech")
    g.add_argument("--driver", action="append", default=[], metavar="NAME[:K=V,...]",
                   help="add a driver layer, e.g. --driver nod or --driver livelink:port=11111")
    g.add_argument("--no-idle", action="store_true", help="disable the idle (blink/breath) layer")
    g.add_argument("--camera", metavar="SOURCE",
                   help="drive the face from a webcam index (0), a video file, a folder or URL")
    g.add_argument("--consent", metavar="OPERATOR",
                   help="record the operator's consent to face capture (else asked interactively)")
    g.add_argument("--calibrate", action="store_true", help="calibrate a neutral face first")
    g.add_argument("--body", action=argparse.BooleanOptionalAction, default=True,
                   help="with --camera, also drive the arms and fingers from the camera "
                        "(pose and hands; --no-body: face only)")
    g.add_argument("--record", metavar="TAKE.jsonl", help="record capture coefficients (no images)")
    g.add_argument("--replay", metavar="TAKE.jsonl", help="play a recorded take")
    g.add_argument("--say", action="append", default=[], metavar="TEXT",
                   help="speak TEXT once on start (repeatable)")
    g.add_argument("--voice", help="TTS voice, e.g. cmn or en-us")
    g.add_argument("--tts", default="espeak", help="TTS engine (default %(default)s)")
    g.add_argument("--show", metavar="SHOW.yaml", help="run a live-commerce show script")
    g.add_argument("--chat", action="append", default=[], type=_chat_spec,
                   metavar="NAME[:K=V,...]",
                   help="read a live room's chat, e.g. --chat bilibili:room=21452505 or "
                        "--chat webhook:port=8790,secret=env:VHUMAN_WEBHOOK_SECRET "
                        "(repeatable; see docs/chat.md and `vhuman plugins list`)")
    g.add_argument("--no-show", action="store_true", help="do not run the default demo show")
    g.add_argument("--start-segment", metavar="NAME",
                   help="start the show's first pass at segment NAME (vhuman fleet resumes "
                        "a restarted room with it)")
    g = p.add_argument_group("push and record (docs/streaming.md)")
    g.add_argument("--push", action="append", default=[], type=_push_url, metavar="URL",
                   help="push H.264+AAC to rtmp://host/app/streamkey or rtmps://..., or "
                        "env:VAR to read the address from $VAR (repeatable; the key is never "
                        "logged)")
    g.add_argument("--save", type=_mp4_path, metavar="FILE.mp4",
                   help="record to an MP4 file (live, or with --frames); strftime fields "
                        "like %%Y%%m%%d are expanded")
    g.add_argument("--bitrate", type=_number(int, 100, 50_000, "a whole number"),
                   metavar="KBIT", help="video bitrate for --push/--save in kbit/s "
                                        "(default 2500 at 1280x720, scaled by frame area)")
    g = p.add_argument_group("offline")
    g.add_argument("--frames", type=_positive_int, metavar="N",
                   help="render N frames offline on the simulated clock and exit")
    g.add_argument("--out", metavar="DIR", help="where --frames writes PNGs")
    p.add_argument("--log-level", default="info",
                   choices=("debug", "info", "warning", "error"))


def build_run_parser(prog: str = "run_avatar.py") -> argparse.ArgumentParser:
    """The parser of ``run_avatar.py``: the run options and ``--version``."""
    p = _Parser(prog=prog, description="vhuman: a live virtual host, served on a web page.")
    p.add_argument("--version", action="version", version=f"vhuman {__version__}")
    add_run_arguments(p)
    return p


_last_progress: list = [None]


def _progress(stage: str, fraction: float) -> None:
    """One redrawn bar on a terminal; in a log (not a TTY) one line per stage and 10%."""
    bar = "#" * int(fraction * 20)
    if sys.stderr.isatty():
        print(f"\r  {stage:<40} [{bar:<20}] {fraction * 100:5.1f}%", end="", file=sys.stderr,
              flush=True)
        if fraction >= 1.0:
            print(file=sys.stderr)
        return
    key = (stage, int(fraction * 10))
    if key != _last_progress[0]:
        _last_progress[0] = key
        print(f"  {stage:<40} [{bar:<20}] {fraction * 100:5.1f}%", file=sys.stderr, flush=True)


def run_command(args: argparse.Namespace) -> int:
    """Run the host (or render offline) from parsed ``args``."""
    if (args.frames is None) != (args.out is None):
        print("run_avatar.py: error: --frames and --out go together (see --help)", file=sys.stderr)
        return 2
    from vhuman.app import run_app

    try:
        return asyncio.run(run_app(args, progress=_progress))
    except KeyboardInterrupt:
        return 0


def run_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``run_avatar.py``."""
    args = build_run_parser().parse_args(argv)
    _setup_logging(args.log_level)
    return _guard(run_command, args)


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()),
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    # websockets logs every plain HTTP request (the page, /health) as a rejected handshake.
    logging.getLogger("websockets.server").setLevel(logging.WARNING)


def _guard(fn: Any, args: argparse.Namespace) -> int:
    try:
        return int(fn(args) or 0)
    except BrokenPipeError:  # output piped into head & co.
        return 0
    except (ConfigError, AvatarLoadError) as exc:  # bad input: the same 2 as `avatar inspect`
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except VhumanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The ``vhuman`` parser: ``run`` and every subcommand module that imports."""
    p = _Parser(prog="vhuman", description="vhuman: a real-time virtual human engine.")
    p.add_argument("--version", action="version", version=f"vhuman {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = sub.add_parser("run", help="run the live host (same as run_avatar.py)")
    add_run_arguments(run)
    run.set_defaults(func=run_command)
    for name in SUBCOMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:
            log.debug("subcommands of %s unavailable: %s", name, exc)
            continue
        add = getattr(mod, "add_subcommand", None)
        if add is not None:
            add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vhuman`` command."""
    p = build_parser()
    args = p.parse_args(argv)
    if not getattr(args, "command", None) or not hasattr(args, "func"):
        p.print_help()
        return 2
    _setup_logging(getattr(args, "log_level", "warning"))
    return _guard(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
