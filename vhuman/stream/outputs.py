"""Every H.264 output as one object: the shared encoder and its destinations.

``--push`` (RTMP), ``--save`` (MP4) and the ``/media`` viewers of ``--codec h264`` all take
their packets from one :class:`~vhuman.stream.avout.AvEncoder`: one I420 conversion and one
x264 encode per frame, whatever mix runs. The app makes a :class:`StreamOutputs` before
anything slow starts (a bad address or an unwritable folder fails at once), gives the
server its tap (:meth:`StreamOutputs.add_media_tap`), attaches it to the engine, starts it
after the engine, and closes it last (which finalises the MP4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from vhuman.core.errors import ConfigError
from vhuman.core.frames import AudioChunk, VideoFrame
from vhuman.stream.avout import AvEncoder, OutputSettings
from vhuman.stream.media_tap import DeliverAccessUnit, H264Tap
from vhuman.stream.recorder import Mp4Recorder
from vhuman.stream.rtmp import RtmpPusher

log = logging.getLogger(__name__)


class StreamOutputs:
    """RTMP pushes, an MP4 recording and the /media H.264 tap, fed by one encoder.

    Any subset may be present, including none but the tap (``--codec h264`` without
    ``--push``/``--save``). With the tap alone no AAC is encoded, and while no destination
    accepts packets (no viewer, no push connected, no recording) no frame is encoded.

    Args:
        settings: encoder settings (size, fps, bitrate, realtime or offline).
        push: RTMP addresses (``rtmp://host/app/streamkey``).
        save: MP4 path, or None.

    Raises:
        ConfigError: a bad address, a duplicate address, or an unwritable recording path.
    """

    def __init__(self, settings: OutputSettings, *, push: Sequence[str] = (),
                 save: str | None = None) -> None:
        self.pushers: list[RtmpPusher] = []
        self.media_tap: H264Tap | None = None
        self.recorder = Mp4Recorder(save) if save else None
        self.encoder = AvEncoder(settings)
        for url in dict.fromkeys(push):
            self.add_pusher(RtmpPusher(url))
        if self.recorder is not None:
            self.encoder.add_destination(self.recorder)
        self._started = False

    def add_pusher(self, pusher: RtmpPusher) -> RtmpPusher:
        """Push to one more server (call before :meth:`start`); returns ``pusher``."""
        self.pushers.append(pusher)
        self.encoder.add_destination(pusher)
        return pusher

    def add_media_tap(self, deliver: DeliverAccessUnit, *,
                      active: Callable[[], bool] | None = None) -> H264Tap:
        """Feed the /media H.264 viewers from this encoder (call before :meth:`start`).

        Args:
            deliver: ``deliver(payload, pts_us, keyframe, config)``, one Annex B access unit
                per encoded frame, called on the encoder thread (hop to the loop there).
            active: whether anyone watches now (read on the encoder thread each frame);
                None: use :meth:`H264Tap.set_active`.

        Returns:
            The tap: its :meth:`~H264Tap.request_keyframe` is the viewers' keyframe request,
            and :meth:`~H264Tap.detach` stops delivery before the receiver goes away.

        Raises:
            RuntimeError: a tap is already added, or the outputs are started.
        """
        if self.media_tap is not None:
            raise RuntimeError("StreamOutputs already has a /media tap")
        tap = H264Tap(deliver, active=active)
        self.encoder.add_destination(tap)
        self.media_tap = tap
        return tap

    def attach(self, engine: Any) -> None:
        """Consume the engine's one ordered media stream (live and offline)."""
        engine.media.subscribe(self.consume)

    def consume(self, item: Any) -> None:
        """Take one media stream item.

        Frames and audio go to the encoder; markers need nothing here (the encoder holds
        no more than a tick of a cut line's audio).
        """
        if isinstance(item, VideoFrame):
            self.submit_video(item)
        elif isinstance(item, AudioChunk):
            self.submit_audio(item)

    def submit_video(self, frame: VideoFrame) -> None:
        """Queue a frame for encoding (drops when behind live; waits offline)."""
        if self._started:
            self.encoder.submit_video(frame)

    def submit_audio(self, chunk: AudioChunk) -> None:
        """Queue an audio chunk (any rate, mono int16)."""
        if self._started:
            self.encoder.submit_audio(chunk)

    def start(self) -> None:
        """Open the codecs and start the writer threads (connections are made there)."""
        self.encoder.start()
        self._started = True

    async def stop(self) -> None:
        """Encode what is queued, finalise the recording and close the pushes."""
        if self._started:
            self._started = False
            if self.recorder is not None:
                log.info("finalising %s ...", self.recorder.path)
            await self.encoder.aclose()

    def health(self) -> dict[str, Any]:
        """``outputs`` for /health, plus flat counters that /metrics picks up."""
        push = [p.health() for p in self.pushers]
        doc: dict[str, Any] = {
            "outputs": {
                "encoder": self.encoder.health(),
                "push": push,
                "record": self.recorder.health() if self.recorder else None,
                "media": self.media_tap.health() if self.media_tap else None,
            },
        }
        if push:
            doc["push_connected"] = sum(p["connected"] for p in push)
            doc["push_reconnects"] = sum(p["reconnects"] for p in push)
            doc["push_frames_dropped"] = sum(p["frames_dropped"] for p in push)
        doc["output_frames_dropped"] = self.encoder.stats.frames_dropped
        return doc


def outputs_from_args(args: Any, *, offline: bool,
                      media_h264: bool = False) -> StreamOutputs | None:
    """The outputs that ``--push``, ``--save`` and ``--bitrate`` ask for (None: none).

    Args:
        args: parsed ``run_avatar.py`` arguments (``size``, ``fps``, ``push``, ``save``,
            ``bitrate``).
        offline: a ``--frames`` render: nothing is dropped, and pushing is refused.
        media_h264: the /media viewers get H.264 (``--codec h264``, live): build the
            outputs even without ``--push``/``--save``; the caller adds the tap.

    Raises:
        ConfigError: ``--push`` with ``--frames``, a bad address or an unwritable path.
    """
    push = list(getattr(args, "push", None) or [])
    save = getattr(args, "save", None)
    if not push and not save and not (media_h264 and not offline):
        return None
    if push and offline:
        raise ConfigError("--push streams live and cannot be combined with --frames; "
                          "use --save FILE.mp4 to write the render to a file")
    width, height = args.size
    kbit = getattr(args, "bitrate", None)
    settings = OutputSettings(width, height, args.fps,
                              video_bitrate=kbit * 1000 if kbit else None,
                              realtime=not offline)
    return StreamOutputs(settings, push=push, save=save)
