"""An interrupt reaches a slow viewer: none of the cut line's queued audio is sent after it.

A viewer that reads nothing for a while has the line's audio waiting in its queue on the
server (the last second of it, the audio budget). When the producer interrupts, the studio
cuts the line, a ``clear`` marker goes down the engine's one media stream, and the server
drops that viewer's queued audio of the line before the marker reaches the wire. Runs the
real app (``run_avatar.py``) and a real websocket viewer with a small receive buffer.
"""

from __future__ import annotations

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


class StallingViewer:
    """A ``/media`` viewer on a plain blocking socket (websockets' Sans-I/O client), so
    that "reads nothing" really means nothing is read: no library reads on our behalf."""

    def __init__(self, url: str) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        parts = urlsplit(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        self.sock.connect((parts.hostname, parts.port))
        self.sock.settimeout(0.5)
        self.proto = ClientProtocol(parse_uri(url.replace("http://", "ws://") + "media"),
                                    max_size=None)
        self.proto.send_request(self.proto.connect())
        self._flush()
        self.pending: list = []

    def _flush(self) -> None:
        for data in self.proto.data_to_send():
            if data:
                self.sock.sendall(data)

    def recv(self) -> bytes | str | None:
        """One message, or None after 0.5 s without one."""
        from websockets.frames import Frame

        while not self.pending:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not data:
                raise ConnectionError("server closed /media")
            self.proto.receive_data(data)
            self._flush()
            self.pending += [e for e in self.proto.events_received() if isinstance(e, Frame)]
        return self.pending.pop(0).data

    def close(self) -> None:
        self.sock.close()


def _viewer(url: str) -> dict:
    import time

    from websockets.sync.client import connect

    viewer = StallingViewer(url)
    try:
        first = viewer.recv()
        while first is None:
            first = viewer.recv()
        json.loads(first)  # hello
        before, heard_at = [], None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            data = viewer.recv()
            if data is None:
                continue
            before.append(data)
            kind, _, payload = _packets([data])[0]
            if heard_at is None and kind == 3 and _loud(payload):
                heard_at = time.monotonic()
            if heard_at is not None and time.monotonic() - heard_at > 0.5:
                break
        assert heard_at is not None, "the line never became audible on /media"
        t_stall = max(p for _, p, _ in _packets(before))
        time.sleep(STALL_S)  # reads nothing: the server queues for this viewer
        base = url.replace("http://", "ws://").rstrip("/")
        with connect(base + "/control") as control:
            control.send(json.dumps({"id": "1", "op": "auth", "token": TOKEN}))
            control.send(json.dumps({"id": "2", "op": "interrupt"}))
            while True:
                msg = json.loads(control.recv(timeout=20))
                if msg.get("id") == "2":
                    assert msg["ok"], msg
                    break
        time.sleep(0.3)  # the cut takes effect on the next tick; still not reading
        after = []
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            data = viewer.recv()
            if data is not None:
                after.append(data)
    finally:
        viewer.close()
    return {"t_stall": t_stall, "after": _packets(after)}


def test_interrupt_clears_a_slow_viewers_queued_audio_of_the_cut_line(app) -> None:  # noqa: F811
    url = app("--token", TOKEN, "--say", LONG)
    got = _viewer(url)
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
