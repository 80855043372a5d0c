"""RTMP push against a real nginx-rtmp server, read back with PyAV.

The engine renders the procedural host live (SystemClock) with a speech-like tone; the
stream goes through the shared encoder to nginx, and a PyAV player pulls it back. Other
tests push where nothing listens, to a server that accepts and then says nothing, and to a
server that goes away and comes back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time

import av
import numpy as np
import pytest

from tests.stream.rtmp_server import NginxRtmp, free_port
from tests.stream.synthetic import square_frame, tone_chunk
from vhuman.app import make_engine
from vhuman.avatar.procedural import build_procedural_avatar
from vhuman.drivers.idle import IdleDriver
from vhuman.core.clock import NS_PER_S, SystemClock
from vhuman.engine.config import EngineConfig
from vhuman.engine.engine import Engine
from vhuman.core.frames import AudioChunk, VideoFrame
from vhuman.core.errors import ConfigError
from vhuman.stream.avout import OutputSettings
from vhuman.stream.outputs import StreamOutputs
from vhuman.stream.rtmp import RtmpPusher
from vhuman.stream.rtmp_session import check_push_url, redact_url

W, H, FPS = 320, 180, 30
KEY = "sk-7f3a9c1e5b"  # a stream key that must never show up in logs or health


@pytest.fixture
def nginx(tmp_path):
    server = NginxRtmp.find(tmp_path / "nginx")
    if server is None:
        pytest.skip("nginx with the RTMP module is not installed (apt install nginx "
                    "libnginx-mod-rtmp)")
    server.start()
    yield server
    server.stop()


class SpeechTone:
    """An audio source: 300 ms tone bursts with 200 ms pauses, 20 ms chunks at 22.05 kHz."""

    rate = 48_000  # the engine's declared audio rate
    chunk_ns = 20_000_000

    def __init__(self, lead_ns: int = NS_PER_S // FPS) -> None:
        self.next_ns = 0
        self.lead_ns = lead_ns

    def pump(self, t_ns: int) -> list[AudioChunk]:
        out = []
        while self.next_ns < t_ns + self.lead_ns:
            t = self.next_ns
            self.next_ns += self.chunk_ns
            if (t // 1_000_000) % 500 < 300:
                out.append(tone_chunk(t, rate=self.rate, ms=20, hz=440, amp=0.3))
        return out


def until(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class Player(threading.Thread):
    """Pulls an RTMP URL with PyAV and decodes up to ``max_video`` video frames."""

    def __init__(self, url: str, max_video: int = 30, timeout: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.url, self.max_video, self.timeout = url, max_video, timeout
        self.video: list[np.ndarray] = []
        self.audio: list[np.ndarray] = []
        self.streams: list[tuple] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            # The read timeout ends the wait once the push has stopped.
            with av.open(self.url, timeout=(self.timeout, 2.0),
                         options={"analyzeduration": "1000000"}) as c:
                self.streams = [(s.type, s.codec_context.name,
                                 getattr(s.codec_context, "width", None),
                                 getattr(s.codec_context, "height", None)) for s in c.streams]
                for frame in c.decode(*c.streams):
                    if isinstance(frame, av.VideoFrame):
                        self.video.append(frame.to_ndarray(format="rgb24"))
                        if len(self.video) >= self.max_video:
                            break
                    else:
                        self.audio.append(frame.to_ndarray())
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


@pytest.mark.slow
def test_engine_push_reads_back_as_h264_and_aac_with_the_avatar(nginx, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    engine = make_engine(EngineConfig(width=W, height=H, fps=FPS), build_procedural_avatar(),
                    clock=SystemClock())
    engine.add_driver(IdleDriver())
    engine.add_audio_source(SpeechTone().pump)
    # Keyframes every half second, so the player (which joins once the push is up, and
    # starts at a keyframe) does not wait long.
    outputs = StreamOutputs(OutputSettings(W, H, FPS, keyframe_interval_s=0.5),
                            push=[nginx.url(KEY)])
    outputs.attach(engine)
    sent = []
    engine.media.subscribe(lambda f: sent.append(f.rgba) if isinstance(f, VideoFrame) and len(sent) < 200 else None)
    pusher = outputs.pushers[0]
    player = Player(nginx.url(KEY))
    healths = []

    async def watch():
        while True:
            await asyncio.sleep(0.1)
            healths.append(json.dumps(outputs.health()))
            if pusher.frames_written > 3 and player.ident is None:
                player.start()

    async def go():
        await engine.start()
        outputs.start()
        task = asyncio.create_task(watch())
        try:
            await engine.run(duration_s=3.5)
        finally:
            task.cancel()
            doc = outputs.health()
            await outputs.stop()
            await engine.stop()
        return doc

    doc = asyncio.run(go())
    player.join(8)
    assert not player.is_alive(), "the player did not finish"
    # (a read timeout after the push ended is how a live pull ends)
    assert player.error is None or len(player.video) >= 20, \
        f"reading back failed: {player.error!r}\n{nginx.log()[-2000:]}"

    kinds = {s[0]: s for s in player.streams}
    assert kinds["video"][1] == "h264" and kinds["video"][2:] == (W, H)
    assert kinds["audio"][1] == "aac"
    assert len(player.video) >= 20, f"only {len(player.video)} frames decoded"
    pic = player.video[-1].astype(np.float32)
    assert pic.shape == (H, W, 3)
    # The avatar, not a black or flat picture: it matches what the engine rendered...
    rendered = sent[-1][..., :3].astype(np.float32)
    assert np.abs(pic - rendered).mean() < 12
    # ... with a lit figure in the middle against the darker backdrop.
    centre, corner = pic[H // 3: 2 * H // 3, W // 3: 2 * W // 3], pic[:H // 6, :W // 6]
    assert centre.mean() > corner.mean() + 20 and pic.std() > 15
    # Audio: the tone is there, and so are the (filled-in) pauses between bursts.
    pcm = np.concatenate([a.reshape(-1) for a in player.audio])
    blocks = np.abs(pcm[: len(pcm) // 960 * 960].reshape(-1, 960)).max(axis=1)
    assert blocks.max() > 0.15 and blocks.min() < 0.01

    push = doc["outputs"]["push"][0]
    assert push["connected"] and push["connects"] == 1 and push["frames_sent"] >= 60
    assert push["bitrate_kbps"] > 0 and push["url"].endswith("/live/****")
    assert doc["push_connected"] == 1
    text = " ".join(healths) + json.dumps(outputs.health()) + caplog.text
    out = capfd.readouterr()
    assert KEY not in text and KEY not in out.out and KEY not in out.err
    assert engine.stats.tick_dropped <= 5


def test_push_to_a_closed_port_retries_without_stalling_the_engine(caplog, capfd):
    caplog.set_level(logging.DEBUG)
    url = f"rtmp://127.0.0.1:{free_port()}/live/{KEY}?auth={KEY}x"
    engine = make_engine(EngineConfig(width=W, height=H, fps=FPS), build_procedural_avatar(),
                    clock=SystemClock())
    engine.add_driver(IdleDriver())
    engine.add_audio_source(SpeechTone().pump)
    outputs = StreamOutputs(OutputSettings(W, H, FPS))
    outputs.add_pusher(RtmpPusher(url, backoff_min_s=0.05, backoff_max_s=0.2))
    outputs.attach(engine)

    async def go():
        await engine.start()
        outputs.start()
        t0 = time.perf_counter()
        await engine.run(duration_s=1.5)
        wall = time.perf_counter() - t0
        doc = outputs.health()
        await outputs.stop()
        await engine.stop()
        return doc, wall

    doc, wall = asyncio.run(go())
    push = doc["outputs"]["push"][0]
    assert push["reconnects"] >= 3 and not push["connected"] and push["connects"] == 0
    assert "refused" in push["last_error"].lower()
    assert wall < 2.0
    assert engine.stats.tick_dropped <= 3 and engine.stats.frames_out >= 30
    assert doc["outputs"]["encoder"]["frames_idle"] > 0  # nobody connected: no encoding
    out = capfd.readouterr()
    for text in (json.dumps(doc), caplog.text, out.out, out.err):
        assert KEY not in text
    assert "rtmp://127.0.0.1" in caplog.text and "/live/****?****" in caplog.text


class Feeder(threading.Thread):
    """Synthetic frames and a tone into ``outputs``, paced in real time, until stopped."""

    def __init__(self, outputs: StreamOutputs, fps: float = FPS) -> None:
        super().__init__(daemon=True)
        self.outputs, self.fps = outputs, fps
        self.halt = threading.Event()
        # How far behind its schedule the feeder ever got: a submit that blocked, or a
        # writer thread that held the GIL, shows up here.
        self.late_s = 0.0

    def run(self) -> None:
        period = round(NS_PER_S / self.fps)
        t0 = time.monotonic()
        i = 0
        while not self.halt.is_set():
            self.late_s = max(self.late_s, time.monotonic() - (t0 + i / self.fps))
            self.outputs.submit_audio(tone_chunk(i * period, rate=48_000,
                                                 ms=round(1000 / self.fps)))
            self.outputs.submit_video(square_frame(i * period, W, H, size=40))
            i += 1
            time.sleep(max(0.0, t0 + i / self.fps - time.monotonic()))

    def stop(self) -> None:
        self.halt.set()
        self.join(5)


def test_push_to_a_server_that_never_answers_is_cut_and_retried():
    held: list[socket.socket] = []

    def accept_and_say_nothing(server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    server = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=accept_and_say_nothing, args=(server,), daemon=True).start()
    port = server.getsockname()[1]
    outputs = StreamOutputs(OutputSettings(W, H, FPS))
    pusher = outputs.add_pusher(RtmpPusher(f"rtmp://127.0.0.1:{port}/live/{KEY}",
                                           backoff_min_s=0.05, backoff_max_s=0.1,
                                           connect_timeout_s=0.3))
    outputs.start()
    feeder = Feeder(outputs)
    feeder.start()
    try:
        assert until(lambda: pusher.reconnects >= 2, 4), pusher.health()
        health = pusher.health()
    finally:
        feeder.stop()
        asyncio.run(outputs.stop())
        server.close()
        for conn in held:
            conn.close()
    assert not health["connected"] and health["connects"] == 0
    assert "handshake took longer than 0.3 s" in health["last_error"]
    assert feeder.late_s < 0.15, feeder.late_s  # never held up by the stuck connection
    assert KEY not in json.dumps(health)


def test_push_reconnects_when_the_server_goes_away_and_comes_back(nginx):
    outputs = StreamOutputs(OutputSettings(W, H, FPS))
    pusher = outputs.add_pusher(RtmpPusher(nginx.url(KEY), backoff_min_s=0.1, backoff_max_s=0.2))
    outputs.start()
    feeder = Feeder(outputs)
    feeder.start()
    try:
        assert until(lambda: pusher.frames_written > 10, 5), pusher.health()
        nginx.stop()
        assert until(lambda: not pusher.connected, 5), pusher.health()
        dropped = pusher.health()
        nginx.start()
        assert until(lambda: pusher.connected and pusher.connects == 2, 8), pusher.health()
        sent = pusher.frames_written
        assert until(lambda: pusher.frames_written > sent + 10, 5), pusher.health()
    finally:
        feeder.stop()
        asyncio.run(outputs.stop())
    assert dropped["last_error"] and KEY not in dropped["last_error"]
    assert pusher.reconnects >= 1 and feeder.late_s < 0.15, feeder.late_s


@pytest.mark.parametrize("url,shown", [
    ("rtmp://push.example.com/live/abc123", "rtmp://push.example.com/live/****"),
    ("rtmp://push.example.com:1936/live/abc?auth=s3cret&t=1",
     "rtmp://push.example.com:1936/live/****?****"),
    ("rtmps://user:pw@live.example.com/app/inst/key", "rtmps://****@live.example.com/app/inst/****"),
    ("rtmp://host/app", "rtmp://host/app"),
])
def test_redact_url_hides_key_query_and_password(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize("url,needle", [
    ("http://host/live/SECRET1", "rtmp:// or rtmps://"),
    ("rtmp:///live/SECRET1", "no host"),
    ("rtmp://host/SECRET1", "app and a stream key"),
    ("rtmp://host:99999/live/SECRET1", "not a valid URL"),
])
def test_bad_push_addresses_are_config_errors_without_the_key(url, needle):
    with pytest.raises(ConfigError) as info:
        check_push_url(url)
    assert needle in str(info.value) and "SECRET1" not in str(info.value)


def test_push_to_a_server_that_stops_reading_times_out_and_retries(nginx):
    import os
    import signal

    from tests.stream.synthetic import noise_frame

    # Noise at the highest bitrate fills the loopback's socket buffers within seconds once
    # nginx is frozen (SIGSTOP): the send must then give up after io_timeout_s.
    outputs = StreamOutputs(OutputSettings(640, 360, FPS, video_bitrate=50_000_000))
    pusher = outputs.add_pusher(RtmpPusher(nginx.url(KEY), backoff_min_s=0.1,
                                           backoff_max_s=0.2, io_timeout_s=0.5,
                                           connect_timeout_s=0.5))
    outputs.start()
    frames = [noise_frame(0, 640, 360, seed=s) for s in range(8)]
    halt = threading.Event()

    def feed_noise():
        t0, i = time.monotonic(), 0
        while not halt.is_set():
            outputs.submit_video(VideoFrame(i * (NS_PER_S // FPS), frames[i % 8].rgba))
            i += 1
            time.sleep(max(0.0, t0 + i / FPS - time.monotonic()))

    feeder = threading.Thread(target=feed_noise, daemon=True)
    feeder.start()
    try:
        assert until(lambda: pusher.connected and pusher.frames_written > 5, 5), pusher.health()
        os.kill(nginx.proc.pid, signal.SIGSTOP)
        try:
            assert until(lambda: not pusher.connected, 8), pusher.health()
            assert "stalled" in (pusher.last_error or ""), pusher.last_error
        finally:
            os.kill(nginx.proc.pid, signal.SIGCONT)
        assert until(lambda: pusher.connected and pusher.connects >= 2, 8), pusher.health()
    finally:
        halt.set()
        feeder.join(5)
        asyncio.run(outputs.stop())
