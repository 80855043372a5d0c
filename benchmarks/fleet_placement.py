#!/usr/bin/env python3
"""Placement simulation: rooms as Ray actors over many fake nodes, then nodes are lost.

Starts a real local Ray cluster of ``--nodes`` fake nodes (``ray.cluster_utils.Cluster``:
one raylet each, on this machine) that offer only a custom resource ``room_slot`` (no CPU),
places ``--rooms`` stand-in room actors with the options the fleet gives real rooms
(:func:`vhuman.fleet.raybackend.actor_options`: ``max_restarts=-1``, SPREAD, the room's
resources, here ``{room_slot: 1}``), then removes ``--lose`` nodes and waits until every
room runs again on the nodes left, then adds one node and places ``--grow`` more rooms.
Prints JSON: rooms per node at each stage and how long re-placement took.

    .venv/bin/python benchmarks/fleet_placement.py --nodes 6 --slots 3 --rooms 12 --lose 2

The stand-in actors do no work (a real room would be a render process); the scheduling,
the restarts and the timings are Ray's own.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import emit_json
from vhuman.fleet.raybackend import actor_options, ray
from vhuman.fleet.spec import Resources, RoomSpec


class StandInRoom:
    """Where a room would run: answers with its node id."""

    def node(self) -> str:
        return ray.get_runtime_context().get_node_id()


def spread(actors: dict, node_names: dict[str, str], timeout: float) -> dict[str, int]:
    """Rooms per node, once every actor answers (restarted ones included)."""
    deadline = time.monotonic() + timeout
    where: dict[str, str] = {}
    while len(where) < len(actors):
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(where)}/{len(actors)} rooms answered")
        for rid, a in actors.items():
            if rid in where:
                continue
            try:
                where[rid] = ray.get(a.node.remote(), timeout=2)
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                pass
    counts = collections.Counter(node_names.get(n, n[:8]) for n in where.values())
    return dict(sorted(counts.items()))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=6)
    p.add_argument("--slots", type=int, default=3, help="room_slot per node")
    p.add_argument("--rooms", type=int, default=12)
    p.add_argument("--lose", type=int, default=2)
    p.add_argument("--grow", type=int, default=2)
    p.add_argument("--out")
    args = p.parse_args()
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    t0 = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1,
                                                            "include_dashboard": False})
    nodes = [cluster.add_node(num_cpus=0, resources={"room_slot": args.slots})
             for _ in range(args.nodes)]
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    cluster.wait_for_nodes()
    names = {n.node_id: f"node{i}" for i, n in enumerate(nodes)}
    result: dict = {"benchmark": "fleet_placement", "nodes": args.nodes, "slots": args.slots,
                    "rooms": args.rooms, "cluster_start_s": round(time.monotonic() - t0, 1)}
    cls = ray.remote(StandInRoom)

    def place(i: int):
        room = RoomSpec(id=f"room{i}", resources=Resources(cpus=0, custom=(("room_slot", 1),)))
        return cls.options(**actor_options(room, "sim")).remote()

    try:
        actors = {f"room{i}": place(i) for i in range(args.rooms)}
        t = time.monotonic()
        result["placed"] = spread(actors, names, 120)
        result["place_s"] = round(time.monotonic() - t, 1)
        lost = nodes[: args.lose]
        t = time.monotonic()
        for n in lost:
            cluster.remove_node(n)
        result["lost_nodes"] = [names[n.node_id] for n in lost]
        result["after_loss"] = spread(actors, names, 180)
        result["replace_s"] = round(time.monotonic() - t, 1)
        new = cluster.add_node(num_cpus=0, resources={"room_slot": args.slots})
        names[new.node_id] = "node_new"
        cluster.wait_for_nodes()
        for i in range(args.rooms, args.rooms + args.grow):
            actors[f"room{i}"] = place(i)
        result["after_adding_a_node"] = spread(actors, names, 120)
        result["lost_nodes_hold_rooms"] = any(
            names[n.node_id] in result["after_loss"] for n in lost)
    finally:
        ray.shutdown()
        cluster.shutdown()
    emit_json(result, args.out, newline=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
