"""One machine, real room processes: crash and hang recovery, resume, gateway, drain."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fleet.harness import (
    FleetThread,
    Viewer,
    assert_room_b_kept_its_pace,
    events,
    kill_room_a,
    tiny_fleet,
    wait_until,
)

pytestmark = pytest.mark.slow
FLEET_TOKEN = "fleet-test-token-0123456789"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    os.environ["VHUMAN_TEST_FLEET_TOKEN"] = FLEET_TOKEN
    ft = FleetThread(tiny_fleet(tmp_path_factory.mktemp("fleet"), hang_s=3.0, max_viewers=2,
                                token_env="VHUMAN_TEST_FLEET_TOKEN"))
    try:
        ft.call(ft.sup.wait_running(90))
        yield ft
    finally:
        ft.close()
        os.environ.pop("VHUMAN_TEST_FLEET_TOKEN", None)


def get(ft: FleetThread, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://{ft.base}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_kill9_room_restarts_resumes_its_segment_and_the_other_room_keeps_its_pace(fleet):
    sup = fleet.sup
    old_pid = sup.rooms["a"].address.pid
    out = kill_room_a(fleet, lambda: os.kill(old_pid, signal.SIGKILL), resume_timeout=45)
    crashed = events(fleet, "a", "crashed")
    assert crashed and crashed[-1]["detail"]["exit_code"] == -signal.SIGKILL
    assert sup.rooms["a"].address.pid != old_pid and sup.rooms["a"].state == "running"
    assert out.took < 30, f"room a took {out.took:.1f} s to come back"
    assert out.resumed == out.segment, f"killed in {out.segment!r}, resumed at {out.resumed!r}"
    assert out.va.frames_between(out.t_back, out.t_end) > 5, \
        "room a streams again through the gateway"
    assert_room_b_kept_its_pace(fleet, out, "supervisor")


def test_a_room_that_stops_producing_frames_is_restarted(fleet):
    sup = fleet.sup
    room = sup.rooms["b"]
    pid = room.address.pid
    t0 = time.monotonic()
    os.kill(pid, signal.SIGSTOP)  # alive, but no frame and no /health answer
    try:
        took = wait_until(lambda: events(fleet, "b", "hung"), 20, "room b declared hung")
        wait_until(lambda: room.state == "running" and room.address.pid != pid, 40,
                   "room b running again")
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    assert 3.0 <= took + 0.1 and time.monotonic() - t0 < 45
    assert not Path(f"/proc/{pid}").exists()  # the stopped process was killed and reaped
    status, body = get(fleet, "/rooms/b/health")
    assert status == 200 and json.loads(body)["frames_out"] >= 0


def test_gateway_pages_health_metrics_and_events(fleet):
    wait_until(lambda: all(r.state == "running" and r.health.get("fps_rendered")
                           for r in fleet.sup.rooms.values()), 40, "all up")
    status, body = get(fleet, "/")
    assert status == 200 and b"fleet.js" in body
    status, body = get(fleet, "/rooms/a/")
    assert status == 200 and b"viewer.js" in body  # the room's own page, proxied
    assert get(fleet, "/rooms/a/static/viewer.js")[0] == 200
    assert get(fleet, "/rooms/nope/")[0] == 404
    wait_until(lambda: get(fleet, "/rooms/a/thumb.jpg")[0] == 200, 15, "a thumbnail")
    assert get(fleet, "/rooms/a/thumb.jpg")[1][:2] == b"\xff\xd8"
    status, body = get(fleet, "/health")
    assert status == 200 and json.loads(body)["running"] == 2
    rooms = json.loads(get(fleet, "/api/rooms")[1])["rooms"]
    assert {r["id"] for r in rooms} == {"a", "b"} and all(r["fps"] for r in rooms)
    metrics = get(fleet, "/metrics")[1].decode()
    assert 'vhuman_room_up{room="a"} 1.0' in metrics
    assert 'vhuman_room_restarts_total{room="a"} 1.0' in metrics  # the kill -9 above
    assert 'vhuman_room_events_total{event="hung",room="b"} 1.0' in metrics
    evs = json.loads(get(fleet, "/events?room=a")[1])["events"]
    assert [e["event"] for e in evs][:2] == ["starting", "started"]


def test_gateway_bounds_viewers_per_room(fleet):
    viewers = [Viewer(fleet.base, "b") for _ in range(3)]
    futs = [fleet.spawn(v.run()) for v in viewers]
    try:
        wait_until(lambda: sum(v.connects for v in viewers) == 2
                   and sum(v.refused for v in viewers) >= 1, 15, "two in, the third refused")
        time.sleep(0.5)
        assert sum(v.connects for v in viewers) == 2
        assert all(len(v.arrivals) > 0 for v in viewers if v.connects)
    finally:
        for v in viewers:
            v.stopped = True
    for f in futs:
        f.result(10)


def test_fleet_control_needs_the_token_and_restarts_a_room(fleet):
    import asyncio

    from websockets.asyncio.client import connect

    async def session() -> list[dict]:
        async with connect(f"ws://{fleet.base}/fleet/control") as ws:
            out = []
            for msg in ({"id": 1, "op": "status", "token": "wrong"},
                        {"id": 2, "op": "status", "token": FLEET_TOKEN},
                        {"id": 3, "op": "restart", "room": "b"},
                        {"id": 4, "op": "restart", "room": "nope"}):
                await ws.send(json.dumps(msg))
                out.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return out

    restarts = fleet.sup.rooms["b"].restarts
    wrong, status, restart, unknown = fleet.call(session())
    assert wrong == {"id": 1, "ok": False, "error": "auth_failed"}
    assert status["ok"] and {r["id"] for r in status["rooms"]} == {"a", "b"}
    assert restart["ok"] and not unknown["ok"]
    wait_until(lambda: fleet.sup.rooms["b"].restarts == restarts + 1
               and fleet.sup.rooms["b"].state == "running", 40, "room b restarted")


def test_drain_refuses_new_viewers_and_stops_the_room(fleet):
    sup = fleet.sup
    fut = fleet.spawn(sup.drain("a"))
    wait_until(lambda: not sup.rooms["a"].accepting, 5, "draining")
    v = Viewer(fleet.base, "a")
    fleet.call(_one_try(v))
    assert v.refused >= 1 and v.connects == 0
    fut.result(30)
    assert sup.rooms["a"].state == "stopped" and events(fleet, "a", "drained")
    assert get(fleet, "/health")[0] == 200  # a drained room is not a failed fleet
    assert sup.rooms["b"].state == "running"


async def _one_try(v: Viewer) -> None:
    import asyncio

    task = asyncio.create_task(v.run())
    await asyncio.sleep(0.5)
    v.stopped = True
    await asyncio.wait_for(task, 5)
