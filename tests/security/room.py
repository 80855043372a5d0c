"""A live room on loopback for the security tests: the real MediaServer (JPEG /media with
frames submitted at 30 fps on the loop), /control and /chat over the real handlers, a show
runner on the simulated host, and a folder of shows/scenes the network may name files in.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any, Self

import numpy as np
from simhost import SimHost

from vhuman.api.auth import AuthThrottle
from vhuman.api.chat import ChatIntake, chat_handler
from vhuman.api.control import control_handler
from vhuman.core.frames import VideoFrame
from vhuman.safety.moderation import Moderator
from vhuman.safety.paths import FileRoots
from vhuman.scenes.runner import ShowRunner
from vhuman.scenes.show_loader import load_show_text
from vhuman.stream.server import MediaServer

CONTROL_TOKEN = "control-token-0123456789abcdef"
CHAT_TOKEN = "chat-token-0123456789abcdefghij"
W, H, FPS = 160, 120, 30

SHOW = """\
title: 安全测试
products:
  - {id: a, name: 龙井, price: 89}
segments:
  - steps: [大家好]
chat:
  default_reply: 谢谢
"""


def make_roots(tmp: Path) -> tuple[Path, Path]:
    """shows/ and scenes/ under tmp (the allowed root), a secret outside it, and a symlink
    inside that points out."""
    root = tmp / "assets"
    (root / "shows").mkdir(parents=True)
    (root / "scenes").mkdir()
    (root / "shows" / "ok.yaml").write_text(SHOW, encoding="utf-8")
    (root / "scenes" / "plain.yaml").write_text("title: 好物直播间\n", encoding="utf-8")
    (root / "scenes" / "bg.png").write_bytes(b"\x89PNG")
    secret = tmp / "secret.yaml"
    secret.write_text("title: TOPSECRET-VALUE\nbackground: {color: TOPSECRET-COLOR}\n")
    (root / "scenes" / "link.yaml").symlink_to(secret)
    (root / "scenes" / "link.png").symlink_to(tmp / "secret.yaml")
    return root / "shows", root / "scenes"


class Room:
    """Server + handlers + a frame feeder; ``async with Room(tmp) as room``."""

    def __init__(self, tmp: Path, *, throttle: AuthThrottle | None = None) -> None:
        self.shows, self.scenes = make_roots(tmp)
        self.host = SimHost()
        self.runner = ShowRunner(self.host, load_show_text(SHOW, "s.yaml"))
        self.moderator = Moderator.default(emit=self.host.emit)
        self.host.lines.moderator = self.moderator
        self.throttle = throttle or AuthThrottle(burst=1000, per_s=1000)
        self.server = MediaServer("127.0.0.1", 0, width=W, height=H, fps=FPS, codec="jpeg",
                                  label="")
        self._feeder: asyncio.Task | None = None

    async def __aenter__(self) -> Self:
        s = self.server
        s.add_websocket_route("/control", control_handler(
            self.host, self.runner, CONTROL_TOKEN, moderator=self.moderator,
            shows_dir=self.shows, scenes_dir=self.scenes,
            roots=FileRoots.of(self.shows.parent), throttle=self.throttle))
        s.add_websocket_route("/chat", chat_handler(
            ChatIntake(self.runner, self.moderator), self.runner, token=CHAT_TOKEN,
            throttle=self.throttle))
        s.set_health_provider(lambda: {"recording": {"path": "/home/producer/secret/show.mp4",
                                                     "last_error": "cannot write /var/x/y.mp4"}})
        await s.start()
        self._feeder = asyncio.create_task(self._feed())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._feeder is not None:
            self._feeder.cancel()
        await self.server.stop()

    async def _feed(self) -> None:
        """Frames on an absolute 30 fps schedule, submitted on the loop (as the engine)."""
        period = 1 / FPS
        t0 = time.monotonic()
        n = 0
        rgba = np.zeros((H, W, 4), np.uint8)
        rgba[..., 3] = 255
        while True:
            n += 1
            await asyncio.sleep(max(0.0, t0 + n * period - time.monotonic()))
            rgba[..., 0] = n % 255
            self.server.submit_video(VideoFrame(int((time.monotonic() - t0) * 1e9),
                                                rgba.copy()))

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}"

    def raw_status(self, path: str, headers: dict[str, str], ws: bool = False) -> int:
        """The status code of one raw HTTP/1.1 request (a handshake when ``ws``)."""
        lines = [f"GET {path} HTTP/1.1"]
        hdrs = dict(headers)
        if ws:
            hdrs.update({"Upgrade": "websocket", "Connection": "Upgrade",
                         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                         "Sec-WebSocket-Version": "13"})
        lines += [f"{k}: {v}" for k, v in hdrs.items()]
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = sock.recv(4096).split(b"\r\n", 1)[0].decode()
        return int(head.split()[1])


def req(op: str, id_: str = "1", **fields: Any) -> str:
    return json.dumps({"id": id_, "op": op, **fields}, ensure_ascii=False)
