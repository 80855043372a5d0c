"""NodDriver: a complete vhuman driver plugin (start, sample, stop); the class is under 50 lines."""

import math
import threading
from pathlib import Path

import numpy as np
from vhuman.drivers.base import DRIVER_API_VERSION, PRIORITY_CUES
from vhuman.core import quat
from vhuman.core.frames import Pose

if DRIVER_API_VERSION != 1:  # refuse to load against a contract we were not written for
    raise ImportError(f"vhuman-nod supports driver API 1, vhuman has {DRIVER_API_VERSION}")


class NodDriver:
    """Nods the head once per ``keyword`` in each complete line appended to ``path``."""

    name = "nod"
    priority = PRIORITY_CUES

    def __init__(self, keyword="yes", path="nod.txt", degrees=12.0, seconds=0.8):
        self.keyword, self.path = str(keyword).lower(), Path(path)  # options arrive as text
        self.radians, self.period_ns = math.radians(float(degrees)), int(float(seconds) * 1e9)
        self.seen = self.used = 0  # seen: only poll() writes it; used: only sample()
        self._last, self._nod_ns, self._stop = 0, -self.period_ns, threading.Event()
        self._poll_lock = threading.Lock()  # poll() may also be called by hand (tests)
        self._zeros = np.zeros(52, np.float32)  # weights and mask: this layer moves the head only

    async def start(self, ctx):  # also called again after stop() when vhuman restarts us
        self._last, self._stop = self._count(), threading.Event()  # only new keywords count
        threading.Thread(target=self._watch, args=(self._stop,), daemon=True).start()

    def _watch(self, stop):  # file I/O happens here, never in sample()
        while not stop.wait(0.05):
            self.poll()

    def poll(self):
        with self._poll_lock:
            n = self._count()
            self.seen, self._last = self.seen + max(0, n - self._last), n  # truncated: anew

    def _count(self):
        try:
            text = self.path.read_text("utf-8", "replace").lower()
        except OSError:
            return 0  # no file (yet)
        return text[: text.rfind("\n") + 1].count(self.keyword)  # complete lines only

    def sample(self, t_ns):
        if t_ns - self._nod_ns >= self.period_ns and self.used < self.seen:
            self.used, self._nod_ns = self.used + 1, t_ns  # start the next queued nod
        phase = (t_ns - self._nod_ns) / self.period_ns
        if not 0 <= phase < 1:
            return None  # not nodding: the layers below (idle) keep the head
        pitch = self.radians * math.sin(math.pi * phase) ** 2  # down and back up; + is down
        return Pose(t_ns, self._zeros, self._zeros, head=quat.from_euler(0.0, pitch))

    async def stop(self):
        self._stop.set()
