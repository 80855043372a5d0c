"""Per-viewer queue policy: bounded, never blocking, keyframe-aware."""

from __future__ import annotations

import asyncio

from vhuman.stream.fanout import Fanout, OutPacket, ViewerQueue
from vhuman.stream.protocol import Kind


def _v(pts, key=False, kind=Kind.VIDEO_H264):
    return OutPacket(b"x", kind, pts, keyframe=key)


def _a(pts):
    return OutPacket(b"a", Kind.AUDIO_PCM_S16LE, pts, keyframe=True)


def _drain(q: ViewerQueue) -> list[OutPacket]:
    async def take():
        return [await q.get() for _ in range(len(q))]

    return asyncio.run(take())


def test_h264_viewer_starts_at_a_keyframe():
    q = ViewerQueue(independent_frames=False)
    assert not q.offer(_v(0))
    assert q.offer(_v(1, key=True))
    assert q.offer(_v(2))
    assert [p.pts_us for p in _drain(q)] == [1, 2]
    assert q.stats.skipped_video == 1


def test_h264_overflow_skips_to_next_keyframe_and_asks_for_one():
    asked = []
    q = ViewerQueue(max_video=3, independent_frames=False, request_keyframe=lambda: asked.append(1))
    for pts, key in [(0, True), (1, False), (2, False)]:
        assert q.offer(_v(pts, key))
    assert not q.offer(_v(3))  # full: dropped, and the chain is now broken
    assert asked == [1]
    assert not q.offer(_v(4))  # undecodable without 3: skipped too
    assert q.offer(_a(4))  # audio is not held hostage by video
    assert q.offer(_v(5, key=True))  # keyframe at a full queue replaces stale video
    got = _drain(q)
    assert [(p.kind.is_video, p.pts_us) for p in got] == [(False, 4), (True, 5)]
    assert q.stats.dropped_video == 1 + 3
    assert q.stats.skipped_video == 1


def test_jpeg_overflow_drops_the_oldest_picture():
    q = ViewerQueue(max_video=2, independent_frames=True)
    for pts in range(5):
        assert q.offer(_v(pts, key=True, kind=Kind.VIDEO_JPEG))
    assert [p.pts_us for p in _drain(q)] == [3, 4]
    assert q.stats.dropped_video == 3


def test_audio_budget_drops_oldest_chunks():
    q = ViewerQueue(max_audio=3)
    for pts in range(5):
        q.offer(_a(pts))
    assert [p.pts_us for p in _drain(q)] == [2, 3, 4]
    assert q.stats.dropped_audio == 2


def test_fanout_keeps_drop_counts_of_departed_viewers():
    f = Fanout()
    slow, fast = ViewerQueue(max_video=1), ViewerQueue(max_video=100)
    f.add(slow)
    f.add(fast)
    for pts in range(4):
        f.broadcast(_v(pts, key=True, kind=Kind.VIDEO_JPEG))
    assert len(fast) == 4 and len(slow) == 1
    assert f.dropped_video == 3
    f.remove(slow)
    assert len(f) == 1 and f.dropped_video == 3
    assert not slow.offer(_v(9, key=True, kind=Kind.VIDEO_JPEG))


def test_clear_line_drops_only_that_lines_queued_audio() -> None:
    """An interrupt's clear removes the cut line's audio from a backed-up viewer, and keeps
    video, markers and the audio of other lines in order."""
    from vhuman.stream.fanout import OutPacket, ViewerQueue
    from vhuman.stream.protocol import Kind

    q = ViewerQueue(max_audio=100)
    fan = Fanout()
    fan.add(q)
    for i in range(10):
        fan.broadcast(OutPacket(b"a", Kind.AUDIO_PCM_S16LE, i, True, "line-1"))
    fan.broadcast(OutPacket(b"v", Kind.VIDEO_JPEG, 10, True))
    fan.broadcast(OutPacket(b"b", Kind.AUDIO_PCM_S16LE, 11, True, "line-2"))
    assert fan.clear_line("line-1") == 10
    fan.broadcast(OutPacket(b"m", Kind.MARKER, 12))
    left = []
    while len(q):
        left.append(asyncio.run(q.get()).data)
    assert left == [b"v", b"b", b"m"]
    assert q.stats.cleared_audio == 10


def test_a_clear_marker_survives_the_silence_that_follows_it() -> None:
    """Continuous audio keeps flowing after an interrupt: the audio budget must not push
    the clear marker out of a slow viewer's queue before it reads again."""
    q = ViewerQueue(max_audio=5)
    q.offer(OutPacket(b"m", Kind.MARKER, 0))
    for i in range(50):  # a second of silence
        q.offer(OutPacket(b"s", Kind.AUDIO_PCM_S16LE, i + 1, True))
    got = []
    while len(q):
        got.append(asyncio.run(q.get()).kind)
    assert got[0] is Kind.MARKER and got.count(Kind.AUDIO_PCM_S16LE) == 5
