"""The Live Link Face-style UDP driver over a real loopback socket, sender written here.

The sender packs datagrams by hand from the documented layout (not with the driver's own
encoder), so a change to the wire format that breaks real senders fails these tests.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import struct
import time

import numpy as np
import pytest

from vhuman.core.arkit import INDEX
from vhuman.avatar.mixer import Mixer
from vhuman.drivers.base import DriverContext
from vhuman.drivers.livelink import LiveLinkDriver, encode_packet, parse_packet
from vhuman.drivers.registry import DriverRegistry
from vhuman.core import quat
from vhuman.core.clock import SimClock
from vhuman.core.errors import ConfigError, ProtocolError

MS = 1_000_000
JAW = INDEX["jawOpen"]


def packet(weights: dict[str, float], head=None, seq=0) -> bytes:
    """Binary datagram per docs: <4sBBHI header, 52 float32 weights, 3 float32 head."""
    w = [0.0] * 52
    for name, value in weights.items():
        w[INDEX[name]] = value
    flags = 1 if head is not None else 0
    return struct.pack("<4sBBHI52f3f", b"VHLL", 1, flags, 0, seq, *w, *(head or (0, 0, 0)))


class Sender:
    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addr = ("127.0.0.1", port)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.addr)


def wait_for(cond, what: str) -> None:
    """Wait (real time, bounded) for the receiver thread; no timing is asserted."""
    for _ in range(1000):
        if cond():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def live():
    clock = SimClock()
    driver = LiveLinkDriver(port=0)  # a free port
    loop = asyncio.new_event_loop()
    loop.run_until_complete(driver.start(DriverContext(clock=clock)))
    sender = Sender(driver.port)
    yield driver, sender, clock
    loop.run_until_complete(driver.stop())
    loop.close()
    sender.sock.close()


def test_datagrams_drive_jaw_open_through_the_mixer(live):
    driver, sender, clock = live
    mixer = Mixer()
    assert driver.sample(0) is None  # nothing received yet: the layer is absent
    sender.send(packet({"jawOpen": 0.8}, seq=1))
    wait_for(lambda: driver.packets == 1, "the first datagram")
    states = []
    for n in range(10):  # 300 ms: past the mixer's 150 ms fade-in
        t = n * 33 * MS
        clock.set(t)
        states.append(mixer.mix(t, [(driver, driver.priority, driver.sample(t))]))
    assert states[-1].weights[JAW] == pytest.approx(0.8, abs=1e-6)
    assert states[0].weights[JAW] < states[-1].weights[JAW]  # it faded in, no pop

    sender.send(packet({"jawOpen": 0.25, "eyeBlinkLeft": 1.0}, head=(0.3, -0.1, 0.05), seq=2))
    wait_for(lambda: driver.packets == 2, "the second datagram")
    pose = driver.sample(clock.now_ns())
    assert pose.weights[JAW] == pytest.approx(0.25)
    assert pose.weights[INDEX["eyeBlinkLeft"]] == 1.0
    assert quat.to_euler(pose.head) == pytest.approx((0.3, -0.1, 0.05), abs=1e-4)


def test_json_datagrams_by_name(live):
    driver, sender, clock = live
    sender.send(json.dumps({"blendshapes": {"jawOpen": 0.6}, "head": [0, 0.2, 0]}).encode())
    wait_for(lambda: driver.packets == 1, "the JSON datagram")
    pose = driver.sample(0)
    assert pose.weights[JAW] == pytest.approx(0.6)
    assert float(pose.weights.sum()) == pytest.approx(0.6)  # unnamed shapes stay at rest
    assert quat.to_euler(pose.head)[1] == pytest.approx(0.2, abs=1e-4)


def test_stale_stream_fades_out_after_500_ms(live):
    driver, sender, clock = live
    clock.set(1000 * MS)
    sender.send(packet({"jawOpen": 0.5}))
    wait_for(lambda: driver.packets == 1, "the datagram")
    assert driver.sample(1400 * MS).confidence == 1.0
    assert driver.sample(1500 * MS).confidence == 1.0
    assert driver.sample(1625 * MS).confidence == pytest.approx(0.5)  # default 250 ms fade
    assert driver.sample(1750 * MS) is None
    clock.set(1750 * MS)
    sender.send(packet({"jawOpen": 0.5}))  # the phone comes back: full confidence again
    wait_for(lambda: driver.packets == 2, "the next datagram")
    assert driver.sample(1750 * MS).confidence == 1.0


def test_garbage_is_counted_and_the_receiver_keeps_going(live):
    driver, sender, clock = live
    sender.send(b"hello")
    sender.send(b"XXLL" + packet({"jawOpen": 0.1})[4:])
    nan = bytearray(packet({}))
    struct.pack_into("<f", nan, 12 + 4 * JAW, math.nan)
    sender.send(bytes(nan))
    sender.send(b'{"blendshapes": {"jawOpenn": 1}}')
    sender.send(packet({"jawOpen": 0.7}))
    wait_for(lambda: driver.packets == 1, "the good datagram")
    assert driver.bad_packets == 4
    assert driver.sample(0).weights[JAW] == pytest.approx(0.7)


def test_reordered_frames_never_step_back(live):
    driver, sender, clock = live
    sender.send(packet({"jawOpen": 0.9}, seq=0xFFFFFFFF))
    sender.send(packet({"jawOpen": 0.2}, seq=0xFFFFFFFE))  # late, older: dropped
    sender.send(packet({"jawOpen": 0.4}, seq=0))  # the counter wrapped: newer
    wait_for(lambda: driver.packets + driver.out_of_order == 3, "three datagrams")
    assert driver.out_of_order == 1
    assert driver.sample(0).weights[JAW] == pytest.approx(0.4)


def test_encoder_and_parser_agree_with_the_documented_layout():
    w = np.linspace(0, 1, 52, dtype=np.float32)
    data = encode_packet(w, head=(0.1, 0.2, 0.3), seq=7)
    assert len(data) == 232 and data[:4] == b"VHLL"
    frame = parse_packet(data)
    assert np.allclose(frame.weights, w) and frame.seq == 7
    assert frame.head == pytest.approx((0.1, 0.2, 0.3))
    with pytest.raises(ProtocolError, match="232 bytes"):
        parse_packet(data[:-4])


def test_options_come_as_strings_and_bad_ones_are_explained():
    reg = DriverRegistry()
    reg.register("livelink", LiveLinkDriver, origin="builtin")
    driver = reg.create("livelink", port="0", stale_ms="200", head="false")
    assert driver.port == 0 and driver.stale_ns == 200 * MS and driver.use_head is False
    with pytest.raises(ConfigError, match="port must be a number"):
        reg.create("livelink", port="eleven")
    with pytest.raises(ConfigError, match="valid options: host, port"):
        reg.create("livelink", prot="1")


def test_a_taken_port_says_how_to_pick_another():
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        driver = LiveLinkDriver(port=taken.getsockname()[1])
        with pytest.raises(ConfigError, match="livelink:port=N"):
            asyncio.run(driver.start(DriverContext(clock=SimClock())))
    finally:
        taken.close()


def test_restart_listens_again_on_the_same_port(live):
    driver, sender, clock = live
    port = driver.port
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(driver.stop())  # what IsolatedDriver does on a restart
        loop.run_until_complete(driver.start(DriverContext(clock=clock)))
        assert driver.port == port  # senders keep their target
        sender.send(packet({"jawOpen": 0.35}))
        wait_for(lambda: driver.packets == 1, "a datagram after the restart")
        assert driver.sample(0).weights[JAW] == pytest.approx(0.35)
    finally:
        loop.close()
