"""Pinhole camera and studio lights for the avatar renderer.

Everything here is plain numpy (no GL), so tests and the compositor can project avatar
landmarks to pixels with exactly the matrices the renderer uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vhuman.avatar.model import Avatar
from vhuman.core.errors import ConfigError
from vhuman.core.light import STANDARD_KEY, Light

#: Where the face sits in a head-and-shoulders shot, as a fraction of the frame from the
#: top; broadcast framing puts the eyes near the upper third line.
FACE_FROM_TOP = 0.36


def _vec3(name: str, value: object) -> tuple[float, float, float]:
    arr = np.asarray(value, np.float64).reshape(-1)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} must be three finite numbers, got {value!r}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Right-handed view matrix (float64[4, 4]) looking from ``eye`` at ``target``."""
    f = np.asarray(target, np.float64) - np.asarray(eye, np.float64)
    f /= np.linalg.norm(f)
    s = np.cross(f, np.asarray(up, np.float64))
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = s, u, -f
    m[:3, 3] = -m[:3, :3] @ np.asarray(eye, np.float64)
    return m


def perspective(fov_y_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
    """OpenGL clip-space projection matrix (float64[4, 4])."""
    f = 1.0 / math.tan(math.radians(fov_y_deg) / 2.0)
    m = np.zeros((4, 4))
    m[0, 0] = f / aspect
    m[1, 1] = f
    m[2, 2] = (far + near) / (near - far)
    m[2, 3] = 2.0 * far * near / (near - far)
    m[3, 2] = -1.0
    return m


@dataclass(frozen=True, slots=True)
class Camera:
    """A perspective camera in avatar space (metres, +Y up, the avatar faces +Z).

    Attributes:
        eye: camera position.
        target: point the camera looks at (it lands in the image centre).
        up: approximate up direction.
        fov_y_deg: vertical field of view; a long lens (20–30°) flatters faces.
        near: near clip distance.
        far: far clip distance.
    """

    eye: tuple[float, float, float] = (0.0, 1.5, 2.0)
    target: tuple[float, float, float] = (0.0, 1.5, 0.0)
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_y_deg: float = 24.0
    near: float = 0.05
    far: float = 20.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "eye", _vec3("Camera.eye", self.eye))
        object.__setattr__(self, "target", _vec3("Camera.target", self.target))
        object.__setattr__(self, "up", _vec3("Camera.up", self.up))
        if not 1.0 <= self.fov_y_deg <= 120.0:
            raise ConfigError(f"Camera.fov_y_deg must be in 1..120 degrees, got {self.fov_y_deg}")
        if not 0.0 < self.near < self.far:
            raise ConfigError(f"Camera needs 0 < near < far, got near={self.near} far={self.far}")
        if np.allclose(self.eye, self.target):
            raise ConfigError("Camera.eye and Camera.target are the same point")

    @classmethod
    def head_and_shoulders(cls, avatar: Avatar, aspect: float, *,
                           fov_y_deg: float = 24.0, zoom: float = 1.0,
                           offset_x: float = 0.0) -> Camera:
        """Frame ``avatar`` like a live host: face near the upper third, shoulders in shot.

        Uses ``avatar.frame_center`` (the face) and ``avatar.frame_height`` (metres visible
        vertically). In a portrait frame the height is widened so the shoulders still fit
        where they can.

        Args:
            avatar: the avatar to frame.
            aspect: output width / height.
            fov_y_deg: vertical field of view.
            zoom: > 1 moves in (the face stays on the upper-third line).
            offset_x: where the avatar stands, as a fraction of the frame width from the
                centre (-0.12 = a little left, leaving room for a product card).
        """
        if not aspect > 0:
            raise ConfigError(f"aspect must be > 0, got {aspect}")
        if not (0.1 <= zoom <= 10 and -0.5 <= offset_x <= 0.5):
            raise ConfigError(f"zoom must be 0.1..10 and offset_x -0.5..0.5, got {zoom}, "
                              f"{offset_x}")
        center = np.asarray(avatar.frame_center, np.float64)
        height = float(avatar.frame_height)
        if not height > 0:
            raise ConfigError(f"avatar {avatar.name!r} has frame_height {height}; must be > 0")
        # Narrow frames would crop the shoulders hard; show more height instead, up to 1.6x.
        min_width = 0.75 * height
        if height * aspect < min_width:
            height = min(min_width / aspect, 1.6 * height)
        height /= zoom
        half = math.tan(math.radians(fov_y_deg) / 2.0)
        dist = (height / 2.0) / half
        # Look at a point below the face so the face lands FACE_FROM_TOP from the top edge.
        drop = (0.5 - FACE_FROM_TOP) * height
        # the camera moves the other way from where the avatar should appear
        target = center - np.array([offset_x * height * aspect, drop, 0.0])
        eye = target + np.array([0.0, 0.0, dist])
        return cls(eye=tuple(eye), target=tuple(target), fov_y_deg=fov_y_deg,
                   near=max(0.01, dist * 0.1), far=dist * 10.0)

    def view(self) -> np.ndarray:
        """World → camera matrix (float64[4, 4])."""
        return look_at(np.array(self.eye), np.array(self.target), np.array(self.up))

    def projection(self, aspect: float) -> np.ndarray:
        """Camera → clip matrix (float64[4, 4]) for ``aspect`` = width / height."""
        return perspective(self.fov_y_deg, aspect, self.near, self.far)

    def view_projection(self, aspect: float) -> np.ndarray:
        """World → clip matrix (float64[4, 4])."""
        return self.projection(aspect) @ self.view()

    def project(self, points: np.ndarray, width: int, height: int) -> np.ndarray:
        """Project world points to pixel coordinates (x right, y down, top-left origin).

        Args:
            points: float[..., 3] world positions.
            width: image width in pixels.
            height: image height in pixels.

        Returns:
            float64[..., 2] pixel centres, matching the rows of :meth:`Renderer.render`.
        """
        pts = np.asarray(points, np.float64)
        flat = pts.reshape(-1, 3)
        clip = np.c_[flat, np.ones(len(flat))] @ self.view_projection(width / height).T
        ndc = clip[:, :2] / clip[:, 3:4]
        px = np.empty_like(ndc)
        px[:, 0] = (ndc[:, 0] + 1.0) * 0.5 * width - 0.5
        px[:, 1] = (1.0 - ndc[:, 1]) * 0.5 * height - 0.5
        return px.reshape(pts.shape[:-1] + (2,))


