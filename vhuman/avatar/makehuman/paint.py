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
               radius: float, iris: str = "#3f2818") -> np.ndarray:
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
    inner = srgb("#6e4a28")  # lighter ring round the pupil (heterochromia-like warmth)
    t = smoothstep(r_pupil, r_iris, ang)
    iris_col = (inner * (1 - t)[:, None] + iris_lin * t[:, None]) * fib[:, None]
    limbal = smoothstep(r_iris - 0.08, r_iris, ang)
    iris_col *= (1 - 0.75 * limbal)[:, None]
    in_iris = 1 - smoothstep(r_iris - 0.015, r_iris + 0.03, ang)
    col = col * (1 - in_iris)[:, None] + iris_col * in_iris[:, None]
    pupil = 1 - smoothstep(r_pupil - 0.03, r_pupil + 0.01, ang)
    col = col * (1 - pupil)[:, None] + srgb("#060505") * pupil[:, None]
    return col


def _brow(p: np.ndarray, eye: np.ndarray, side: float) -> np.ndarray:
    """0..1 brow density for one side (side = +1 avatar's left, -1 right)."""
    inner_x = eye[0] - side * 0.019
    outer_x = eye[0] + side * 0.030
    u = (p[:, 0] - inner_x) / (outer_x - inner_x)  # 0 at the inner end, 1 outer
    uc = np.clip(u, 0, 1)
    centre = eye[1] + 0.0185 + 0.0055 * np.sin(np.pi * np.clip(uc * 1.15, 0, 1)) - 0.004 * uc
    half = 0.0044 * (1 - uc) ** 0.7 + 0.0015 * uc
    dy = np.abs(p[:, 1] - centre)
    across = 1 - smoothstep(half * 0.55, half * 1.25, dy)
    along = smoothstep(-0.12, 0.05, u) * (1 - smoothstep(0.9, 1.08, u))
    front = smoothstep(eye[2] - 0.012, eye[2] + 0.0, p[:, 2])
    # hairs: fine streaks that lean outward, denser at the inner end
    streak = 0.75 + 0.25 * value_noise((p[:, 0] * side * 1600.0 + p[:, 1] * 900.0), 11)
    return np.clip(across * along * front * streak, 0, 1)


