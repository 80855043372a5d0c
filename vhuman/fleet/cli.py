"""``vhuman fleet FLEET.yaml [--ray ADDRESS]``: run every room of a fleet file.

Without ``--ray`` every room is a child process of this one, on loopback; with it every room
is a Ray actor somewhere on the cluster. Either way one gateway port serves them all
(docs/fleet.md). SIGINT/SIGTERM drain the fleet: rooms stop taking viewers, finish the line
being spoken, then stop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from vhuman.core.errors import ConfigError
from vhuman.fleet.events import EventLog
from vhuman.fleet.spec import FleetSpec, load_fleet


class Fleet:
    """A running fleet: supervisor, backend and gateway wired together.

    Args:
        spec: the validated fleet file.
        ray_address: None for one machine; a Ray address ("auto", "ray://host:10001",
            "host:6379") to place rooms as actors on that cluster.
        port: overrides ``gateway.port`` (0: any free port).
    """

    def __init__(self, spec: FleetSpec, *, ray_address: str | None = None,
                 port: int | None = None, env: dict[str, str] | None = None) -> None:
        from dataclasses import replace

        from vhuman.fleet.gateway import Gateway
        from vhuman.fleet.supervisor import LocalBackend, Supervisor

        if port is not None:
            spec = replace(spec, gateway=replace(spec.gateway, port=port))
        env = dict(os.environ) if env is None else env
        self.spec = spec
        self.events = EventLog(spec.log_dir)
        if ray_address is None:
            backend: Any = LocalBackend(spec.log_dir)
            starts = None
        else:
            from vhuman.fleet.raybackend import RayBackend

            backend = RayBackend(ray_address, spec)
            starts = len(spec.rooms)  # the cluster bounds itself
        self.backend = backend
        self.supervisor = Supervisor(spec, backend, self.events, env=env,
                                     start_concurrency=starts)
        token = env.get(spec.token_env, "").strip() if spec.token_env else None
        self.gateway = Gateway(self.supervisor, self.events, fleet_token=token or None)

    async def start(self) -> None:
        """Bind the gateway (fails first on a taken port), then start the rooms."""
        await self.gateway.start()
        await self.supervisor.start()

    async def stop(self) -> None:
        """Drain every room, then close the gateway."""
        await self.supervisor.stop()
        await self.gateway.stop()


async def _run(args: argparse.Namespace) -> int:
    spec = load_fleet(args.fleet)
    fleet = Fleet(spec, ray_address=args.ray, port=args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await fleet.start()
    where = f"on Ray at {args.ray}" if args.ray else "on this machine"
    print(f"fleet {spec.name}: {len(spec.rooms)} rooms {where}; open {fleet.gateway.url}",
          flush=True)
    for rid, tok in fleet.supervisor.generated_tokens.items():
        print(f"control token for room {rid} (/rooms/{rid}/control): {tok}", flush=True)
    try:
        await stop.wait()
    finally:
        print("draining the fleet ...", flush=True)
        await fleet.stop()
    return 0


def fleet_command(args: argparse.Namespace) -> int:
    """Run ``vhuman fleet``."""
    if not Path(args.fleet).exists():
        raise ConfigError(f"{args.fleet}: fleet file not found; check the path")
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 0


def add_subcommand(sub: Any) -> None:
    """Register ``vhuman fleet``."""
    p = sub.add_parser("fleet", help="run many rooms from a fleet file (one machine or Ray)")
    p.add_argument("fleet", metavar="FLEET.yaml", help="the fleet file (docs/fleet.md)")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="place rooms as Ray actors on this cluster ('auto', host:6379 or "
                        "ray://host:10001); needs pip install 'vhuman[fleet]'")
    p.add_argument("--port", type=int, metavar="N", help="gateway port (overrides the file)")
    p.add_argument("--check", action="store_true",
                   help="validate the fleet file and exit")
    p.add_argument("--log-level", default="info",
                   choices=("debug", "info", "warning", "error"))
    p.set_defaults(func=_dispatch)


def _dispatch(args: argparse.Namespace) -> int:
    if args.check:
        spec = load_fleet(args.fleet)
        print(f"{args.fleet}: ok, {len(spec.rooms)} rooms: "
              + ", ".join(r.id for r in spec.rooms))
        return 0
    return fleet_command(args)
