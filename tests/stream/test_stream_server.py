"""MediaServer over real sockets: HTTP routes, /media ordering, slow and vanishing viewers."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request

import av
import numpy as np
import pytest
import simplejpeg
import websockets
from websockets.asyncio.client import connect

from tests.stream.synthetic import noise_frame, square_frame, tone_chunk
from vhuman.core.clock import SimClock
from vhuman.core.frames import AudioChunk, VideoFrame
from vhuman.core.errors import ConfigError
from vhuman.stream.protocol import Kind, parse_hello, unpack
from vhuman.stream.server import MediaServer

FRAME_NS = 1_000_000_000 // 30


def run(coro):
    return asyncio.run(coro)


async def until(cond, step=0.01):
    """Wait for a condition; pytest-timeout bounds the wait, no timing is asserted."""
    while not cond():
        await asyncio.sleep(step)


def ws_url(server: MediaServer, path: str = "/media") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


async def http_get(server: MediaServer, path: str) -> tuple[int, dict, bytes]:
    def get():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    return await asyncio.to_thread(get)


def small_server(**kw) -> MediaServer:
    kw.setdefault("width", 64)
    kw.setdefault("height", 48)
    kw.setdefault("fps", 30)
    return MediaServer("127.0.0.1", 0, **kw)


def test_hello_first_then_packets_in_pts_order():
    async def main():
        clock = SimClock()
        async with small_server(label="AI 生成") as server, connect(ws_url(server)) as ws:
            hello = parse_hello(await ws.recv())
            assert (hello.video.codec, hello.video.width, hello.video.height) == ("jpeg", 64, 48)
            assert hello.audio.rate == 48000 and hello.label == "AI 生成"
            pts = []
            for _ in range(10):
                frame = square_frame(clock.now_ns(), 64, 48, size=8)
                server.submit_video(frame)
                server.submit_audio(tone_chunk(clock.now_ns()))
                got = {}
                while len(got) < 2:
                    p = unpack(await ws.recv())
                    got[p.kind] = p
                video = got[Kind.VIDEO_JPEG]
                assert video.keyframe
                img = simplejpeg.decode_jpeg(video.payload, colorspace="RGB")
                assert np.abs(img.astype(int) - frame.rgba[..., :3]).mean() < 4
                audio = got[Kind.AUDIO_PCM_S16LE]
                assert len(audio.payload) == 960 * 2  # 20 ms at 48 kHz, int16
                assert audio.pts_us == video.pts_us
                pts.append(video.pts_us)
                clock.advance(FRAME_NS)
            assert pts == sorted(pts) and len(set(pts)) == 10
            assert server.stats.frames_encoded == 10

    run(main())


def test_latest_frame_wins_while_the_encoder_is_busy():
    async def main():
        async with small_server() as server, connect(ws_url(server)) as ws:
            await ws.recv()  # hello
            for i in range(5):  # no await in between: the encoder never got a turn
                server.submit_video(square_frame(i * FRAME_NS, 64, 48))
            p = unpack(await ws.recv())
            assert p.pts_us == 4 * FRAME_NS // 1000
            assert server.stats.dropped_encoder == 4
            assert server.health()["dropped_frames"] == 4

    run(main())


def test_audio_at_another_rate_is_refused_one_declared_rate():
    async def main():
        async with small_server(audio_rate=48000) as server, connect(ws_url(server)) as ws:
            await ws.recv()
            pcm = (np.sin(np.arange(441) / 10) * 8000).astype(np.int16)
            with pytest.raises(ValueError, match="22050 Hz on a 48000 Hz stream"):
                server.submit_audio(AudioChunk(pts_ns=0, pcm=pcm, rate=22050))
            server.submit_audio(AudioChunk(pts_ns=0, pcm=np.zeros(960, np.int16), rate=48000))
            p = unpack(await ws.recv())
            assert p.kind is Kind.AUDIO_PCM_S16LE and len(p.payload) // 2 == 960

    run(main())


def test_http_routes():
    async def main():
        async with small_server() as server:
            server.set_health_provider(lambda: {"avatar": "default", "render_ms": 21.5})
            status, headers, body = await http_get(server, "/")
            assert status == 200 and headers["Content-Type"].startswith("text/html")
            assert b"static/viewer.js" in body
            status, headers, body = await http_get(server, "/static/viewer.js")
            assert status == 200 and "javascript" in headers["Content-Type"]
            assert b"vhumanStats" in body
            status, _, body = await http_get(server, "/health")
            doc = json.loads(body)
            assert status == 200 and doc["ok"] is True
            assert doc["viewers"] == 0 and doc["avatar"] == "default"
            for key in ("uptime_s", "fps", "dropped_frames"):
                assert key in doc
            status, headers, body = await http_get(server, "/metrics")
            text = body.decode()
            assert status == 200 and "vhuman_viewers 0.0" in text
            assert "vhuman_health_render_ms 21.5" in text
            assert "vhuman_viewers_connected_total 0.0" in text  # counters get _total
            assert (await http_get(server, "/nope"))[0] == 404
            assert (await http_get(server, "/static/../server.py"))[0] == 404
            assert (await http_get(server, "/media"))[0] == 426
            with pytest.raises(websockets.exceptions.InvalidStatus) as exc:
                async with connect(ws_url(server, "/nope")):
                    pass
            assert exc.value.response.status_code == 404

    run(main())


def test_failing_health_provider_reports_not_ok():
    async def main():
        async with small_server() as server:
            server.set_health_provider(lambda: 1 / 0)
            status, _, body = await http_get(server, "/health")
            doc = json.loads(body)
            assert status == 503 and doc["ok"] is False
            assert "ZeroDivisionError" in doc["health_provider_error"]

    run(main())


def test_extra_websocket_route():
    async def echo(ws, request):
        async for msg in ws:
            await ws.send(f"{request.path}:{msg}")

    async def main():
        async with small_server() as server:
            server.add_websocket_route("/control", echo)
            async with connect(ws_url(server, "/control?token=x")) as ws:
                await ws.send("hi")
                assert await ws.recv() == "/control?token=x:hi"
            with pytest.raises(ConfigError):
                server.add_websocket_route("/media", echo)

    run(main())


def _stuck_viewer(port: int) -> socket.socket:
    """A websocket client that completes the handshake and then never reads."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(
        b"GET /media HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    return s