def rasterize_uv(tri_uv: np.ndarray, tri_attr: np.ndarray, size: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise triangles laid out in UV space, interpolating a per-corner attribute.

    Triangles are bucketed by bounding-box size and each bucket is done in one vectorised
    pass (a Python loop per triangle costs seconds at 2048²).

    Args:
        tri_uv: float[T, 3, 2] UVs (0..1, v up as in obj files).
        tri_attr: float[T, 3, K] attribute per corner (e.g. the 3-D position).
        size: texture side in texels.

    Returns:
        (attr float32[size, size, K], covered bool[size, size]); row 0 is v = 1.
    """
    k = tri_attr.shape[2]
    out = np.zeros((size, size, k), np.float32)
    cov = np.zeros((size, size), bool)
    px = tri_uv.astype(np.float64).copy()
    px[..., 0] = px[..., 0] * size - 0.5
    px[..., 1] = (1.0 - px[..., 1]) * size - 0.5
    lo = np.floor(px.min(1)).astype(np.int64)
    span = (np.ceil(px.max(1)).astype(np.int64) - lo).max(1) + 1
    a, b, c = px[:, 0], px[:, 1], px[:, 2]
    det = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
    ok = np.abs(det) > 1e-12
    edges = [2, 4, 8, 16, 32, 64, 128, 256, 2048]
    for lo_e, hi_e in zip([0] + edges[:-1], edges):
        sel = np.flatnonzero(ok & (span > lo_e) & (span <= hi_e))
        if not len(sel):
            continue
        grid = np.stack(np.meshgrid(np.arange(hi_e), np.arange(hi_e), indexing="xy"), -1
                        ).reshape(-1, 2)
        chunk = max(1, 2_000_000 // len(grid))
        for s0 in range(0, len(sel), chunk):
            t = sel[s0:s0 + chunk]
            xs = lo[t, 0][:, None] + grid[None, :, 0]
            ys = lo[t, 1][:, None] + grid[None, :, 1]
            ta, tb, tc, d = a[t], b[t], c[t], det[t][:, None]
            l0 = ((tb[:, 1:2] - tc[:, 1:2]) * (xs - tc[:, 0:1])
                  + (tc[:, 0:1] - tb[:, 0:1]) * (ys - tc[:, 1:2])) / d
            l1 = ((tc[:, 1:2] - ta[:, 1:2]) * (xs - tc[:, 0:1])
                  + (ta[:, 0:1] - tc[:, 0:1]) * (ys - tc[:, 1:2])) / d
            l2 = 1 - l0 - l1
            eps = -0.02  # a hair conservative so shared edges leave no gaps
            m = ((l0 >= eps) & (l1 >= eps) & (l2 >= eps) & (xs >= 0) & (ys >= 0)
                 & (xs < size) & (ys < size))
            ti, gi = np.nonzero(m)
            w = np.stack([l0[ti, gi], l1[ti, gi], l2[ti, gi]], 1)
            vals = np.einsum("nc,nck->nk", w, tri_attr[t[ti]])
            out[ys[ti, gi], xs[ti, gi]] = vals
            cov[ys[ti, gi], xs[ti, gi]] = True
    return out, cov


def uv_noise(size: int, cells: int, seed: int) -> np.ndarray:
    """Smooth noise over a texture (-1..1): random cells upsampled with cubic splines."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    img = Image.fromarray(coarse, "F").resize((size, size), Image.BICUBIC)
    return np.asarray(img, np.float32)


def _brow_strokes(p: np.ndarray, eye: np.ndarray, side: float) -> np.ndarray:
    """Brow density built from fine slanted strokes, denser and more upright inside."""
    base = _brow(p, eye, side)
    u = np.clip((p[:, 0] - eye[0]) * side / 0.05 + 0.4, 0, 1)
    # hairs lean outward and up at the inner end, flatten toward the tail
    angle = np.radians(70) * (1 - u) + np.radians(15) * u
    across = (p[:, 0] * side) * np.sin(angle) - p[:, 1] * np.cos(angle)
    strokes = 0.5 + 0.5 * value_noise(across * 9000.0, 13)
    # solid core, strokes show at the soft edges where single hairs read
    core = np.clip(base * 1.3, 0, 1)
    return np.clip(core * (0.78 + 0.22 * strokes), 0, 1)


def skin_colors(p: np.ndarray, lips: np.ndarray, mouth: np.ndarray, eyelids: np.ndarray,
                eye_l: np.ndarray, eye_r: np.ndarray, hair_below: np.ndarray | None = None,
                mottle: np.ndarray | None = None) -> np.ndarray:
    """Linear RGB skin with make-up at points ``p`` (texels or vertices).

    Args:
        p: float[M, 3] positions on the skin (metres, avatar space).
        lips, mouth, eyelids: 0..1 MPFB2 region masks at those points.
        eye_l, eye_r: eye joint positions.
        hair_below: metres each point lies below the hairline (negative under the hair),
            for a soft scalp shadow; None to skip.
        mottle: -1..1 fine variation per point (texture-space noise); None to skip.
    """
    n = len(p)
    base = srgb("#dcaa8e")
    warm = srgb("#d98474")
    col = np.tile(base, (n, 1))
    if mottle is not None:
        col *= (1 + 0.05 * mottle)[:, None]
    mid = (eye_l + eye_r) / 2
    face_front = smoothstep(mid[2] - 0.06, mid[2] + 0.02, p[:, 2])

    def blob(c: np.ndarray, r: float) -> np.ndarray:
        return np.exp(-np.sum((p - c) ** 2, axis=1) / (2 * r * r))

    # warmth: nose tip, cheeks (blush), ears and chin read alive instead of plastic
    redness = 0.45 * blob(mid + [0, -0.035, 0.035], 0.010)
    for e, s in ((eye_l, 1), (eye_r, -1)):
        redness += 0.55 * blob(e + [s * 0.014, -0.034, 0.012], 0.015) * face_front
        redness += 0.45 * blob(e + [s * 0.055, -0.02, -0.07], 0.018)  # ears
    redness += 0.2 * blob(mid + [0, -0.105, 0.02], 0.015)
    redness = np.clip(redness, 0, 1)
    col = col * (1 - 0.3 * redness)[:, None] + warm[None] * (0.3 * redness)[:, None]

    # eyelid shadow (soft taupe) above the crease, a darker line at the lash root
    lid = np.zeros(n)
    for e in (eye_l, eye_r):
        d = p - e
        lid += (np.exp(-(d[:, 0] ** 2) / (2 * 0.013**2)) * smoothstep(0.003, 0.008, d[:, 1])
                * (1 - smoothstep(0.011, 0.019, d[:, 1])) * smoothstep(0.0, 0.01, d[:, 2]))
    lid = np.clip(lid + 0.5 * eyelids, 0, 1)
    col = col * (1 - 0.3 * lid)[:, None] + srgb("#7d5450")[None] * (0.2 * lid)[:, None]

    if hair_below is not None:
        shade = (1 - smoothstep(-0.001, 0.007, hair_below)) * 0.55
        if mottle is not None:
            shade *= 0.75 + 0.25 * mottle
        shade = np.clip(shade, 0, 1)
        col = col * (1 - shade)[:, None] + srgb("#3a2519")[None] * shade[:, None]

    brow = np.zeros(n)
    mid_y = (eye_l[1] + eye_r[1]) / 2
    near = np.flatnonzero((p[:, 1] > mid_y) & (p[:, 1] < mid_y + 0.045)
                          & (p[:, 2] > eye_l[2] - 0.02) & (np.abs(p[:, 0]) < 0.1))
    q = p[near]
    brow[near] = np.clip(_brow_strokes(q, eye_l, 1.0) + _brow_strokes(q, eye_r, -1.0), 0, 1)
    col = col * (1 - 0.92 * brow)[:, None] + srgb("#24170f")[None] * (0.92 * brow)[:, None]

    lip = np.clip(lips * 1.25, 0, 1)
    lip_col = srgb("#b8575a")[None] * np.ones((n, 1))
    col = col * (1 - 0.85 * lip)[:, None] + lip_col * (0.85 * lip)[:, None]

    inside = np.clip(mouth * 1.5, 0, 1)
    col = col * (1 - inside)[:, None] + srgb("#5a1e22")[None] * inside[:, None]
    return col


def to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear 0..1 colours → uint8 sRGB (through a 4096-entry table: fast on 2048² maps)."""
    lut_in = np.linspace(0, 1, 4096)
    lut = np.where(lut_in <= 0.0031308, lut_in * 12.92, 1.055 * lut_in ** (1 / 2.4) - 0.055)
    lut = np.round(lut * 255).astype(np.uint8)
    idx = np.clip(np.asarray(linear, np.float32) * 4095 + 0.5, 0, 4095).astype(np.int32)
    return lut[idx]
