"""Bilibili live danmaku as a chat source: ``--chat bilibili:room=ROOM,key=env:BILI_KEY``.

The asyncio layer over :mod:`vhuman.chat.bilibili_wire`: connect a websocket, send the
auth packet, wait for the auth reply, then heartbeat every ``heartbeat_s`` (30 s, as the
protocol asks) while reading packets. A connection that says nothing for
``2 × heartbeat_s + 10`` seconds is treated as dead. Reconnecting, state and the down
event come from :class:`~vhuman.chat.source.SupervisedSource`.

Options (all text, from ``--chat`` or a show's ``chat.sources``):

- ``room``: the live room id (numeric, the long id; required);
- ``key``: the auth token from the room's danmaku-info API (``env:NAME`` reads it from
  the environment; anonymous connections without it get masked user names);
- ``url``: the websocket address (default :data:`DEFAULT_URL`);
- ``uid``, ``buvid``: the account's uid and browser id, when you use a logged-in key;
- ``heartbeat_s`` (30), ``down_after_s`` (30), ``backoff_min_s`` (1), ``backoff_max_s`` (30).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import websockets

from vhuman.chat import bilibili_wire as wire
from vhuman.chat.source import Deliver, SupervisedSource, option_float, secret_option
from vhuman.core.errors import ConfigError, ProtocolError

DEFAULT_URL = "wss://broadcastlv.chat.bilibili.com/sub"
AUTH_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0


class BilibiliSource(SupervisedSource):
    """Comments, gifts and follows from one Bilibili live room."""

    name = "bilibili"

    def __init__(self, room: Any = None, key: Any = "", url: Any = DEFAULT_URL, uid: Any = 0,
                 buvid: Any = "", heartbeat_s: Any = 30.0, down_after_s: Any = 30.0,
                 backoff_min_s: Any = 1.0, backoff_max_s: Any = 30.0) -> None:
        super().__init__(down_after_s=down_after_s, backoff_min_s=backoff_min_s,
                         backoff_max_s=backoff_max_s)
        try:
            self.room = int(str(room))
            self.uid = int(str(uid))
        except ValueError:
            raise ConfigError(f"bilibili: room and uid must be numbers, got room={room!r} "
                              f"uid={uid!r}; e.g. --chat bilibili:room=21452505") from None
        if self.room <= 0:
            raise ConfigError("bilibili: room must be a positive room id")
        self.url = str(url)
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError(f"bilibili: url must start with wss:// (or ws://), got {url!r}")
        self.key = secret_option(key, "bilibili: key")
        self.buvid = str(buvid)
        self.heartbeat_s = option_float(heartbeat_s, "bilibili: heartbeat_s", 0.01, 300)
        self.popularity: int | None = None
        self.heartbeats_sent = 0

    def health(self) -> dict[str, Any]:
        """State and counters, plus the room, its popularity and heartbeats sent."""
        return {**super().health(), "room": self.room, "popularity": self.popularity,
                "heartbeats_sent": self.heartbeats_sent}

    async def session(self, deliver: Deliver) -> None:
        """Connect, authenticate, then read and heartbeat until the connection ends."""
        async with websockets.connect(self.url, max_size=wire.MAX_MESSAGE_BYTES,
                                      open_timeout=CONNECT_TIMEOUT_S, ping_interval=None,
                                      max_queue=64, close_timeout=2) as ws:
            await ws.send(wire.auth_packet(self.room, self.key, uid=self.uid, buvid=self.buvid,
                                           protover=wire.best_protover()))
            await self._await_auth(ws, deliver)
            self.connected()
            beat = asyncio.create_task(self._heartbeats(ws))
            try:
                await self._read(ws, deliver)
            finally:
                beat.cancel()
                await asyncio.gather(beat, return_exceptions=True)

    async def _await_auth(self, ws: Any, deliver: Deliver) -> None:
        end = time.monotonic() + AUTH_TIMEOUT_S
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"no auth reply within {AUTH_TIMEOUT_S:g} s")
            data = await asyncio.wait_for(ws.recv(), left)
            msgs, other = wire.messages_from(data, time.time())
            for p in other:
                if p.op == wire.OP_AUTH_REPLY:
                    if not wire.auth_ok(p):
                        raise ProtocolError("the server refused the auth packet (check room "
                                            "and key)")
                    for m in msgs:
                        deliver(m)
                    return

    async def _heartbeats(self, ws: Any) -> None:
        while True:
            await ws.send(wire.heartbeat_packet())
            self.heartbeats_sent += 1
            await asyncio.sleep(self.heartbeat_s)

    async def _read(self, ws: Any, deliver: Deliver) -> None:
        silence_s = 2 * self.heartbeat_s + 10
        while True:
            try:
                data = await asyncio.wait_for(ws.recv(), silence_s)
            except TimeoutError:
                raise ProtocolError(f"no data for {silence_s:g} s") from None
            msgs, other = wire.messages_from(data, time.time())
            for m in msgs:
                deliver(m)
            for p in other:
                pop = wire.popularity(p)
                if pop is not None:
                    self.popularity = pop
