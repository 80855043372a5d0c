"""MP4 recording: a real engine on a SimClock, read back with PyAV."""

from __future__ import annotations

import asyncio
import os

import av
import numpy as np
import pytest

from tests.stream.synthetic import square_frame, tone_chunk
from vhuman.app import make_engine
from vhuman.avatar.procedural import build_procedural_avatar
from vhuman.drivers.idle import IdleDriver
from vhuman.core.clock import NS_PER_S, SimClock
from vhuman.engine.config import EngineConfig
from vhuman.engine.engine import Engine
from vhuman.core.frames import AudioChunk
from vhuman.core.errors import ConfigError
from vhuman.stream.avout import OutputSettings
from vhuman.stream.outputs import StreamOutputs
from vhuman.stream.recorder import Mp4Recorder, recording_path

W, H, FPS = 320, 180, 30
PERIOD_NS = round(NS_PER_S / FPS)  # the engine's tick
# A white picture and a beep, together: from frame 30's pts to frame 36's.
FLASH_NS = (30 * PERIOD_NS, 36 * PERIOD_NS)


class Beep:
    """An audio source silent except during FLASH_NS (the rest must be filled with silence
    by the encoder), at 22.05 kHz like espeak, so the resampler is in the path."""

    rate = 48_000  # the engine's declared audio rate

    def __init__(self) -> None:
        self.next_ns = 0

    def pump(self, t_ns: int) -> list[AudioChunk]:
        out = []
        while self.next_ns < t_ns + PERIOD_NS:
            t = self.next_ns
            self.next_ns += 20_000_000
            if t + 20_000_000 <= FLASH_NS[0] or t >= FLASH_NS[1]:
                continue
            chunk = tone_chunk(t, rate=self.rate, ms=20, hz=1000, amp=0.5)
            times = t + np.arange(len(chunk.pcm)) * NS_PER_S // self.rate
            pcm = np.where((times >= FLASH_NS[0]) & (times < FLASH_NS[1]), chunk.pcm, 0)
            out.append(AudioChunk(t, pcm.astype(np.int16), self.rate))
        return out


def flash(rgba: np.ndarray, t_ns: int) -> None:
    if FLASH_NS[0] <= t_ns < FLASH_NS[1]:
        rgba[..., :3] = 255


def record_offline(path, seconds: float = 2.0) -> StreamOutputs:
    engine = make_engine(EngineConfig(width=W, height=H, fps=FPS), build_procedural_avatar(),
                    clock=SimClock())
    engine.add_driver(IdleDriver())
    engine.add_audio_source(Beep().pump)
    engine.add_post(flash)
    outputs = StreamOutputs(OutputSettings(W, H, FPS, realtime=False), save=str(path))

    async def go():
        await engine.start()
        outputs.attach(engine)
        outputs.start()
        try:
            # the outputs take frames and audio from engine.media, in order
            await engine.render_offline(round(seconds * FPS), lambda i, f: None)
        finally:
            await outputs.stop()
            await engine.stop()

    asyncio.run(go())
    return outputs


def test_offline_recording_plays_with_audio_and_video_in_sync(tmp_path):
    path = tmp_path / "show.mp4"
    outputs = record_offline(path)
    rec = outputs.recorder.health()
    assert rec["finalised"] and rec["frames_written"] == 60 and rec["last_error"] is None

    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264" and (v.width, v.height) == (W, H)
        assert a.codec_context.name == "aac" and a.sample_rate == 48_000
        assert abs(c.duration / 1e6 - 2.0) <= 0.2
        assert abs(float(v.duration * v.time_base) - 2.0) <= 0.2
        assert abs(float(a.duration * a.time_base) - 2.0) <= 0.2
        assert abs(float(v.start_time * v.time_base) - float(a.start_time * a.time_base)) < 0.05
        # faststart: the index (moov) comes before the media (mdat)
        head = path.read_bytes()[:4096]
        assert 0 <= head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head

        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    assert abs(len(frames) - 2 * FPS) <= 1
    assert frames[0][1].mean() > 10 and frames[0][1].std() > 10  # the avatar, not black
    t_video = next(t for t, img in frames if img.mean() > 200)

    with av.open(str(path)) as c:
        t_audio = None
        for f in c.decode(audio=0):
            pcm = f.to_ndarray()[0]
            hit = np.flatnonzero(np.abs(pcm) > 0.1)
            if len(hit):
                t_audio = f.time + hit[0] / f.sample_rate
                break
    assert t_audio is not None, "the beep is missing"
    assert abs(t_video - FLASH_NS[0] / NS_PER_S) < 0.002
    # A/V sync through the whole path: resampler, silence fill, AAC, MP4 edit list.
    assert abs(t_audio - t_video) < 0.005, (t_audio, t_video)  # measured: +0.02 ms
    # silence was filled in before the beep: the encoder says how much
    assert outputs.encoder.stats.silence_samples >= 48_000 * 1.6


def test_recording_without_any_audio_still_has_a_full_audio_track(tmp_path):
    path = tmp_path / "quiet.mp4"
    outputs = StreamOutputs(OutputSettings(W, H, FPS, realtime=False), save=str(path))
    outputs.start()
    for i in range(30):
        outputs.submit_video(square_frame(i * NS_PER_S // FPS, W, H, size=40))
    asyncio.run(outputs.stop())
    with av.open(str(path)) as c:
        # the recording says it is AI-generated (besides the label in the picture)
        assert c.metadata.get("comment", "").startswith("AI 生成"), c.metadata
        assert "AI generated" in c.metadata.get("description", "")
        a = c.streams.audio[0]
        assert abs(float(a.duration * a.time_base) - 1.0) < 0.05
        assert sum(f.samples for f in c.decode(audio=0)) >= 47_000


def test_audio_before_the_first_frame_is_kept_from_t0(tmp_path):
    path = tmp_path / "early.mp4"
    outputs = StreamOutputs(OutputSettings(W, H, FPS, realtime=False), save=str(path))
    outputs.start()
    period = NS_PER_S // FPS
    # audio arrives first (a tick ahead, as the speaker sends it), starting before video
    for i in range(-5, 30):
        outputs.submit_audio(tone_chunk(i * period, rate=48_000, ms=1000 // FPS, amp=0.5))
        if i >= 0:
            outputs.submit_video(square_frame(i * period, W, H, size=40))
    asyncio.run(outputs.stop())
    with av.open(str(path)) as c:
        first = next(iter(c.decode(audio=0)))
        assert abs(first.time) < 0.03
        assert np.abs(first.to_ndarray()).max() > 0.3  # tone from t = 0, not silence


def test_recording_path_checks(tmp_path):
    with pytest.raises(ConfigError, match="must end in .mp4"):
        Mp4Recorder(tmp_path / "x.avi")
    with pytest.raises(ConfigError, match="does not exist"):
        Mp4Recorder(tmp_path / "missing" / "x.mp4")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is not a folder"):
        Mp4Recorder(tmp_path / "file" / "x.mp4")
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(ConfigError, match="it is a folder"):
        Mp4Recorder(tmp_path / "dir.mp4")
    assert recording_path("show-%Y.mp4", now=0).name == "show-1970.mp4"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="is not writable"):
            Mp4Recorder(ro / "x.mp4")
    finally:
        ro.chmod(0o755)
