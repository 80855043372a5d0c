"""The publisher pushes the stream to a relay and survives the relay going away."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.server import serve

from tests.stream.synthetic import square_frame
from vhuman.core.errors import ConfigError
from vhuman.stream.protocol import Kind, parse_hello, unpack
from vhuman.stream.publisher import WebSocketPublisher
from vhuman.stream.server import MediaServer

FRAME_NS = 1_000_000_000 // 30


class Relay:
    """A websocket endpoint that records what each publisher connection sent."""

    def __init__(self) -> None:
        self.sessions: list[list] = []
        self.server = None
        self.port = 0

    async def handler(self, ws) -> None:
        msgs: list = []
        self.sessions.append(msgs)
        async for m in ws:
            msgs.append(m)

    async def start(self, port: int = 0) -> None:
        self.server = await serve(self.handler, "127.0.0.1", port)
        self.port = next(iter(self.server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def until(cond):
    while not cond():
        await asyncio.sleep(0.01)


def test_publisher_sends_hello_and_packets_and_reconnects():
    async def main():
        relay = Relay()
        await relay.start()
        async with MediaServer("127.0.0.1", 0, width=64, height=48, fps=30, codec="h264") as srv:
            pub = WebSocketPublisher(
                f"ws://127.0.0.1:{relay.port}/ingest", backoff_min_s=0.05, backoff_max_s=0.2
            )
            pub.attach(srv)
            await pub.start()
            n = 0

            async def feed_until(cond):
                nonlocal n
                while not cond():
                    srv.submit_video(square_frame(n * FRAME_NS, 64, 48, size=8))
                    n += 1
                    await asyncio.sleep(0.01)

            await feed_until(lambda: relay.sessions and len(relay.sessions[0]) >= 6)
            first = relay.sessions[0]
            assert parse_hello(first[0]).video.codec == "h264"
            packets = [unpack(m) for m in first[1:]]
            assert packets[0].kind is Kind.VIDEO_H264 and packets[0].keyframe
            pts = [p.pts_us for p in packets]
            assert pts == sorted(pts)

            port = relay.port
            await relay.stop()
            await until(lambda: not pub.connected)
            await relay.start(port)
            await feed_until(lambda: len(relay.sessions) == 2 and len(relay.sessions[1]) >= 3)
            second = relay.sessions[1]
            assert parse_hello(second[0]).video.codec == "h264"
            assert unpack(second[1]).keyframe  # resumes at a fresh keyframe
            assert pub.stats.connects == 2 and pub.stats.disconnects == 1
            assert pub.health()["publisher_connected"] is True
            await pub.stop()
        await relay.stop()

    asyncio.run(main())


def test_publisher_validates_its_url():
    with pytest.raises(ConfigError, match="ws://"):
        WebSocketPublisher("http://example.com/ingest")


def test_publisher_retries_until_the_relay_appears():
    async def main():
        relay = Relay()
        await relay.start()
        port = relay.port
        await relay.stop()  # the port is now free: nothing listens
        async with MediaServer("127.0.0.1", 0, width=64, height=48, fps=30) as srv:
            pub = WebSocketPublisher(
                f"ws://127.0.0.1:{port}/", backoff_min_s=0.02, backoff_max_s=0.05
            )
            pub.attach(srv)
            await pub.start()
            await until(lambda: pub.stats.failures >= 2)
            assert not pub.connected and "Error" in pub.stats.last_error
            await relay.start(port)
            await until(lambda: pub.connected)
            srv.submit_video(square_frame(0, 64, 48))
            await until(lambda: relay.sessions and len(relay.sessions[0]) >= 2)
            assert unpack(relay.sessions[0][1]).kind is Kind.VIDEO_JPEG
            await pub.stop()
        await relay.stop()

    asyncio.run(main())
