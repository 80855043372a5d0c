"""Viewers cannot starve the room: stuck sockets are not live readers, are closed, are
capped per address, and never hold up a stop (real sockets on 127.0.0.0/8)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.stream.synthetic import noise_frame
from vhuman.core.frames import AudioChunk, VideoFrame
from vhuman.stream.protocol import Kind, unpack
from vhuman.stream.server import MediaServer

FRAME_NS = 1_000_000_000 // 30


def stuck_client(port: int, source: str) -> socket.socket:
    """A /media client that completes the handshake and then never reads again."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /media HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head[:80]
    return s


async def feed(server: MediaServer, stop: asyncio.Event) -> None:
    """Noise frames (large JPEGs: buffers fill fast) and continuous audio at 30 fps."""
    pics = [noise_frame(0, 320, 240, seed=k).rgba for k in range(4)]
    i = 0
    while not stop.is_set():
        server.submit_video(VideoFrame(i * FRAME_NS, pics[i % 4]))
        server.submit_audio(AudioChunk(i * 20_000_000, np.zeros(960, np.int16), 48000, None))
        i += 1
        await asyncio.sleep(1 / 30)


def test_64_stuck_sockets_cannot_keep_a_new_viewer_out() -> None:
    async def main() -> None:
        server = MediaServer("127.0.0.1", 0, width=320, height=240, fps=30, max_viewers=64)
        server.viewer_stall_s = 3.0
        await server.start()
        stop = asyncio.Event()
        feeder = asyncio.create_task(feed(server, stop))
        stuck = []
        try:
            async def stick(i: int) -> None:
                stuck.append(await asyncio.to_thread(stuck_client, server.port,
                                                     f"127.0.0.{2 + i // 8}"))

            for i in range(8):
                await stick(i)
            # a 9th socket from one address is closed at once with 1013 and a reason
            async with connect(f"ws://127.0.0.1:{server.port}/media",
                               local_addr=("127.0.0.2", 0)) as extra:
                with pytest.raises(ConnectionClosed) as ei:
                    while True:
                        await asyncio.wait_for(extra.recv(), 5)
                assert ei.value.rcvd.code == 1013 and "address" in ei.value.rcvd.reason
            for i in range(8, 64):  # 8 addresses x 8: the per-address cap lets each in
                await stick(i)
            # the stuck ones stop counting as live readers within the grace second...
            t0 = time.monotonic()
            while server.health()["viewers_stalled"] < 64:
                await asyncio.sleep(0.05)
            # ...so a new viewer gets in (no 503) and receives media, well before eviction
            async with connect(f"ws://127.0.0.1:{server.port}/media") as ws:
                hello = await asyncio.wait_for(ws.recv(), 5)
                assert "vhuman.media/1" in hello
                kinds = set()
                for _ in range(30):
                    kinds.add(unpack(await asyncio.wait_for(ws.recv(), 5)).kind)
                assert {Kind.VIDEO_JPEG, Kind.AUDIO_PCM_S16LE} <= kinds
                assert time.monotonic() - t0 < server.viewer_stall_s
                # the stuck sockets are closed (1008) after viewer_stall_s; this one stays
                while server.health()["viewers_evicted"] < 64:
                    await asyncio.wait_for(ws.recv(), 5)
                h = server.health()
                assert h["viewers"] == 1 and h["viewers_stalled"] == 0
                assert h["viewers_refused_address"] == 1
        finally:
            stop.set()
            await feeder
            t = time.monotonic()
            await server.stop()
            assert time.monotonic() - t < 2.0
            for s in stuck:
                s.close()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_stop_with_stuck_viewers_is_prompt() -> None:
    async def main() -> None:
        server = MediaServer("127.0.0.1", 0, width=320, height=240, fps=30)
        await server.start()
        stop = asyncio.Event()
        feeder = asyncio.create_task(feed(server, stop))
        stuck = [await asyncio.to_thread(stuck_client, server.port, "127.0.0.1")
                 for _ in range(5)]
        while server.health()["viewers_stalled"] < 5:
            await asyncio.sleep(0.05)
        stop.set()
        await feeder
        t = time.monotonic()
        await server.stop()
        took = time.monotonic() - t
        for s in stuck:
            s.close()
        assert took < 1.5, f"stop took {took:.1f} s with 5 stuck viewers"

    asyncio.run(asyncio.wait_for(main(), 30))
