"""Rooms as Ray actors on a real local Ray head: stream, lose a worker, come back, resume."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.fleet.harness import (
    FleetThread,
    assert_room_b_kept_its_pace,
    kill_room_a,
    tiny_fleet,
    wait_until,
)

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_head():
    # A private head for this module, stopped afterwards. Ray turns 127.0.0.1 into the
    # machine's own interface address; nothing leaves the machine.
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def fleet(ray_head, tmp_path_factory):
    spec = tiny_fleet(tmp_path_factory.mktemp("rayfleet"), hang_s=5.0,
                      extra="    resources: {cpus: 1}\n")
    ft = FleetThread(spec, ray_address="auto")
    try:
        ft.call(ft.sup.wait_running(120))
        yield ft
    finally:
        ft.close()


def test_rooms_are_actors_and_a_lost_worker_comes_back_at_its_segment(fleet):
    sup, backend = fleet.sup, fleet.fleet.backend
    worker_a = fleet.call(backend.worker_pid(sup.rooms["a"].spec))
    worker_b = fleet.call(backend.worker_pid(sup.rooms["b"].spec))
    assert worker_a != worker_b and os.getpid() not in (worker_a, worker_b)
    # each room process is a child of its own actor's worker
    stat = Path(f"/proc/{sup.rooms['a'].address.pid}/stat").read_text()
    assert int(stat.rsplit(")", 1)[1].split()[1]) == worker_a
    # rooms stream at the driver's priority, not at the Ray worker's nice 15
    assert os.getpriority(os.PRIO_PROCESS, sup.rooms["b"].address.pid) == os.getpriority(
        os.PRIO_PROCESS, 0)
    old_room_pid = sup.rooms["a"].address.pid
    # the actor's worker process is lost
    out = kill_room_a(fleet, lambda: os.kill(worker_a, signal.SIGKILL), resume_timeout=60)
    new_worker = fleet.call(backend.worker_pid(sup.rooms["a"].spec))
    assert new_worker != worker_a, "Ray restarted the actor in a new worker"
    wait_until(lambda: not os.path.exists(f"/proc/{old_room_pid}"), 15,
               "the old room process to follow its worker")
    assert out.took < 45 and out.resumed == out.segment, (out.took, out.segment, out.resumed)
    assert out.va.frames_between(out.t_back, out.t_end) > 5
    from vhuman.fleet.process import pss_of, rss_of
    print(f"ray: actor worker RSS {rss_of(new_worker) / 2**20:.0f} MB, PSS "
          f"{pss_of(new_worker) / 2**20:.0f} MB")
    assert_room_b_kept_its_pace(fleet, out, "ray")
