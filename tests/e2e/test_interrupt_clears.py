"""An interrupt reaches a slow viewer: none of the cut line's queued audio is sent after it.

A viewer that reads nothing for a while has the line's audio waiting in its queue on the
server (the last second of it, the audio budget). When the producer interrupts, the studio
cuts the line, a ``clear`` marker goes down the engine's one media stream, and the server
drops that viewer's queued audio of the line before the marker reaches the wire. Runs the
real app (``run_avatar.py``) and a real websocket viewer with a small receive buffer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_live_browser import app  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

TOKEN = "interrupt-test-token-0123"
LONG = ("Welcome to the winter sale. This scarf is made of soft wool from Australia, it is "
        "one hundred and eighty centimetres long, and you can wear it in many ways. The tea "
        "is this spring's harvest, packed in small bags that travel well. The mug keeps "
        "your drink warm for six hours, and it comes in three colours.")
STALL_S = 3.0
HEADER = struct.Struct("<2sBBB3sq")


def _packets(raw: list[bytes]) -> list[tuple[int, int, bytes]]:
    out = []
    for data in raw:
        _, _, kind, _, _, pts = HEADER.unpack_from(data)
        out.append((kind, pts, data[HEADER.size:]))
    return out


def _loud(payload: bytes) -> bool:
    import numpy as np

    pcm = np.frombuffer(payload, "<i2")
    return bool(len(pcm)) and int(np.abs(pcm).max()) > 200


async def _viewer(base: str) -> dict:
    import websockets

    host, port = urlsplit(base.replace("ws://", "http://")).hostname, urlsplit(
        base.replace("ws://", "http://")).port
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # a slow, thin viewer
    sock.connect((host, port))
    sock.setblocking(False)
    async with websockets.connect(base + "/media", sock=sock, max_queue=4,
                                  max_size=None) as media:
        json.loads(await media.recv())  # hello
        # Read until the line is audible, then half a second more.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        heard_at = None
        before: list[bytes] = []
        while loop.time() < deadline:
            data = await asyncio.wait_for(media.recv(), 30)
            before.append(data)
            kind, _, payload = _packets([data])[0]
            if heard_at is None and kind == 3 and _loud(payload):
                heard_at = loop.time()
            if heard_at is not None and loop.time() - heard_at > 0.5:
                break
        assert heard_at is not None, "the line never became audible on /media"
        t_stall = max(p for _, p, _ in _packets(before))
        await asyncio.sleep(STALL_S)  # reads nothing: the server queues for us
        async with websockets.connect(base + "/control") as control:
            await control.send(json.dumps({"id": "1", "op": "auth", "token": TOKEN}))
            await control.send(json.dumps({"id": "2", "op": "interrupt"}))
            while True:
                msg = json.loads(await asyncio.wait_for(control.recv(), 20))
                if msg.get("id") == "2":
                    assert msg["ok"], msg
                    break
        after: list[bytes] = []
        end = loop.time() + 3.0
        while loop.time() < end:
            try:
                after.append(await asyncio.wait_for(media.recv(), 0.5))
            except asyncio.TimeoutError:
                continue
    return {"t_stall": t_stall, "after": _packets(after)}


def test_interrupt_clears_a_slow_viewers_queued_audio_of_the_cut_line(app) -> None:  # noqa: F811
    url = app("--token", TOKEN, "--say", LONG)
    got = asyncio.run(_viewer(url.replace("http://", "ws://").rstrip("/")))
    after = got["after"]
    markers = [(i, pts, json.loads(body)) for i, (kind, pts, body) in enumerate(after)
               if kind == 5]
    clears = [(i, pts) for i, pts, m in markers if m["marker"] == "clear"]
    assert clears, "no clear marker reached the viewer"
    i_clear, t_cut = clears[0]
    assert t_cut - got["t_stall"] > (STALL_S - 0.5) * 1e6  # the cut came during the stall
    audio = [(i, pts, body) for i, (kind, pts, body) in enumerate(after) if kind == 3]
    # After the marker: nothing of the cut line (all its audio is older than the cut).
    assert not [pts for i, pts, _ in audio if i > i_clear and pts < t_cut]
    # The last stretch before the cut was queued on the server for this viewer (past what
    # the kernel buffers held); the clear dropped it, so none of it was ever sent.
    queued = [pts for _, pts, body in audio if t_cut - 400_000 <= pts < t_cut and _loud(body)]
    assert not queued, f"{len(queued)} chunks of the cut line reached the slow viewer"
