"""Record capture coefficients to a take file and play them back (``ReplayDriver``).

A take is JSONL (``vhuman.take/2``): one header line, then one line per captured frame::

    {"format":"vhuman.take/2","arkit":["eyeBlinkLeft",...],"bones":["hips",...],
     "created":"...","source":"file"}
    {"t_ns":0,"w":[52 floats],"head":[w,x,y,z],"gaze":[yaw,pitch],"c":0.98}
    {"t_ns":33333333,"w":null,"c":0}                      <- no face in that frame
    {"t_ns":40000000,"body":{"q":[N_BODY*4 floats],"m":[N_BODY weights]}}  <- a body update

Body lines come at the body's own rate (slower than the face) and carry the filtered bone
rotations and their weights; a take without them (``vhuman.take/1``, written before body
capture existed) still loads and plays the face. Only coefficients are written, never
pixels. Playback interpolates between frames
(weights and gaze linearly, head by slerp), so a 30 fps take drives a 60 fps tick smoothly;
it follows whatever clock the engine runs on (real time on the system clock, as fast as
rendering allows on a :class:`~vhuman.core.clock.SimClock`).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import IO

import numpy as np

from vhuman.core import quat
from vhuman.core.arkit import ARKIT_52, INDEX, N_ARKIT
from vhuman.core.errors import ConfigError
from vhuman.core.frames import Pose
from vhuman.core.humanoid import BODY_BONES, N_BODY
from vhuman.drivers.base import PRIORITY_CAPTURE, DriverContext
from vhuman.drivers.capture.filters import hold_for, loss_fade

TAKE_FORMAT = "vhuman.take/2"
#: Formats :meth:`Take.load` reads (/1: face only).
READABLE_FORMATS = ("vhuman.take/1", TAKE_FORMAT)
#: Latest frame time a take may hold (ns): ~100 days, far inside int64.
MAX_T_NS = 100 * 86_400 * 1_000_000_000

#: The shapes a take drives (MediaPipe does not measure tongueOut; other layers keep it).
TAKE_MASK = np.ones(N_ARKIT, np.float32)
TAKE_MASK[INDEX["tongueOut"]] = 0.0


class TakeWriter:
    """Writes a take file line by line (thread-safe; flushed per line so a crash loses little).

    Args:
        path: the .jsonl file to create (overwritten).
        source_kind: recorded in the header ("webcam", "file", ...); never the source path.
    """

    def __init__(self, path: str | Path, *, source_kind: str = "capture") -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Held open for the whole take (lines arrive from the capture thread); close() ends it.
        self._f: IO[str] | None = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()
        self.frames = 0
        self.body_frames = 0
        header = {"format": TAKE_FORMAT, "arkit": list(ARKIT_52), "bones": list(BODY_BONES),
                  "source": source_kind,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self._write(header)

    def _write(self, obj: dict) -> None:
        with self._lock:
            if self._f is None:
                return
            self._f.write(json.dumps(obj, separators=(",", ":")) + "\n")
            self._f.flush()

    def write(self, t_ns: int, weights: np.ndarray | None, head: np.ndarray | None = None,
              gaze: tuple[float, float] | None = None, confidence: float = 1.0) -> None:
        """Append one frame; ``weights=None`` records a frame with no face."""
        if weights is None:
            line: dict = {"t_ns": int(t_ns), "w": None, "c": 0}
        else:
            line = {"t_ns": int(t_ns), "w": [round(float(v), 4) for v in weights],
                    "c": round(float(confidence), 4)}
            if head is not None:
                line["head"] = [round(float(v), 6) for v in head]
            if gaze is not None:
                line["gaze"] = [round(float(gaze[0]), 5), round(float(gaze[1]), 5)]
        self._write(line)
        self.frames += 1

    def write_body(self, t_ns: int, bones: np.ndarray, weights: np.ndarray) -> None:
        """Append one body update: bone rotations (N_BODY, 4) and their weights."""
        self._write({"t_ns": int(t_ns),
                     "body": {"q": [round(float(v), 5) for v in np.ravel(bones)],
                              "m": [round(float(v), 3) for v in weights]}})
        self.body_frames += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._f is not None:
                self._f.close()
                self._f = None


class Take:
    """A loaded take: arrays of times, weights, heads, gazes and confidences."""

    def __init__(self, t_ns: np.ndarray, weights: np.ndarray, heads: np.ndarray,
                 gazes: np.ndarray, conf: np.ndarray, has_gaze: bool,
                 body: BodyFrames | None = None) -> None:
        self.body = body
        self.t_ns = t_ns
        self.weights = weights
        self.heads = heads
        self.gazes = gazes
        self.conf = conf
        self.has_gaze = has_gaze
        # Index of the newest frame with a face at or before each frame (-1: none yet).
        idx = np.where(conf > 0, np.arange(len(conf)), -1)
        self.last_face = np.maximum.accumulate(idx)
        period = int(np.median(np.diff(t_ns))) if len(t_ns) > 1 else 0
        self.hold_ns = hold_for(period)

    @property
    def duration_ns(self) -> int:
        """Time from the first to the last frame (face or body) of the take."""
        end = int(self.t_ns[-1])
        if self.body is not None:
            end = max(end, int(self.body.t_ns[-1]))
        return end - int(self.t_ns[0])

    @classmethod
    def load(cls, path: str | Path) -> Take:
        """Read a take file.

        Raises:
            ConfigError: missing file, wrong format, or a malformed line (with its number).
        """
        path = Path(path).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise ConfigError(f"take file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"take file {path}: cannot read it: {exc}") from None
        if not lines:
            raise ConfigError(f"take file {path} is empty")
        try:
            header = json.loads(lines[0])
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") not in READABLE_FORMATS:
            raise ConfigError(f"take file {path}: line 1 is not a {TAKE_FORMAT} (or "
                              f"vhuman.take/1) header")
        names = header.get("arkit", list(ARKIT_52))
        if list(names) != list(ARKIT_52):
            raise ConfigError(f"take file {path}: weights are not in vhuman's ARKit-52 order")
        if list(header.get("bones", BODY_BONES)) != list(BODY_BONES):
            raise ConfigError(f"take file {path}: bones are not in vhuman's BODY_BONES order "
                              f"(recorded by another vhuman version?)")
        body_t: list[int] = []
        body_q: list[np.ndarray] = []
        body_m: list[np.ndarray] = []
        ts, ws, hs, gs, cs = [], [], [], [], []
        has_gaze = False
        zero = np.zeros(N_ARKIT, np.float32)
        for lineno, text in enumerate(lines[1:], start=2):
            if not text.strip():
                continue
            try:
                rec = json.loads(text)
                t = rec["t_ns"]
                if isinstance(t, bool) or not isinstance(t, (int, float)) \
                        or not 0 <= t < MAX_T_NS or t != int(t):
                    raise ValueError("'t_ns' must be a whole number of nanoseconds "
                                     f"0..{MAX_T_NS} (about 100 days)")
                t = int(t)
                if isinstance(rec, dict) and "body" in rec:
                    q, m = _body_line(rec["body"])
                    if body_t and t <= body_t[-1]:
                        raise ValueError("body t_ns does not increase")
                    body_t.append(t)
                    body_q.append(q)
                    body_m.append(m)
                    continue
                w = rec.get("w")
                weights = zero if w is None else np.asarray(w, np.float32)
                if weights.shape != (N_ARKIT,) or not np.isfinite(weights).all():
                    raise ValueError(f"'w' must be {N_ARKIT} numbers or null")
                head = np.asarray(rec.get("head", [1, 0, 0, 0]), np.float32)
                if head.shape != (4,) or not np.isfinite(head).all():
                    raise ValueError("'head' must be 4 numbers")
                gaze = rec.get("gaze")
                has_gaze |= gaze is not None
                g = np.asarray(gaze if gaze is not None else [0, 0], np.float32)
                if g.shape != (2,) or not np.isfinite(g).all():
                    raise ValueError("'gaze' must be 2 numbers (yaw, pitch) or null")
                c = 0.0 if w is None else float(rec.get("c", 1.0))
                if not 0.0 <= c <= 1.0:
                    raise ValueError("'c' (confidence) must be 0..1")
            except (ValueError, KeyError, TypeError, OverflowError) as exc:
                raise ConfigError(f"take file {path}, line {lineno}: {exc}") from None
            if ts and t <= ts[-1]:
                raise ConfigError(f"take file {path}, line {lineno}: t_ns does not increase")
            ts.append(t)
            ws.append(weights)
            hs.append(head / max(float(np.linalg.norm(head)), 1e-9))
            gs.append(g)
            cs.append(c)
        body = None
        if body_t:
            body = BodyFrames(np.asarray(body_t, np.int64), np.stack(body_q), np.stack(body_m))
            if not ts:  # a body-only take: one faceless frame anchors the timeline
                ts, ws, hs, gs, cs = [body_t[0]], [zero], [np.array([1, 0, 0, 0],
                                                                     np.float32)], \
                    [np.zeros(2, np.float32)], [0.0]
        if not ts:
            raise ConfigError(f"take file {path} has a header but no frames")
        return cls(np.asarray(ts, np.int64), np.stack(ws), np.stack(hs), np.stack(gs),
                   np.asarray(cs, np.float32), has_gaze, body)

    def at(self, t_ns: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float], float]:
        """Interpolated (weights, head, gaze, confidence) at take time ``t_ns`` (clamped)."""
        t = self.t_ns
        if t_ns <= t[0] or len(t) == 1:
            i = 0
            return self.weights[i].copy(), self.heads[i].copy(), \
                (float(self.gazes[i, 0]), float(self.gazes[i, 1])), float(self.conf[i])
        if t_ns >= t[-1]:
            i = len(t) - 1
            return self.weights[i].copy(), self.heads[i].copy(), \
                (float(self.gazes[i, 0]), float(self.gazes[i, 1])), float(self.conf[i])
        j = int(np.searchsorted(t, t_ns, side="right"))
        i = j - 1
        a = (t_ns - t[i]) / (t[j] - t[i])
        ci, cj = float(self.conf[i]), float(self.conf[j])
        if ci > 0.0 and cj > 0.0:
            w = (1 - a) * self.weights[i] + a * self.weights[j]
            h = quat.slerp(self.heads[i], self.heads[j], float(a))
            g = (1 - a) * self.gazes[i] + a * self.gazes[j]
            return (np.asarray(w, np.float32), np.asarray(h, np.float32),
                    (float(g[0]), float(g[1])), (1 - a) * ci + a * cj)
        k = int(self.last_face[i])
        if k < 0:  # no face yet in the take: nothing to show until one appears
            k = j
            return self.weights[k].copy(), self.heads[k].copy(), \
                (float(self.gazes[k, 0]), float(self.gazes[k, 1])), a * cj
        # Across missing faces: hold the last face and fade it out exactly as the live
        # capture layer did, then ramp up towards the returning face.
        fade = float(self.conf[k]) * loss_fade(int(t_ns - t[k]), self.hold_ns)
        conf = fade if cj == 0.0 else (1 - a) * fade + a * cj
        return self.weights[k].copy(), self.heads[k].copy(), \
            (float(self.gazes[k, 0]), float(self.gazes[k, 1])), conf


def _body_line(body: object) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(body, dict):
        raise TypeError("'body' must be an object")
    q = np.asarray(body.get("q"), np.float32)
    m = np.asarray(body.get("m"), np.float32)
    if q.shape != (N_BODY * 4,) or not np.isfinite(q).all():
        raise ValueError(f"'body.q' must be {N_BODY * 4} numbers")
    if m.shape != (N_BODY,) or not np.isfinite(m).all():
        raise ValueError(f"'body.m' must be {N_BODY} numbers")
    q = q.reshape(N_BODY, 4)
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-9)
    return q, np.clip(m, 0.0, 1.0)


class BodyFrames:
    """The body updates of a take: times, bone rotations, bone weights."""

    def __init__(self, t_ns: np.ndarray, bones: np.ndarray, weights: np.ndarray) -> None:
        self.t_ns = t_ns
        self.bones = bones
        self.weights = weights
        period = int(np.median(np.diff(t_ns))) if len(t_ns) > 1 else 0
        self.hold_ns = hold_for(period)

    def at(self, t_ns: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(bones, weights) at take time ``t_ns``: interpolated, faded after the end."""
        t = self.t_ns
        if t_ns < t[0]:
            return None
        if t_ns >= t[-1] or len(t) == 1:
            fade = loss_fade(int(t_ns - t[-1]), self.hold_ns)
            return self.bones[-1].copy(), self.weights[-1] * fade
        j = int(np.searchsorted(t, t_ns, side="right"))
        i = j - 1
        a = float((t_ns - t[i]) / (t[j] - t[i]))
        qi, qj = self.bones[i], self.bones[j]
        qj = np.where((np.sum(qi * qj, axis=1) < 0)[:, None], -qj, qj)
        q = (1 - a) * qi + a * qj  # nlerp: updates are ~80 ms apart, the steps are small
        q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-9)
        m = (1 - a) * self.weights[i] + a * self.weights[j]
        return q.astype(np.float32), m.astype(np.float32)