@dataclass(frozen=True, slots=True)
class Lights:
    """A three-point studio rig plus a sky/ground ambient.

    The defaults read as a soft broadcast setup: a warm key from camera-left and above, a
    cool, weaker fill from camera-right, and a rim from behind that separates hair and
    shoulders from any background. Directions are in avatar space (the avatar faces +Z, so
    camera-left is the avatar's right, -X).

    Attributes:
        key: main light.
        fill: softens the key's shadows.
        rim: back light for the silhouette.
        sky: ambient colour from above (linear RGB).
        ground: ambient colour from below (linear RGB).
        exposure: scene exposure multiplier before tone mapping.
    """

    key: Light = field(default_factory=lambda: Light((-0.55, 0.55, 0.75), (1.0, 0.95, 0.88), STANDARD_KEY))
    fill: Light = field(default_factory=lambda: Light((0.7, 0.15, 0.6), (0.82, 0.9, 1.0), 0.9))
    rim: Light = field(default_factory=lambda: Light((0.35, 0.55, -0.85), (1.0, 0.97, 0.93), 1.8))
    sky: tuple[float, float, float] = (0.30, 0.32, 0.36)
    ground: tuple[float, float, float] = (0.13, 0.11, 0.10)
    exposure: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sky", _vec3("Lights.sky", self.sky))
        object.__setattr__(self, "ground", _vec3("Lights.ground", self.ground))
        if not self.exposure > 0:
            raise ConfigError(f"Lights.exposure must be > 0, got {self.exposure}")
