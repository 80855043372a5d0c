"""The viewer page in a real Chromium: it draws the stream, keeps time, and plays audio."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.stream.browser import canvas_rgb, launch_chromium
from tests.stream.synthetic import BACKGROUND_RGB, SQUARE_RGB, ServedStream

pytestmark = pytest.mark.slow


def _wait(page, js: str, timeout_ms: int = 20000) -> None:
    page.wait_for_function(js, timeout=timeout_ms)


def _square_left_edges(rgb: np.ndarray) -> np.ndarray:
    red = np.all(np.abs(rgb.astype(int) - SQUARE_RGB) < 40, axis=-1)
    return np.nonzero(red.any(axis=0))[0]


@pytest.mark.parametrize("codec", ["jpeg", "h264"])
def test_viewer_plays_video_and_audio(page, codec):
    with ServedStream(codec=codec, width=640, height=360, fps=30) as stream:
        page.goto(stream.url)
        _wait(page, "window.vhumanStats && window.vhumanStats.framesDrawn > 45")
        _wait(page, "window.vhumanStats.fps > 0")
        stats = page.evaluate("window.vhumanStats")
        assert stats["connected"] and stats["codec"] == codec
        assert stats["label"] == "AI 生成"
        assert page.inner_text("#label") == "AI 生成"
        assert stats["fps"] > 10, stats
        assert stats["errors"] == []

        # The canvas shows the square on the background, and the square moves.
        first = canvas_rgb(page)
        assert first.shape == (360, 640, 3)
        cols1 = _square_left_edges(first)
        assert 70 <= len(cols1) <= 90  # an 80 px square (codec blur at the edges)
        bg = first[10, 10].astype(int)
        assert np.abs(bg - BACKGROUND_RGB).max() < 12, bg
        mid = first[180, (cols1[0] + cols1[-1]) // 2].astype(int)
        assert np.abs(mid - SQUARE_RGB).max() < 12, mid  # colours survive codec + canvas
        _wait(page, f"window.vhumanStats.framesDrawn > {stats['framesDrawn'] + 10}")
        cols2 = _square_left_edges(canvas_rgb(page))
        assert len(cols2) >= 70 and cols2[0] != cols1[0]

        # Audio: the context runs (autoplay allowed) and chunks are scheduled on time.
        _wait(page, "window.vhumanStats.audioChunksScheduled > 25")
        stats = page.evaluate("window.vhumanStats")
        assert stats["audioContextState"] == "running"
        assert stats["audioChunksScheduled"] > 10 * max(1, stats["audioChunksLate"])
        assert page.is_hidden("#unmute")

        page.screenshot(path=f"/tmp/vhuman_viewer_{codec}.png")
        health = stream.health()
        assert health["viewers"] == 1 and health["fps"] > 10


def test_viewer_reconnects_after_the_server_restarts(page):
    with ServedStream(width=320, height=180) as stream:
        port = stream.server.port
        page.goto(stream.url)
        _wait(page, "window.vhumanStats.framesDrawn > 10")
    # The server is gone: the page says so and keeps retrying.
    _wait(page, "window.vhumanStats.connected === false")
    assert "offline" in page.inner_text("#status").lower()
    time.sleep(0.2)
    # a new label (it must lead with the disclosure) shows the page took the new hello
    with ServedStream(width=320, height=180, port=port, label="AI generated · restarted"):
        _wait(page, "window.vhumanStats.label === 'AI generated · restarted'")
        before = page.evaluate("window.vhumanStats.framesDrawn")
        _wait(page, f"window.vhumanStats.framesDrawn > {before + 10}")
        assert page.evaluate("window.vhumanStats.reconnects") >= 1


def test_unmute_button_when_autoplay_is_blocked(playwright_instance):
    """A visitor's browser blocks audio until a gesture: the page offers the button."""
    b = launch_chromium(playwright_instance, autoplay=False)
    try:
        page = b.new_page(viewport={"width": 1280, "height": 720}, bypass_csp=True)
        with ServedStream(width=320, height=180) as stream:
            page.goto(stream.url)
            _wait(page, "window.vhumanStats.framesDrawn > 5")
            _wait(page, "!document.getElementById('unmute').hidden")
            assert page.evaluate("window.vhumanStats.audioContextState") == "suspended"
            assert page.evaluate("window.vhumanStats.audioChunksScheduled") == 0
            page.screenshot(path="/tmp/vhuman_viewer_unmute.png")
            page.click("#unmute")
            _wait(page, "window.vhumanStats.audioContextState === 'running'")
            _wait(page, "window.vhumanStats.audioChunksScheduled > 10")
            assert page.is_hidden("#unmute")
    finally:
        b.close()
