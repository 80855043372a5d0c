"""Entry point of a room process: ``python -m vhuman.fleet.roomproc [run_avatar.py args]``.

The same host as ``run_avatar.py``, plus one guard: when the process that started the room
(the supervisor, or the Ray actor that owns it) dies, even by ``kill -9``, the room stops too,
so a lost supervisor never leaves an orphan holding a port and a CPU. A watcher thread
notices the new parent within half a second. (Linux's parent-death signal is not used: it
fires when the *thread* that started the child ends, and Ray actors start rooms from pool
threads.)

It also starts at the low CPU priority the supervisor asks for in ``VHUMAN_START_NICE``
(imports and the avatar build take seconds of CPU); the supervisor lifts it once the room
serves, so a restart takes spare CPU and the rooms already streaming keep their pace.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def _watch_parent(parent: int, period_s: float = 0.5, grace_s: float = 10.0) -> None:
    while os.getppid() == parent:
        time.sleep(period_s)
    os.kill(os.getpid(), signal.SIGTERM)  # graceful: the room closes its viewers and files
    time.sleep(grace_s)
    os._exit(1)


def main(argv: list[str] | None = None) -> int:
    """Run the host with ``argv`` (default: ``sys.argv[1:]``) under the parent guard."""
    parent = os.getppid()
    if parent == 1:
        return 1  # the parent is already gone
    nice = os.environ.pop("VHUMAN_START_NICE", "")
    if nice.isdigit():
        os.nice(min(19, int(nice)))  # start at a low priority; the supervisor lifts it
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch",
                     daemon=True).start()
    from vhuman.cli import run_main

    return run_main(argv)


if __name__ == "__main__":
    sys.exit(main())
