"""The gesture library: keyframe files on named body angles, loaded and validated.

Each gesture is a YAML file in ``vhuman/assets/gestures/`` (authored for this project; no
third-party motion data). Example::

    name: wave
    description: Wave hello with the right hand, palm to the camera.
    regions: [right_arm, right_hand]
    phases: {in: 0.4, hold: 1.4, out: 0.5}
    keys:
      - t: 0.4
        pose: {r_shoulder_abduction: 35, r_elbow_flexion: 120, r_forearm_pronation: -60}
      - t: 0.75
        pose: {r_wrist_deviation: 15}
        head: {roll: -4}

* ``regions``: the body regions the gesture owns (others stay with the layers below);
  ``head`` in a key makes it drive the head too.
* ``phases``: blend in (from whatever the body does), hold, blend out (seconds).
* ``keys``: ``t`` in seconds from the start; ``pose`` angles as in
  :mod:`vhuman.drivers.body_pose`; an angle a key omits keeps its previous value (the first
  key starts from the idle stance, :data:`~vhuman.drivers.body_idle.REST_ANGLES`). Curves
  between keys are Catmull-Rom (smooth, no stops at keys). ``head``: ``yaw`` (+ to the
  avatar's left), ``pitch`` (+ down), ``roll`` (+ toward the avatar's right shoulder).
* ``aim`` (optional): ``right`` or ``left``: that arm points at the target the caller gives
  (the product card) on the keys that say ``aim: true``.

Errors name the file and line: ``wave.yaml:7: unknown body angle 'r_elbow_flex'``.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vhuman.core.errors import ConfigError
from vhuman.core.humanoid import BODY_REGIONS
from vhuman.core.yamlsrc import LineDict, LineList, Problems, is_number, load_yaml, unknown_keys
from vhuman.drivers.body_idle import REST_ANGLES
from vhuman.drivers.body_pose import ANGLE_NAMES

HEAD_KEYS = ("yaw", "pitch", "roll")
GESTURE_KEYS = ("name", "description", "regions", "phases", "keys", "aim")
MAX_FILE_BYTES = 64 * 1024
MAX_KEYS = 64
#: Largest angle a key may name (degrees); anything wilder is a typo.
ANGLE_LIMIT = 200.0


@dataclass(frozen=True, slots=True)
class Key:
    """One keyframe: full angle set (defaults filled in), head angles (degrees) or None."""

    t: float
    angles: dict[str, float]
    head: tuple[float, float, float] | None
    aim: bool = False


@dataclass(frozen=True, slots=True)
class Gesture:
    """A parsed gesture."""

    name: str
    description: str
    regions: tuple[str, ...]
    t_in: float
    t_hold: float
    t_out: float
    keys: tuple[Key, ...]
    aim: str | None = None
    source: str = ""

    @property
    def duration(self) -> float:
        """Seconds from the first movement to back at rest (in + hold + out)."""
        return self.t_in + self.t_hold + self.t_out

    @property
    def drives_head(self) -> bool:
        """Whether any key turns the head (nod, shake, bow)."""
        return any(k.head is not None for k in self.keys)

    def envelope(self, t: float) -> float:
        """0..1 blend weight at ``t`` s: smooth in, hold at 1, smooth out."""
        if t <= 0 or t >= self.duration:
            return 0.0
        if t < self.t_in:
            x = t / self.t_in
        elif t > self.t_in + self.t_hold:
            x = (self.duration - t) / self.t_out
        else:
            return 1.0
        return x * x * (3 - 2 * x)

    def angles_at(self, t: float) -> tuple[dict[str, float], tuple[float, float, float] | None,
                                          bool]:
        """Angles, head (yaw, pitch, roll degrees or None) and aim flag at ``t`` s."""
        keys = self.keys
        if t <= keys[0].t or len(keys) == 1:
            k = keys[0]
            return dict(k.angles), k.head, k.aim
        if t >= keys[-1].t:
            k = keys[-1]
            return dict(k.angles), k.head, k.aim
        i = max(j for j in range(len(keys)) if keys[j].t <= t)
        k0, k1 = keys[i], keys[i + 1]
        km, kp = keys[max(0, i - 1)], keys[min(len(keys) - 1, i + 2)]
        u = (t - k0.t) / max(k1.t - k0.t, 1e-9)
        out = {n: _catmull(km.angles[n], k0.angles[n], k1.angles[n], kp.angles[n], u)
               for n in k0.angles}
        head = None
        if self.drives_head:
            hs = [k.head or (0.0, 0.0, 0.0) for k in (km, k0, k1, kp)]
            head = tuple(_catmull(hs[0][c], hs[1][c], hs[2][c], hs[3][c], u) for c in range(3))
        return out, head, k0.aim and k1.aim


def _catmull(p0: float, p1: float, p2: float, p3: float, u: float) -> float:
    u2, u3 = u * u, u * u * u
    return 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u2
                  + (3 * p1 - p0 - 3 * p2 + p3) * u3)


def parse_gesture(text: str, file: str | Path) -> Gesture:
    """Parse and validate one gesture file's text.

    Raises:
        FileProblems: every problem of the file, each as ``file:line: what — fix``.
    """
    probs = Problems(file)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        probs.add(1, f"gesture file larger than {MAX_FILE_BYTES} bytes", "keep it short")
        probs.raise_if_any()
    data = load_yaml(text, file)
    if not isinstance(data, LineDict):
        probs.add(1, "a gesture file must be a mapping", "start with 'name: ...'")
        probs.raise_if_any()
    unknown_keys(data, GESTURE_KEYS, "gesture", probs)
    name = data.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        probs.add(data.key_line("name"), f"name must be a word like 'wave', got {name!r}")
        name = "?"
    regions = data.get("regions")
    regs: list[str] = []
    if not isinstance(regions, LineList) or not regions:
        probs.add(data.key_line("regions"), "regions must be a list",
                  f"choose from {', '.join(BODY_REGIONS)}")
    else:
        for i, r in enumerate(regions):
            if r not in BODY_REGIONS:
                probs.add(regions.item_line(i), f"unknown region {r!r}",
                          f"choose from {', '.join(BODY_REGIONS)}")
            else:
                regs.append(r)
    phases = data.get("phases")
    t_in = t_hold = t_out = 0.0
    if not isinstance(phases, LineDict):
        probs.add(data.key_line("phases"), "phases must be a mapping {in, hold, out}",
                  "e.g. phases: {in: 0.4, hold: 1.0, out: 0.5}")
    else:
        unknown_keys(phases, ("in", "hold", "out"), "phases", probs)
        vals = []
        for k, lo in (("in", 0.1), ("hold", 0.0), ("out", 0.1)):
            v = phases.get(k)
            if not is_number(v) or not lo <= v <= 20:
                probs.add(phases.key_line(k), f"phases.{k} must be seconds in {lo}..20",
                          "blend phases shorter than 0.1 s pop")
                vals.append(lo)
            else:
                vals.append(float(v))
        t_in, t_hold, t_out = vals
    aim = data.get("aim")
    if aim is not None and aim not in ("left", "right"):
        probs.add(data.key_line("aim"), f"aim must be left or right, got {aim!r}")
        aim = None
    keys = _parse_keys(data.get("keys"), data.key_line("keys"), t_in + t_hold + t_out,
                       probs)
    probs.raise_if_any()
    desc = data.get("description")
    return Gesture(name, str(desc) if desc else "", tuple(regs), t_in, t_hold, t_out,
                   tuple(keys), aim, str(file))


def _parse_keys(raw, line: int, duration: float, probs: Problems) -> list[Key]:
    if not isinstance(raw, LineList) or not raw:
        probs.add(line, "keys must be a non-empty list of {t, pose, head}")
        return []
    if len(raw) > MAX_KEYS:
        probs.add(line, f"more than {MAX_KEYS} keys", "split the gesture")
        return []
    out: list[Key] = []
    current = {n: 0.0 for n in ANGLE_NAMES} | REST_ANGLES
    last_t = -1.0
    head_prev: tuple[float, float, float] | None = None
    for i, k in enumerate(raw):
        kl = raw.item_line(i)
        if not isinstance(k, LineDict):
            probs.add(kl, "a key must be a mapping with t and pose")
            continue
        unknown_keys(k, ("t", "pose", "head", "aim"), "key", probs)
        t = k.get("t")
        if not is_number(t) or not 0 <= t <= duration or t <= last_t:
            probs.add(k.key_line("t"), f"t must be seconds in 0..{duration:g} and after the "
                      f"previous key, got {t!r}")
            continue
        last_t = float(t)
        pose = k.get("pose", LineDict())
        if not isinstance(pose, LineDict):
            probs.add(k.key_line("pose"), "pose must be a mapping of angle: degrees")
            continue
        for n, v in pose.items():
            if n not in ANGLE_NAMES:
                close = difflib.get_close_matches(str(n), ANGLE_NAMES, n=1)
                probs.add(pose.key_line(n), f"unknown body angle {n!r}",
                          f"did you mean {close[0]!r}?" if close else
                          "see vhuman.drivers.body_pose for the names")
            elif not is_number(v) or not math.isfinite(v) or abs(v) > ANGLE_LIMIT:
                probs.add(pose.key_line(n), f"{n} must be degrees within ±{ANGLE_LIMIT:g}")
            else:
                current[n] = float(v)
        head = head_prev
        if "head" in k:
            h = k["head"]
            if not isinstance(h, LineDict):
                probs.add(k.key_line("head"), "head must be a mapping {yaw, pitch, roll}")
            else:
                unknown_keys(h, HEAD_KEYS, "head", probs)
                vals = []
                for c in HEAD_KEYS:
                    v = h.get(c, 0.0)
                    if not is_number(v) or abs(v) > 60:
                        probs.add(h.key_line(c), f"head.{c} must be degrees within ±60")
                        v = 0.0
                    vals.append(float(v))
                head = (vals[0], vals[1], vals[2])
        head_prev = head
        out.append(Key(float(t), dict(current), head, bool(k.get("aim", False))))
    return out


def load_gesture_file(path: str | Path) -> Gesture:
    """Load one gesture file (UTF-8, at most 64 KiB)."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{p}: gesture file larger than {MAX_FILE_BYTES} bytes")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found; check the path") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason})") from None
    return parse_gesture(text, p.name)