class ReplayDriver:
    """Plays a recorded take on the engine clock.

    Args:
        path: the take (.jsonl) written by ``--record``.
        loop: start again at the end instead of stopping.
        speed: playback rate (1.0 = as recorded).
    """

    name = "replay"
    priority = PRIORITY_CAPTURE

    def __init__(self, path: str, *, loop: bool | str = False, speed: float | str = 1.0) -> None:
        self.take = Take.load(path)
        self.path = str(path)
        self.loop = loop if isinstance(loop, bool) else str(loop).lower() in ("1", "true", "yes")
        self.speed = float(speed)
        if not (0 < self.speed <= 16):
            raise ConfigError(f"replay speed={speed!r} must be in (0, 16]")
        self._t0: int | None = None
        self._ctx: DriverContext | None = None
        self._ended = False

    async def start(self, ctx: DriverContext) -> None:
        """Start playback at the engine clock's now."""
        self._ctx = ctx
        self._t0 = ctx.clock.now_ns()

    def sample(self, t_ns: int) -> Pose | None:
        """The take's pose at ``t_ns`` from the start (scaled by ``speed``).

        Returns None after the end unless looping; emits ``replay_ended`` once then.
        """
        if self._t0 is None:
            self._t0 = t_ns  # sampled without start(): play from the first tick
        elapsed = int((t_ns - self._t0) * self.speed)
        dur = self.take.duration_ns
        if elapsed > dur:
            if self.loop and dur > 0:
                elapsed %= dur
            else:
                if not self._ended:
                    self._ended = True
                    if self._ctx is not None:
                        self._ctx.emit("replay_ended", path=self.path)
                return None
        take_t = int(self.take.t_ns[0]) + max(elapsed, 0)
        w, head, gaze, conf = self.take.at(take_t)
        conf = float(np.clip(conf, 0.0, 1.0))
        body = self.take.body.at(take_t) if self.take.body is not None else None
        if body is None:
            return Pose(t_ns, w, TAKE_MASK.copy(), head,
                        gaze if self.take.has_gaze else None, conf)
        from vhuman.drivers.capture.merge import merge_face_body

        return merge_face_body(t_ns, w, TAKE_MASK, head, gaze if self.take.has_gaze else None,
                               conf, body[0], body[1])

    async def stop(self) -> None:
        """Stop emitting events; sampling still works."""
        self._ctx = None
