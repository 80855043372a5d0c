"""Rooms as Ray actors: the fleet beyond one machine.

Each room is one actor (:class:`RoomActor`) holding one room process on the node Ray placed
it on, with the room's resources from the fleet file (``num_cpus``, a GPU fraction,
``memory``, custom resources) and ``max_restarts=-1``: when the actor's worker process or
its whole node is lost, Ray starts the actor again where the resources are free, and the
supervisor, seeing the room gone, starts its process in the new actor with the segment to
resume. The room listens on its node's address so the gateway can reach it wherever it runs.

Ray is optional (``pip install 'vhuman[fleet]'``); importing this module without it raises
:class:`~vhuman.core.errors.MissingDependencyError` with that command.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from vhuman.core.errors import MissingDependencyError
from vhuman.fleet.process import Address, RoomProcess
from vhuman.fleet.spec import FleetSpec, RoomSpec

try:
    import ray
    from ray.exceptions import RayActorError
except ModuleNotFoundError as exc:  # pragma: no cover - exercised without the extra only
    raise MissingDependencyError("ray (needed for vhuman fleet --ray)",
                                 "pip install 'vhuman[fleet]'") from exc

#: exit_code() of an actor that has no room process (it was just (re)started by Ray).
NOT_STARTED = -1000
#: exit_code() when the actor itself is gone (Ray gave up, or the call failed).
LOST = -1001
CALL_TIMEOUT_S = 10.0


class RoomActor:
    """Holds one room process on whatever node Ray placed the actor on."""

    def __init__(self, room: RoomSpec, log_dir: str | None, nice: int = 0) -> None:
        self.room = room
        self.log_dir = log_dir
        self.nice = nice  # the room's priority: the driver's, not this worker's (15)
        self.proc: RoomProcess | None = None

    def start(self, token: str, extra_args: tuple[str, ...], timeout_s: float) -> Address:
        """(Re)start the room process on this node; return its address."""
        if self.proc is None:
            ctx = ray.get_runtime_context()
            log_path = Path(self.log_dir) / f"{self.room.id}.log" if self.log_dir else None
            self.proc = RoomProcess(self.room, token, bind=ray.util.get_node_ip_address(),
                                    log_path=log_path, node=ctx.get_node_id()[:12],
                                    nice=self.nice)
        return self.proc.start(timeout_s, extra_args)

    def exit_code(self) -> int | None:
        if self.proc is None:
            return NOT_STARTED
        return self.proc.exit_code()

    def settle(self) -> None:
        if self.proc is not None:
            self.proc.settle()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()

    def stop(self, timeout_s: float) -> None:
        if self.proc is not None:
            self.proc.stop(timeout_s)

    def rss_bytes(self) -> int | None:
        return None if self.proc is None else self.proc.rss_bytes()

    def worker_pid(self) -> int:
        """The actor's worker process (tests kill it to simulate a lost worker)."""
        return os.getpid()

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()


def actor_options(room: RoomSpec, fleet_name: str) -> dict[str, Any]:
    """Ray ``.options()`` for one room's actor, from its ``resources``."""
    res = room.resources
    opts: dict[str, Any] = {
        "name": f"vhuman-{fleet_name}-{room.id}"[:120],
        "max_restarts": -1,  # a lost worker or node: Ray places the actor again
        "max_concurrency": 4,  # exit_code/kill must not wait behind a slow start
        # one room per node before two on any: a node's loss takes as few rooms as can be,
        # and rooms do not fight over one node's cores while others idle
        "scheduling_strategy": "SPREAD",
        "num_cpus": res.cpus,
    }
    if res.gpu:
        opts["num_gpus"] = res.gpu
    if res.memory_mb:
        opts["memory"] = res.memory_mb * 1024 * 1024
    if res.custom:
        opts["resources"] = dict(res.custom)
    return opts


class RayBackend:
    """The supervisor's :class:`~vhuman.fleet.supervisor.RoomBackend` on a Ray cluster.

    Args:
        address: Ray cluster address; ignored when this process is already connected.
        fleet: the fleet (for actor names and the log folder).
    """

    def __init__(self, address: str, fleet: FleetSpec) -> None:
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        self.fleet = fleet
        self._cls = ray.remote(RoomActor)
        self.actors: dict[str, Any] = {}

    def actor(self, room: RoomSpec) -> Any:
        a = self.actors.get(room.id)
        if a is None:
            log_dir = str(self.fleet.log_dir) if self.fleet.log_dir else None
            a = self.actors[room.id] = self._cls.options(
                **actor_options(room, self.fleet.name)).remote(
                    room, log_dir, os.getpriority(os.PRIO_PROCESS, 0))
        return a

    async def _call(self, ref: Any, timeout_s: float = CALL_TIMEOUT_S) -> Any:
        return await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout_s)

    async def start(self, room: RoomSpec, token: str, extra_args: tuple[str, ...],
                    timeout_s: float) -> Address:
        from vhuman.fleet.process import RoomStartError

        try:
            return await self._call(self.actor(room).start.remote(token, extra_args, timeout_s),
                                    timeout_s + 60)  # + the time Ray needs to place it
        except RayActorError as exc:
            raise RoomStartError(f"room {room.id}: its actor died while starting: "
                                 f"{str(exc).splitlines()[0][:200]}") from None
        except TimeoutError:
            raise RoomStartError(f"room {room.id}: not placed and started within "
                                 f"{timeout_s + 60:g} s (are the resources it asks for "
                                 "free on the cluster?)") from None
        except ray.exceptions.RayTaskError as exc:
            raise RoomStartError(str(exc.cause) if exc.cause else str(exc)) from None

    async def exit_code(self, room: RoomSpec) -> int | None:
        try:
            return await self._call(self.actor(room).exit_code.remote(), 5.0)
        except RayActorError:
            return LOST
        except TimeoutError:
            return None  # busy or being placed again: the health check decides

    async def settle(self, room: RoomSpec) -> None:
        try:
            await self._call(self.actor(room).settle.remote())
        except (TimeoutError, RayActorError):
            pass

    async def kill(self, room: RoomSpec) -> None:
        try:
            await self._call(self.actor(room).kill.remote())
        except (TimeoutError, RayActorError):
            pass

    async def stop(self, room: RoomSpec, timeout_s: float) -> None:
        try:
            await self._call(self.actor(room).stop.remote(timeout_s), timeout_s + 5)
        except (TimeoutError, RayActorError):
            pass

    async def rss_bytes(self, room: RoomSpec) -> int | None:
        try:
            return await self._call(self.actor(room).rss_bytes.remote(), 2.0)
        except (TimeoutError, RayActorError):
            return None

    async def worker_pid(self, room: RoomSpec) -> int:
        """The pid of the room's actor worker process."""
        return await self._call(self.actor(room).worker_pid.remote())

    async def close(self) -> None:
        for a in self.actors.values():
            ray.kill(a, no_restart=True)
        self.actors.clear()
