"""Colours for the host: skin make-up from MPFB2's region masks, eyes, teeth, the top.

Everything is baked into linear vertex colours (the renderer multiplies them into the
material's base colour), so no texture or UV split is needed. The masks in
``mpfb2/textures`` are greyscale regions in the body's UV space; each vertex takes the
brightest value over its UV corners.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def srgb(hex_or_rgb: str | tuple[float, float, float]) -> np.ndarray:
    """An sRGB colour ("#rrggbb" or 0..1 floats) as linear float64[3]."""
    if isinstance(hex_or_rgb, str):
        h = hex_or_rgb.lstrip("#")
        c = np.array([int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4)])
    else:
        c = np.asarray(hex_or_rgb, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def sample_mask(path: Path, uvs: np.ndarray, face_v: np.ndarray, face_t: np.ndarray,
                n_vertices: int, size: int = 512) -> np.ndarray:
    """Per-vertex 0..1 value of a greyscale UV mask (max over the vertex's UV corners)."""
    img = Image.open(path).convert("L").resize((size, size), Image.BILINEAR)
    a = np.asarray(img, np.float32) / 255.0
    uv = uvs[face_t.ravel()]
    px = np.clip(uv[:, 0] * (size - 1), 0, size - 1)
    py = np.clip((1.0 - uv[:, 1]) * (size - 1), 0, size - 1)
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    x1, y1 = np.minimum(x0 + 1, size - 1), np.minimum(y0 + 1, size - 1)
    fx, fy = px - x0, py - y0
    val = (a[y0, x0] * (1 - fx) * (1 - fy) + a[y0, x1] * fx * (1 - fy)
           + a[y1, x0] * (1 - fx) * fy + a[y1, x1] * fx * fy)
    out = np.zeros(n_vertices, np.float32)
    np.maximum.at(out, face_v.ravel(), val)
    return out


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 at e0 to 1 at e1 (either order)."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def value_noise(x: np.ndarray, seed: int) -> np.ndarray:
    """Smooth 1-D value noise in -1..1 (cubic between random lattice values)."""
    rng = np.random.default_rng(seed)
    lattice = rng.uniform(-1, 1, 4096)
    i = np.floor(x).astype(np.int64)
    f = x - i
    a = lattice[i % 4096]
    b = lattice[(i + 1) % 4096]
    f = f * f * (3 - 2 * f)
    return a * (1 - f) + b * f


def value_noise3(p: np.ndarray, seed: int) -> np.ndarray:
    """Smooth 3-D value noise in -1..1 for skin mottling."""
    rng = np.random.default_rng(seed)
    lattice = rng.uniform(-1, 1, (32, 32, 32))
    i = np.floor(p).astype(np.int64)
    f = p - i
    f = f * f * (3 - 2 * f)
    out = np.zeros(len(p))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = ((f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1])
                     * (f[:, 2] if dz else 1 - f[:, 2]))
                out += w * lattice[(i[:, 0] + dx) % 32, (i[:, 1] + dy) % 32, (i[:, 2] + dz) % 32]
    return out


def eye_colors(positions: np.ndarray, center: np.ndarray, forward: np.ndarray,
               radius: float, iris: str = "#5a3b22") -> np.ndarray:
    """Sclera, iris (radial fibres, dark limbal ring) and pupil along the eye's axis."""
    d = positions - center
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    ang = np.arccos(np.clip(d @ forward, -1, 1))
    # polar angle around the axis for radial iris fibres
    up = np.array([0.0, 1.0, 0.0])
    side = np.cross(up, forward)
    side /= np.linalg.norm(side)
    up = np.cross(forward, side)
    phi = np.arctan2(d @ up, d @ side)
    r_pupil, r_iris = 0.19, 0.43
    sclera = srgb("#eae3dc")
    # sclera goes a touch pinker and darker away from the cornea
    col = sclera * (1 - 0.25 * smoothstep(0.6, 1.6, ang))[:, None] \
        + srgb("#c98f86") * (0.18 * smoothstep(0.8, 1.6, ang))[:, None]
    fib = 0.75 + 0.25 * value_noise(phi * 14.0 + 40.0, 7) * value_noise(phi * 5 + 9, 8)
    iris_lin = srgb(iris)
    inner = srgb("#9a6a34")  # lighter ring round the pupil (heterochromia-like warmth)
    t = smoothstep(r_pupil, r_iris, ang)
    iris_col = (inner * (1 - t)[:, None] + iris_lin * t[:, None]) * fib[:, None]
    limbal = smoothstep(r_iris - 0.08, r_iris, ang)
    iris_col *= (1 - 0.75 * limbal)[:, None]
    in_iris = 1 - smoothstep(r_iris - 0.015, r_iris + 0.03, ang)
    col = col * (1 - in_iris)[:, None] + iris_col * in_iris[:, None]
    pupil = 1 - smoothstep(r_pupil - 0.03, r_pupil + 0.01, ang)
    col = col * (1 - pupil)[:, None] + srgb("#060505") * pupil[:, None]
    return col
