"""Resuming a restarted room's show at the segment it was in.

The supervisor remembers the segment from each room's ``/health`` (``show.segment``). When
the host CLI has ``--start-segment NAME`` (the runner then starts its first pass at that
segment), the restart passes it and nothing else is needed. Otherwise the room starts at
the top and :func:`seek_segment` walks it forward over ``/control``: ``skip`` cuts the
current line or wait, until ``status`` reports the wanted segment. Lines passed over are
cut within a tick or two of starting, so a viewer sees a short flicker of the lips at most.
"""

from __future__ import annotations

import asyncio
import functools
import time

from vhuman.fleet.client import ControlClient, RoomUnreachable
from vhuman.fleet.process import Address

START_SEGMENT_FLAG = "--start-segment"


@functools.cache
def cli_has_start_segment() -> bool:
    """Whether ``run_avatar.py`` accepts ``--start-segment`` (the runner resumes itself)."""
    from vhuman.cli import build_run_parser

    return any(START_SEGMENT_FLAG in a.option_strings for a in build_run_parser()._actions)


def resume_args(segment: str | None) -> tuple[str, ...]:
    """Extra room arguments that resume at ``segment`` when the CLI can do it itself."""
    if segment and cli_has_start_segment():
        return (START_SEGMENT_FLAG, segment)
    return ()


async def seek_segment(addr: Address, token: str, segment: str, *, timeout_s: float = 30.0,
                       max_skips: int = 400) -> dict:
    """Skip steps over /control until the show's status says ``segment``.

    Returns:
        The last ``status`` seen (its ``segment`` equals ``segment``).

    Raises:
        RoomUnreachable: the room is gone, the show has no such segment, or time ran out.
    """
    deadline = time.monotonic() + timeout_s
    skips = 0
    async with ControlClient(addr, token) as c:
        while time.monotonic() < deadline:
            status = (await c.call({"op": "status"})).get("status") or {}
            if status.get("segment") == segment and status.get("state") == "running":
                return status
            if status.get("state") in ("idle", "finished", "stopped"):
                raise RoomUnreachable(f"the show is {status.get('state')}; "
                                      f"no segment {segment!r}")
            if skips > max(max_skips, 3 * int(status.get("steps") or 0)):
                raise RoomUnreachable(f"segment {segment!r} not reached after {skips} skips")
            if status.get("state") != "running":
                await asyncio.sleep(0.1)  # starting, or waiting for its start time
                continue
            step = status.get("step")
            await c.call({"op": "skip"})
            skips += 1
            # wait for the runner to move on (a skip that fell between steps is retried)
            for _ in range(20):
                if ((await c.call({"op": "status"})).get("status") or {}).get("step") != step:
                    break
                await asyncio.sleep(0.05)
    raise RoomUnreachable(f"segment {segment!r} not reached in {timeout_s:g} s")
