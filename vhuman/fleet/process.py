"""One room process: the existing host CLI on its own port, started and stopped.

Each room is its own OS process (GL contexts and the GIL are per process), started as
``python -m vhuman.fleet.roomproc`` with ``run_avatar.py``'s arguments and ``--port 0``;
the port the room really got is read from its "vhuman is live: open URL" line. Secrets
never appear on the command line: the control token travels in ``VHUMAN_TOKEN`` and push
addresses as ``--push env:NAME`` (the room resolves them). This class is synchronous on
purpose: the one-machine supervisor runs it in a thread, a Ray actor calls it directly.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vhuman.core.errors import VhumanError
from vhuman.fleet.spec import RoomSpec

_LIVE = re.compile(r"vhuman is live: open http://([^/\s]+):(\d+)/")
MAX_LOG_BYTES = 8 * 1024 * 1024


class RoomStartError(VhumanError):
    """The room process exited or stayed silent before serving; retryable."""

    retryable = True


@dataclass(frozen=True, slots=True)
class Address:
    """Where a room serves: host, port, and the process id on that host."""

    host: str
    port: int
    pid: int
    node: str = ""

    @property
    def base(self) -> str:
        """``host:port`` for URLs (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def room_argv(room: RoomSpec, *, bind: str = "127.0.0.1") -> list[str]:
    """The room's command line (no secret in it)."""
    w, h = room.size
    argv = [sys.executable, "-m", "vhuman.fleet.roomproc",
            "--host", bind, "--port", "0", "--size", f"{w}x{h}", "--fps", f"{room.fps:g}",
            "--codec", room.codec, "--avatar", room.avatar, "--log-level", "info"]
    if room.show:
        argv += ["--show", room.show]
    else:
        argv += ["--no-show"]
    if room.scene:
        argv += ["--scene", room.scene]
    if room.voice:
        argv += ["--voice", room.voice]
    for name in room.push:
        argv += ["--push", f"env:{name}"]
    return argv


def room_env(token: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The room's environment: ours, the control token, and one render thread for numpy."""
    env = dict(os.environ)
    env["VHUMAN_TOKEN"] = token
    # /chat needs its own token (docs/security.md): rooms bound beyond loopback refuse to
    # start without one. No bridge is wired through the fleet yet, so a random one keeps
    # /chat closed rather than open.
    env["VHUMAN_CHAT_TOKEN"] = env.get("VHUMAN_CHAT_TOKEN") or secrets.token_urlsafe(24)
    # the room runs the same vhuman as its parent (a checkout, not some other install)
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    # N rooms on N cores: BLAS thread pools in every room would oversubscribe the machine.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env.update(extra or {})
    return env


class RoomProcess:
    """Starts, watches and stops one room's process.

    Args:
        room: the room.
        token: its control token (passed in the environment).
        bind: interface the room listens on (loopback on one machine; the node's address
            under Ray, so the gateway can reach it).
        log_path: the room's stderr goes here (rotated once past 8 MiB).
    """

    def __init__(self, room: RoomSpec, token: str, *, bind: str = "127.0.0.1",
                 log_path: Path | None = None, node: str = "", nice: int | None = None
                 ) -> None:
        self.room = room
        self.token = token
        self.bind = bind
        self.log_path = log_path
        self.node = node
        self.proc: subprocess.Popen[bytes] | None = None
        self.address: Address | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.starts = 0
        # A (re)starting room imports and builds for seconds at full CPU; at a low priority
        # it takes spare time only, so the rooms already streaming keep their pace.
        # The priority the room streams at: the supervisor's (a Ray worker runs at nice 15,
        # Ray's default; a room left there would lose every contest for a core).
        self.nice = os.getpriority(os.PRIO_PROCESS, 0) if nice is None else nice
        self.start_nice = START_NICE > 0 and can_renice(self.nice)

    def start(self, timeout_s: float = 60.0, extra_args: tuple[str, ...] = ()) -> Address:
        """Start the process and wait until it serves; returns its address.

        Raises:
            RoomStartError: it exited or did not come up in ``timeout_s``.
        """
        self.kill()
        err = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            if self.log_path.exists() and self.log_path.stat().st_size > MAX_LOG_BYTES:
                self.log_path.replace(self.log_path.with_suffix(".log.1"))
            err = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [*room_argv(self.room, bind=self.bind), *extra_args],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                env=room_env(self.token, {START_NICE_ENV: str(START_NICE)}
                             if self.start_nice else None),
                start_new_session=True)  # no preexec_fn: Python can then vfork, and a big
            # parent (the gateway's process) is not stalled copying its page tables
        finally:
            if err is not subprocess.DEVNULL:
                err.close()
        self.starts += 1
        found: list[Address] = []
        ready = threading.Event()
        proc = self.proc

        def read() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:  # drained to the end, so the pipe never fills
                line = raw[:400].decode("utf-8", "replace").rstrip()
                if "token" in line.lower():
                    continue  # never keep a secret
                self.tail.append(line)
                m = _LIVE.search(line)
                if m and not found:
                    found.append(Address(m.group(1), int(m.group(2)), proc.pid, self.node))
                    ready.set()
            ready.set()

        threading.Thread(target=read, name=f"room-{self.room.id}-out", daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(0.2):
            if time.monotonic() > deadline:
                self.kill()
                raise RoomStartError(f"room {self.room.id} did not start serving within "
                                     f"{timeout_s:g} s; see its log {self.log_path}")
        if not found:
            code = proc.wait(timeout=5)
            raise RoomStartError(f"room {self.room.id} exited with code {code} while "
                                 f"starting; see its log {self.log_path}")
        host = self.bind if self.bind not in ("0.0.0.0", "::") else found[0].host
        self.address = Address(host, found[0].port, proc.pid, self.node)
        return self.address

    def settle(self) -> None:
        """Lift the start priority: the room is up (and resumed) and streams from now on."""
        if self.start_nice and self.running:
            renice(self.proc.pid, self.nice)

    def exit_code(self) -> int | None:
        """None while running (or never started); else the exit code (-N: signal N)."""
        if self.proc is None:
            return None
        return self.proc.poll()

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the room process (tests: SIGSTOP, SIGKILL)."""
        if self.running:
            os.kill(self.proc.pid, sig)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM (the room finishes its recording and closes viewers), then SIGKILL."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        return self.kill()

    def kill(self) -> int | None:
        """SIGKILL the process (also a stopped one) and reap it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        return self.proc.returncode

    def rss_bytes(self) -> int | None:
        """Resident memory of the room process (Linux /proc), or None."""
        if not self.running:
            return None
        return rss_of(self.proc.pid)


START_NICE = 10
START_NICE_ENV = "VHUMAN_START_NICE"  # read by vhuman.fleet.roomproc before its imports


@functools.cache
def can_renice(target: int) -> bool:
    """Whether this process may set a nice value as low as ``target``.

    True as root (CAP_SYS_NICE) or when RLIMIT_NICE allows it; False when the limit
    cannot be read.
    """
    if os.geteuid() == 0:
        return True
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    except (ImportError, AttributeError, OSError):
        return False
    return soft == resource.RLIM_INFINITY or 20 - soft <= target


def renice(pid: int, nice: int) -> None:
    """Set the nice value of every thread of ``pid`` (Linux nice values are per thread)."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]
    for tid in tids:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:
            pass  # the thread ended, or we may not: it stays at the start priority


def _proc_kb(path: str, key: str) -> int | None:
    """The ``key`` line of a /proc file (a size in kB) in bytes; None when absent or gone."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_of(pid: int) -> int | None:
    """VmRSS of ``pid`` in bytes, from /proc (None elsewhere or when gone)."""
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:")


def pss_of(pid: int) -> int | None:
    """Proportional set size of ``pid`` in bytes, from /proc (None elsewhere or when gone).

    Shared pages (LLVM, numpy ...) are divided among the processes mapping them, so N
    rooms' PSS add up to what they really use.
    """
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (and its reaped children) from /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError, IndexError):
        return None
