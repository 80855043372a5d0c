"""Bilibili danmaku: the wire format, and the source against a local server speaking it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import brotli
import pytest
from websockets.asyncio.server import serve

from vhuman.chat import bilibili_wire as wire
from vhuman.chat.bilibili import BilibiliSource
from vhuman.chat.source import CONNECTED, DOWN, RECONNECTING, wait_for
from vhuman.core.errors import ConfigError, ProtocolError


def danmu(user: str, text: str, ts_ms: int = 1_700_000_000_000) -> bytes:
    cmd = {"cmd": "DANMU_MSG:4:0:2:2:2:0",
           "info": [[0, 1, 25, 16777215, ts_ms, 0, 0, "", 0], text, [42, user, 0, 0, 0]]}
    return wire.encode_packet(wire.OP_MESSAGE, json.dumps(cmd, ensure_ascii=False).encode(),
                              ver=wire.VER_JSON)


def gift(user: str, name: str, num: int) -> bytes:
    cmd = {"cmd": "SEND_GIFT", "data": {"uname": user, "giftName": name, "num": num,
                                        "timestamp": 1_700_000_001}}
    return wire.encode_packet(wire.OP_MESSAGE, json.dumps(cmd, ensure_ascii=False).encode(),
                              ver=wire.VER_JSON)


def follow(user: str) -> bytes:
    cmd = {"cmd": "INTERACT_WORD", "data": {"uname": user, "msg_type": 2}}
    return wire.encode_packet(wire.OP_MESSAGE, json.dumps(cmd, ensure_ascii=False).encode(),
                              ver=wire.VER_JSON)


# -- Sans-I/O -----------------------------------------------------------------------------

def test_header_round_trip_and_auth_packet() -> None:
    pkt = wire.auth_packet(1234, "tok", uid=7)
    length, hlen, _ver, op, seq = wire.HEADER.unpack_from(pkt)
    assert (length, hlen, op, seq) == (len(pkt), 16, wire.OP_AUTH, 1)
    body = json.loads(pkt[16:])
    assert body["roomid"] == 1234 and body["key"] == "tok" and body["protover"] == 3
    [p] = wire.parse_message(wire.heartbeat_packet())
    assert p.op == wire.OP_HEARTBEAT


def test_zlib_and_brotli_bodies_expand_to_messages_in_order() -> None:
    inner = danmu("甲", "多少钱") + gift("乙", "小心心", 3) + follow("丙")
    for ver in (wire.VER_ZLIB, wire.VER_BROTLI):
        data = wire.compress(inner, ver) + danmu("丁", "在吗")
        msgs, other = wire.messages_from(data, now=5.0)
        assert [(m["kind"], m["user"]) for m in msgs] == [
            ("chat", "甲"), ("gift", "乙"), ("follow", "丙"), ("chat", "丁")]
        assert msgs[0]["text"] == "多少钱" and msgs[0]["ts"] == 1_700_000_000.0
        assert msgs[1]["gift"] == "小心心" and msgs[1]["count"] == 3
        assert other == []


@pytest.mark.parametrize("data, why", [
    (b"\x00\x00\x00\x20\x00\x10\x00\x00", "shorter than a header"),
    (wire.HEADER.pack(999, 16, 0, 5, 1) + b"{}", "bad packet lengths"),
    (wire.encode_packet(5, b"not zlib", ver=wire.VER_ZLIB), "corrupt"),
    (wire.encode_packet(5, brotli.compress(b"\x00" * 100)[:5], ver=wire.VER_BROTLI),
     "truncated"),
])
def test_malformed_messages_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        wire.parse_message(data)


def test_bombs_and_nesting_are_bounded() -> None:
    bomb = wire.encode_packet(5, zlib.compress(b"\x00" * (wire.MAX_DECOMPRESSED_BYTES + 10)),
                              ver=wire.VER_ZLIB)
    with pytest.raises(ProtocolError, match="expands past"):
        wire.parse_message(bomb)
    nested = danmu("a", "b")
    for _ in range(wire.MAX_DEPTH + 1):
        nested = wire.compress(nested, wire.VER_ZLIB)
    with pytest.raises(ProtocolError, match="nested deeper"):
        wire.parse_message(nested)
    deep = b"[" * 100 + b"]" * 100
    with pytest.raises(ProtocolError, match="nested deeper"):
        wire.decode_json(deep)


def test_hostile_text_is_dropped_not_broadcast() -> None:
    bad = {"cmd": "DANMU_MSG", "info": [[], "\ud800bad", [1, "u"]]}
    ctrl = {"cmd": "DANMU_MSG", "info": [[], "a\x07b", [1, "u"]]}
    odd = {"cmd": "DANMU_MSG", "info": "nope"}
    assert wire.to_messages(bad, 0) == [] and wire.to_messages(ctrl, 0) == []
    assert wire.to_messages(odd, 0) == [] and wire.to_messages({"cmd": "X"}, 0) == []
    enter = {"cmd": "INTERACT_WORD", "data": {"uname": "u", "msg_type": 1}}
    assert wire.to_messages(enter, 0) == []  # entering the room is not a follow


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="room"):
        BilibiliSource(room="abc")
    with pytest.raises(ConfigError, match="BILI_NOPE"):
        BilibiliSource(room=1, key="env:BILI_NOPE")


# -- against a local server ---------------------------------------------------------------

class DanmakuServer:
    """Speaks the server side: checks auth, answers heartbeats, sends compressed batches.

    Connection 1 sends a zlib batch, a brotli batch, then drops mid-stream (no close
    frame). Connection 2 sends one more batch and stays open.
    """

    def __init__(self, room: int, key: str) -> None:
        self.room, self.key = room, key
        self.connections = 0
        self.heartbeats = 0
        self.auths: list[dict] = []

    async def handler(self, ws) -> None:
        self.connections += 1
        n = self.connections
        [auth] = wire.parse_message(await ws.recv())
        body = json.loads(auth.body)
        self.auths.append(body)
        ok = auth.op == wire.OP_AUTH and body["roomid"] == self.room and body["key"] == self.key
        await ws.send(wire.encode_packet(wire.OP_AUTH_REPLY,
                                         json.dumps({"code": 0 if ok else -101}).encode()))
        if not ok:
            return
        reader = asyncio.create_task(self._answer_heartbeats(ws))
        try:
            if n == 1:
                await ws.send(wire.compress(danmu("u1", "第一条") + danmu("u2", "第二条"),
                                            wire.VER_ZLIB))
                await ws.send(wire.compress(gift("u3", "辣条", 5) + danmu("u1", "第三条"),
                                            wire.VER_BROTLI))
                await asyncio.sleep(0.3)  # long enough for a few heartbeats
                ws.transport.abort()      # the network drops: no close handshake
                return
            await ws.send(wire.compress(danmu("u4", "重连后") + follow("u5"), wire.VER_BROTLI))
            await reader  # until the client goes away
        finally:
            reader.cancel()

    async def _answer_heartbeats(self, ws) -> None:
        async for data in ws:
            for p in wire.parse_message(data):
                if p.op == wire.OP_HEARTBEAT:
                    self.heartbeats += 1
                    await ws.send(wire.encode_packet(wire.OP_HEARTBEAT_REPLY,
                                                     (777).to_bytes(4, "big")))


@contextlib.asynccontextmanager
async def started_source(server_key: str, **options: Any) -> AsyncIterator[
        tuple[DanmakuServer, BilibiliSource, list[tuple[str, dict]]]]:
    """A fake danmaku server for room 99 (key ``server_key``) and a started source on it.

    Yields the server, the source (over a real local websocket) and the events the source
    reported, as (event, fields).
    """
    srv = DanmakuServer(room=99, key=server_key)
    events: list[tuple[str, dict]] = []
    async with serve(srv.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        src = BilibiliSource(room=99, url=f"ws://127.0.0.1:{port}", **options)
        await src.start(lambda e, **f: events.append((e, f)))
        yield srv, src, events


@pytest.mark.slow
def test_source_reads_in_order_heartbeats_and_reconnects() -> None:
    async def main() -> None:
        async with started_source("secret-key", key="secret-key", heartbeat_s=0.05,
                                  backoff_min_s=0.05, down_after_s=5) as (srv, src, events):
            got: list[dict] = []

            async def collect() -> None:
                async for m in src.messages():
                    got.append(m)

            reader = asyncio.create_task(collect())
            assert await wait_for(lambda: len(got) >= 6, 10), got
            reader.cancel()
            health = src.health()
            await src.stop()
        assert [(m["kind"], m["user"], m["text"]) for m in got] == [
            ("chat", "u1", "第一条"), ("chat", "u2", "第二条"), ("gift", "u3", "辣条 x5"),
            ("chat", "u1", "第三条"), ("chat", "u4", "重连后"), ("follow", "u5", "")]
        assert srv.connections == 2 and srv.heartbeats >= 3
        assert src.popularity == 777
        states = [f["state"] for e, f in events if e == "chat_source_state"]
        assert states == [CONNECTED, RECONNECTING, CONNECTED]
        assert health["state"] == CONNECTED and health["reconnects"] == 1
        assert srv.auths[0]["roomid"] == 99

    asyncio.run(main())


@pytest.mark.slow
def test_refused_auth_goes_down_and_says_so() -> None:
    async def main() -> None:
        async with started_source("right", key="wrong", backoff_min_s=0.05, backoff_max_s=0.1,
                                  down_after_s=0.3) as (srv, src, events):
            assert await wait_for(lambda: src.state == DOWN, 5)
            await src.stop()
        downs = [f for e, f in events if e == "chat_source_down"]
        assert len(downs) == 1 and "refused" in downs[0]["error"]
        assert srv.connections >= 2  # it kept trying with backoff

    asyncio.run(main())
