"""Tests for the nod plugin: keywords in the file become head nods, nothing else moves."""

import asyncio
import math
import time

import pytest
from vhuman.drivers.base import DriverContext
from vhuman.core import quat
from vhuman.core.clock import SimClock

from vhuman_nod import NodDriver

MS = 1_000_000


@pytest.fixture
def nod(tmp_path):
    cues = tmp_path / "cues.txt"
    cues.write_text("yes from before the show\n")  # old text must not trigger a nod
    driver = NodDriver(keyword="yes", path=str(cues), degrees="10", seconds="0.5")
    asyncio.run(driver.start(DriverContext(clock=SimClock())))
    yield driver, cues
    asyncio.run(driver.stop())


def pitch_deg(pose):
    return math.degrees(quat.to_euler(pose.head)[1])


def append(path, text):
    with path.open("a") as f:
        f.write(text)


def test_a_keyword_line_makes_one_nod_down_and_back(nod):
    driver, cues = nod
    driver.poll()
    assert driver.sample(0) is None  # nothing new written: the layer stays out of the way
    append(cues, "Viewer: YES, show the red one\n")
    driver.poll()
    start = 100 * MS
    mid = driver.sample(start + 250 * MS)  # first sample after the keyword starts the nod
    assert mid is not None
    assert pitch_deg(mid) == pytest.approx(0.0, abs=0.01)  # it starts from rest
    half = driver.sample(start + 250 * MS + 250 * MS)
    assert pitch_deg(half) == pytest.approx(10.0, abs=0.1)  # deepest halfway: head down 10°
    assert float(half.mask.max()) == 0.0  # it never touches the face weights
    assert driver.sample(start + 250 * MS + 500 * MS) is None  # done after 0.5 s


def test_half_written_lines_wait_and_each_keyword_nods_once(nod):
    driver, cues = nod
    append(cues, "yes")
    driver.poll()
    assert driver.sample(0) is None  # no newline yet: the writer may still be typing
    append(cues, " and yes again\n")
    driver.poll()
    assert driver.seen == 2
    first = [driver.sample(t * 100 * MS) for t in range(5)]
    second = [driver.sample(t * 100 * MS) for t in range(5, 10)]
    assert all(p is not None for p in first + second)  # two nods back to back
    assert driver.sample(10 * 100 * MS) is None


def test_watcher_thread_picks_up_keywords_without_polling_by_hand(nod):
    driver, cues = nod
    append(cues, "yes\n")
    for _ in range(200):  # the watcher polls every 50 ms; give it up to 10 s on a busy box
        if driver.seen:
            break
        time.sleep(0.05)
    assert driver.seen == 1


def test_it_still_works_after_a_restart(nod):
    driver, cues = nod
    asyncio.run(driver.stop())  # what vhuman does when it restarts a failing plugin
    asyncio.run(driver.start(DriverContext(clock=SimClock())))
    append(cues, "yes\n")
    for _ in range(200):  # the new watcher thread must be the one that notices it
        if driver.seen:
            break
        time.sleep(0.05)
    assert driver.seen == 1


def test_entry_point_is_declared():
    from importlib.metadata import entry_points

    eps = {ep.name: ep for ep in entry_points(group="vhuman.drivers")}
    if "nod" not in eps:
        pytest.skip("vhuman-nod is not installed (pip install -e examples/plugin-template)")
    assert eps["nod"].load() is NodDriver