def load_library(folder: str | Path | None = None) -> dict[str, Gesture]:
    """Every ``*.yaml`` gesture in ``folder`` (default: the packaged library), by name.

    Raises:
        ConfigError: a file is invalid, or two files share a name.
    """
    if folder is None:
        return dict(_builtin())
    out: dict[str, Gesture] = {}
    for f in sorted(Path(folder).glob("*.yaml")):
        g = load_gesture_file(f)
        if g.name in out:
            raise ConfigError(f"{f}: gesture name {g.name!r} is also used by "
                              f"{out[g.name].source}; rename one")
        out[g.name] = g
    return out


@lru_cache(maxsize=1)
def _builtin() -> tuple[tuple[str, Gesture], ...]:
    folder = Path(__file__).resolve().parent.parent / "assets" / "gestures"
    return tuple(load_library(folder).items())


def gesture_names() -> tuple[str, ...]:
    """Names of the packaged gestures (for show-script and /control validation)."""
    return tuple(name for name, _ in _builtin())


def mirror_angles(angles: dict[str, float]) -> dict[str, float]:
    """Swap left and right (and flip the torso's side lean and twist)."""
    out: dict[str, float] = {}
    for n, v in angles.items():
        if n.startswith("l_"):
            out["r_" + n[2:]] = v
        elif n.startswith("r_"):
            out["l_" + n[2:]] = v
        elif n in ("spine_side", "spine_twist"):
            out[n] = -v
        else:
            out[n] = v
    return out


MIRROR_REGION = {"left_arm": "right_arm", "right_arm": "left_arm", "left_hand": "right_hand",
                 "right_hand": "left_hand", "torso": "torso"}
