"""/media H.264 comes from the one shared encoder: what viewers get, and that x264 runs once.

The tap's access units are decoded with FFmpeg's H.264 decoder (PyAV) from every keyframe
on, as a viewer who joins there would; the x264 count comes from libx264 itself (it logs
its CPU capabilities once per encoder it opens), so no second encoder can hide.
"""

from __future__ import annotations

import asyncio
import logging
import time

import av
import av.logging
import numpy as np
import pytest

from tests.stream.rtmp_server import NginxRtmp
from tests.stream.synthetic import square_frame, tone_chunk
from vhuman.core.clock import NS_PER_S
from vhuman.stream.annexb import NAL_IDR, NAL_PPS, NAL_SPS, nal_types
from vhuman.stream.avout import AvEncoder, OutputSettings
from vhuman.stream.outputs import StreamOutputs, outputs_from_args

W, H, FPS = 320, 180, 30
PERIOD = NS_PER_S // FPS
T0 = 1_234_567_891  # an origin that is not a round number of anything


def decode(units: list[bytes]) -> list[np.ndarray]:
    """Decode Annex B access units with a fresh decoder, as a joining viewer would."""
    dec = av.CodecContext.create("h264", "r")
    out = []
    for au in units:
        for pkt in dec.parse(au):
            out.extend(f.to_ndarray(format="rgb24") for f in dec.decode(pkt))
    for pkt in dec.parse(b""):
        out.extend(f.to_ndarray(format="rgb24") for f in dec.decode(pkt))
    out.extend(f.to_ndarray(format="rgb24") for f in dec.decode(None))
    return out


class Units:
    """The server's side of the tap: collects what ``deliver`` hands over."""

    def __init__(self) -> None:
        self.got: list[tuple[bytes, int, bool, bool]] = []
        self.on_unit = None

    def __call__(self, payload: bytes, pts_us: int, keyframe: bool, config: bool) -> None:
        self.got.append((payload, pts_us, keyframe, config))
        if self.on_unit is not None:
            self.on_unit(len(self.got))

    @property
    def keys(self) -> list[int]:
        return [i for i, u in enumerate(self.got) if u[2]]


