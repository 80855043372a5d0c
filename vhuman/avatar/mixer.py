"""The mixer: where idle motion, capture, cues and lip-sync hand off to each other.

Layers are blended in priority order (lowest first). Each layer's influence on a channel is
``presence × confidence × mask[channel]``; ``presence`` ramps to 1 while the layer returns
poses and back to 0 over ``fade_ns`` when it stops (returns ``None``), so a layer that comes
or goes crossfades instead of popping. Head rotations blend by slerp with the same
influence; gaze by lerp.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vhuman.core import quat
from vhuman.core.arkit import INDEX, N_ARKIT
from vhuman.core.frames import IDENTITY_QUAT, AvatarState, Pose
from vhuman.core.humanoid import N_BODY

DEFAULT_FADE_NS = 150_000_000


@dataclass(slots=True)
class _Layer:
    key: object
    priority: int
    order: int
    presence: float = 0.0
    last: Pose | None = None
    last_t: int | None = None


@dataclass(slots=True)
class LayerReport:
    """What one layer contributed on the last mix (for /health and tests)."""

    name: str
    priority: int
    presence: float
    active: bool


@dataclass
class Mixer:
    """Blends driver poses into one :class:`AvatarState` per tick.

    Args:
        fade_ns: crossfade time when a layer appears or disappears.
        start_present: layers already there on the first mixed tick start at full
            presence instead of fading in. Offline renders set it: a one-frame still of a
            replayed take must show the take, not a face 0 % of the way into its fade.
    """

    fade_ns: int = DEFAULT_FADE_NS
    start_present: bool = False
    _layers: dict[object, _Layer] = field(default_factory=dict)
    _order: int = 0
    _last_t: int | None = None

    def mix(self, t_ns: int, poses: list[tuple[object, int, Pose | None]]) -> AvatarState:
        """Mix one tick.

        Args:
            t_ns: the tick's stream time.
            poses: ``(layer key, priority, pose or None)`` for every active driver; a key
                seen before but missing now fades out like a ``None`` pose.
        """
        seen = set()
        for key, priority, pose in poses:
            layer = self._layers.get(key)
            if layer is None:
                # A new layer fades in from the previous tick, not from its first one.
                layer = _Layer(key, priority, self._order, last_t=self._last_t)
                if self.start_present and self._last_t is None:
                    layer.presence = 1.0
                self._order += 1
                self._layers[key] = layer
            layer.priority = priority
            seen.add(key)
            self._step(layer, t_ns, pose)
        for key in list(self._layers):
            if key not in seen:
                layer = self._layers[key]
                self._step(layer, t_ns, None)
                if layer.presence <= 0.0:
                    del self._layers[key]

        self._last_t = t_ns
        weights = np.zeros(N_ARKIT, np.float32)
        head = IDENTITY_QUAT.copy()
        gaze = np.zeros(2, np.float32)
        bones: np.ndarray | None = None
        bone_weight = np.zeros(N_BODY, np.float32)
        for layer in sorted(self._layers.values(), key=lambda l: (l.priority, l.order)):
            pose = layer.last
            if pose is None or layer.presence <= 0.0:
                continue
            influence = layer.presence * float(np.clip(pose.confidence, 0.0, 1.0))
            if influence <= 0.0:
                continue
            alpha = np.clip(pose.mask, 0.0, 1.0) * influence
            weights += alpha * (pose.weights - weights)
            if pose.head is not None:
                head = quat.slerp(head, pose.head, influence)
            if pose.gaze is not None:
                gaze += influence * (np.asarray(pose.gaze, np.float32) - gaze)
            if pose.bones is not None:
                if bones is None:
                    bones = AvatarState(t_ns).bones
                _blend_bones(bones, pose.bones, np.clip(pose.bone_mask, 0.0, 1.0) * influence)
                bone_weight += np.clip(pose.bone_mask, 0.0, 1.0) * influence * (1 - bone_weight)
        np.clip(weights, 0.0, 1.0, out=weights)
        state = AvatarState(t_ns=t_ns, weights=weights, head=head,
                            gaze=(float(gaze[0]), float(gaze[1])), bone_weight=bone_weight)
        if bones is not None:
            object.__setattr__(state, "bones", bones)
        return state

    def layers(self) -> list[LayerReport]:
        """Current layers, lowest priority first."""
        return [LayerReport(str(getattr(l.key, "name", l.key)), l.priority, l.presence,
                            l.presence > 0)
                for l in sorted(self._layers.values(), key=lambda l: (l.priority, l.order))]

    def _step(self, layer: _Layer, t_ns: int, pose: Pose | None) -> None:
        dt = 0 if layer.last_t is None else max(0, t_ns - layer.last_t)
        layer.last_t = t_ns
        step = 1.0 if self.fade_ns <= 0 else dt / self.fade_ns
        if pose is not None:
            layer.last = pose
            # A brand-new layer starts from zero and fades in over fade_ns.
            layer.presence = min(1.0, layer.presence + step)
        else:
            layer.presence = max(0.0, layer.presence - step)


def _blend_bones(acc: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> None:
    """``acc[i] = slerp(acc[i], target[i], alpha[i])`` for every bone, in place.

    Uses nlerp on the short arc: the per-tick steps are small, and it is vectorised.
    """
    live = alpha > 0.0
    if not live.any():
        return
    a = acc[live].astype(np.float64)
    b = target[live].astype(np.float64)
    t = alpha[live, None].astype(np.float64)
    b = np.where(np.sum(a * b, axis=1, keepdims=True) < 0, -b, b)
    q = a + t * (b - a)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    acc[live] = q.astype(np.float32)


def gaze_to_eyelook(yaw: float, pitch: float, *, max_yaw: float = 0.6,
                    max_pitch: float = 0.45) -> dict[str, float]:
    """ARKit eyeLook* weights for a gaze direction (radians, avatar's frame).

    ``yaw > 0`` looks to the avatar's left: the left eye looks out, the right eye looks in.
    """
    h = float(np.clip(yaw / max_yaw, -1.0, 1.0))
    v = float(np.clip(pitch / max_pitch, -1.0, 1.0))
    left, right = max(h, 0.0), max(-h, 0.0)
    up, down = max(v, 0.0), max(-v, 0.0)
    return {
        "eyeLookOutLeft": left, "eyeLookInRight": left,
        "eyeLookInLeft": right, "eyeLookOutRight": right,
        "eyeLookUpLeft": up, "eyeLookUpRight": up,
        "eyeLookDownLeft": down, "eyeLookDownRight": down,
    }


def weights_from(named: dict[str, float]) -> np.ndarray:
    """float32[52] from a ``{arkit name: weight}`` dict; unknown names raise KeyError."""
    w = np.zeros(N_ARKIT, np.float32)
    for name, value in named.items():
        w[INDEX[name]] = value
    return w