def test_a_viewer_that_never_reads_costs_the_others_nothing():
    async def main():
        w, h = 640, 480
        async with small_server(width=w, height=h, jpeg_quality=90) as server:  # noqa: SIM117
            async with connect(ws_url(server), max_size=None) as good:
                await good.recv()
                stuck = await asyncio.to_thread(_stuck_viewer, server.port)
                try:
                    await until(lambda: server.viewers == 2)
                    received = []
                    n = 0
                    # Noise frames are ~300 KB; keep going until the stuck viewer's socket
                    # buffers are full and its queue overflows (bounded by the test timeout).
                    while server.health()["dropped_viewers"] == 0 or n < 30:
                        server.submit_video(noise_frame(n * FRAME_NS, w, h, seed=n % 4))
                        p = unpack(await good.recv())
                        received.append(p.pts_us)
                        n += 1
                    assert received == [i * FRAME_NS // 1000 for i in range(n)]
                    assert server.stats.dropped_encoder == 0
                    assert server.viewers == 2
                finally:
                    stuck.close()
                # The stuck viewer is gone once the server notices the reset.
                server.submit_video(noise_frame(n * FRAME_NS, w, h))
                await good.recv()
                await until(lambda: server.viewers == 1)

    run(main())


def test_disconnected_viewers_are_removed_and_stop_closes_the_rest():
    async def main():
        server = small_server()
        await server.start()
        try:
            ws1 = await connect(ws_url(server))
            ws2 = await connect(ws_url(server))
            await ws1.recv()
            await ws2.recv()
            assert server.viewers == 2
            await ws1.close()
            await until(lambda: server.viewers == 1)
            server.submit_video(square_frame(0, 64, 48))
            assert unpack(await ws2.recv()).kind is Kind.VIDEO_JPEG
        finally:
            await server.stop()
        with pytest.raises(websockets.exceptions.ConnectionClosed) as exc:
            await ws2.recv()
        assert exc.value.rcvd.code == 1001  # going away

    run(main())


def test_h264_late_joiner_starts_at_a_keyframe_and_decodes():
    async def main():
        w, h = 128, 96
        async with small_server(width=w, height=h, codec="h264", fps=30) as server:
            async with connect(ws_url(server)) as first:
                assert parse_hello(await first.recv()).video.codec == "h264"
                for i in range(5):
                    server.submit_video(square_frame(i * FRAME_NS, w, h, size=16))
                    await first.recv()
                async with connect(ws_url(server)) as late:
                    await late.recv()
                    aus = []
                    for i in range(5, 10):
                        server.submit_video(square_frame(i * FRAME_NS, w, h, size=16))
                        await first.recv()
                        aus.append(unpack(await late.recv()))
            assert aus[0].keyframe and aus[0].config
            dec = av.CodecContext.create("h264", "r")
            pictures = []
            for p in aus:  # one access unit per packet, as a browser's VideoDecoder gets them
                pictures.extend(dec.decode(av.Packet(p.payload)))
            pictures.extend(dec.decode(None))
            assert len(pictures) == 5
            src = square_frame(9 * FRAME_NS, w, h, size=16).rgba[..., :3].astype(int)
            assert np.abs(pictures[-1].to_ndarray(format="rgb24") - src).mean() < 6

    run(main())


def test_bad_frames_and_ports_fail_clearly():
    async def main():
        async with small_server() as server:
            with pytest.raises(ValueError, match=r"uint8\[48, 64, 4\]"):
                server.submit_video(VideoFrame(0, np.zeros((48, 64, 3), np.uint8)))
            busy = MediaServer("127.0.0.1", server.port, width=64, height=48, fps=30)
            with pytest.raises(ConfigError, match="cannot listen"):
                await busy.start()
        with pytest.raises(RuntimeError, match="before start"):
            server.submit_video(square_frame(0, 64, 48))

    run(main())