def test_access_units_decode_from_every_keyframe_with_the_frames_pts():
    outputs = StreamOutputs(OutputSettings(W, H, FPS, keyframe_interval_s=0.5, realtime=False))
    units = Units()
    tap = outputs.add_media_tap(units)
    # a viewer joins after the 8th unit: the very next one must be a keyframe
    units.on_unit = lambda n: tap.request_keyframe() if n == 8 else None
    frames = [square_frame(T0 + i * PERIOD, W, H, size=48) for i in range(40)]
    outputs.start()
    for f in frames:
        outputs.submit_video(f)
    asyncio.run(outputs.stop())

    assert len(units.got) == len(frames) == outputs.encoder.stats.frames_encoded
    assert [u[1] for u in units.got] == [f.pts_ns // 1000 for f in frames]  # exact
    assert units.keys[:2] == [0, 8] and len(units.keys) >= 3  # and the GOP of 15 goes on
    for payload, _, key, config in units.got:
        types = nal_types(payload)
        assert payload.startswith(b"\x00\x00\x00\x01")
        assert key == config == (NAL_IDR in types)
        if key:  # SPS and PPS lead every IDR, so a viewer can start there
            assert types[:2] == [NAL_SPS, NAL_PPS]
        else:
            assert not {NAL_SPS, NAL_PPS, NAL_IDR} & set(types)
    for k in units.keys:
        pics = decode([u[0] for u in units.got[k:]])
        assert len(pics) == len(frames) - k, f"joining at unit {k}"
        for src, pic in zip(frames[k:], pics, strict=True):
            assert np.abs(pic.astype(int) - src.rgba[..., :3].astype(int)).mean() < 6


def test_nobody_watching_costs_no_encode_and_a_returning_viewer_starts_at_a_keyframe():
    watching = [False]
    outputs = StreamOutputs(OutputSettings(W, H, FPS, keyframe_interval_s=10))
    units = Units()
    outputs.add_media_tap(units, active=lambda: watching[0])
    outputs.start()
    enc = outputs.encoder
    try:
        for i in range(60):
            if i == 10:
                watching[0] = True
            if i == 40:
                watching[0] = False
            outputs.submit_audio(tone_chunk(i * PERIOD, ms=33))
            outputs.submit_video(square_frame(i * PERIOD, W, H))
            time.sleep(1 / FPS)
    finally:
        asyncio.run(outputs.stop())
    st = enc.stats
    assert st.frames_encoded + st.frames_idle + st.frames_dropped == 60
    assert st.frames_idle >= 15  # frames 0..9 and 40..59 were not encoded at all
    assert 25 <= st.frames_encoded <= 32 and len(units.got) == st.frames_encoded
    assert units.got[0][2] and units.got[0][3]  # the first a viewer gets is a keyframe
    # the tap alone takes no audio: no AAC is made, not even silence
    assert enc._a_encoded == 0 and st.silence_samples == 0


def test_a_tap_that_joins_a_running_recording_waits_for_a_keyframe_it_asks_for(tmp_path):
    watching = [False]
    outputs = StreamOutputs(OutputSettings(W, H, FPS, keyframe_interval_s=10, realtime=False),
                            save=str(tmp_path / "rec.mp4"))
    units = Units()
    tap = outputs.add_media_tap(units, active=lambda: watching[0])
    outputs.start()
    for i in range(30):
        if i == 12:  # mid-GOP: the recording's next keyframe is 10 s away
            watching[0] = True
        outputs.submit_video(square_frame(i * PERIOD, W, H))
    asyncio.run(outputs.stop())
    assert outputs.encoder.stats.frames_encoded == 30
    assert outputs.recorder.frames_written == 30
    assert units.got and units.got[0][2] and units.got[0][3]
    # at most the frame or two in flight were skipped, not the rest of the GOP
    assert tap.units_skipped <= 2 and len(units.got) >= 16
    assert len(decode([u[0] for u in units.got])) == len(units.got)


def test_a_failing_receiver_is_counted_and_the_recording_goes_on(tmp_path, caplog):
    outputs = StreamOutputs(OutputSettings(W, H, FPS, keyframe_interval_s=0.2, realtime=False),
                            save=str(tmp_path / "rec.mp4"))
    got: list[bool] = []

    def deliver(payload, pts_us, keyframe, config):
        got.append(keyframe)
        if len(got) == 3:
            raise RuntimeError("the loop is gone")

    tap = outputs.add_media_tap(deliver)
    outputs.start()
    for i in range(20):
        outputs.submit_video(square_frame(i * PERIOD, W, H))
    asyncio.run(outputs.stop())
    assert outputs.recorder.frames_written == 20
    assert tap.errors == 1 and "the loop is gone" in tap.last_error
    assert "deliver failed" in caplog.text
    assert got[3], "after a failed delivery the viewers' chain resumes at a keyframe"
    assert tap.health()["errors"] == 1


def test_h264_viewers_alone_get_outputs_and_jpeg_or_offline_do_not():
    class Args:
        size, fps, push, save, bitrate = (W, H), FPS, None, None, 800

    assert outputs_from_args(Args, offline=False) is None
    assert outputs_from_args(Args, offline=True, media_h264=True) is None
    outputs = outputs_from_args(Args, offline=False, media_h264=True)
    assert outputs is not None
    assert outputs.encoder.settings.bitrate == 800_000 and not outputs.pushers
    assert outputs.recorder is None and outputs.health()["outputs"]["media"] is None


@pytest.fixture
def x264_opens():
    """Every libx264 encoder the process opens in the test (from x264's own log)."""
    opened: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("using cpu capabilities"):
                opened.append(record.getMessage())

    logger = logging.getLogger("libav.libx264")
    handler, old_level, old_av = Count(), logger.level, av.logging.get_level()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    av.logging.set_level(av.logging.INFO)
    try:
        yield opened
    finally:
        av.logging.set_level(old_av)
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_the_x264_counter_sees_each_encoder(x264_opens):
    # The arrangement before: an encoder for /media beside the one for push and record.
    a = AvEncoder(OutputSettings(W, H, FPS))
    a.start()
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base = a.video_template.codec_context.time_base
    ctx.open()
    a.close()
    assert len(x264_opens) == 2


def test_viewers_push_and_recording_share_one_x264_encode_per_frame(tmp_path, x264_opens):
    nginx = NginxRtmp.find(tmp_path / "nginx")
    if nginx is None:
        pytest.skip("nginx with the RTMP module is not installed (apt install nginx "
                    "libnginx-mod-rtmp)")
    nginx.start()
    try:
        # what `--codec h264 --push URL --save F` builds, minus the engine and the server
        outputs = StreamOutputs(OutputSettings(W, H, FPS), push=[nginx.url("one")],
                                save=str(tmp_path / "show.mp4"))
        units = Units()
        outputs.add_media_tap(units, active=lambda: True)
        outputs.start()
        pusher = outputs.pushers[0]
        deadline = time.monotonic() + 5
        while not pusher.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pusher.connected, nginx.log()[-2000:]
        before = outputs.encoder.stats.frames_encoded
        n = 30
        t0 = time.monotonic()
        for i in range(n):
            outputs.submit_audio(tone_chunk(T0 + i * PERIOD, ms=33))
            outputs.submit_video(square_frame(T0 + i * PERIOD, W, H))
            time.sleep(max(0.0, t0 + (i + 1) / FPS - time.monotonic()))
        asyncio.run(outputs.stop())
    finally:
        nginx.stop()
    st = outputs.encoder.stats
    assert before == 0 and st.frames_in == n and st.frames_dropped == 0
    assert st.frames_encoded == n  # one encode per frame ...
    assert len(x264_opens) == 1, x264_opens  # ... by the one x264 in the process
    # ... and every consumer got every frame of it
    assert len(units.got) == n and outputs.recorder.frames_written == n
    assert pusher.frames_written == n and pusher.frames_dropped == 0
    with av.open(str(tmp_path / "show.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == n
    assert len(decode([u[0] for u in units.got])) == n
