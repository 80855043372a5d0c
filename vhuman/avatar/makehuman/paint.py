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


#: Make-up (sRGB): lips, the line along their border, and cheek blush; kept natural.
LIPS = "#b5525a"
LIP_LINE = "#8c3a42"
BLUSH = "#dc8486"

#: Brow hair and the softer tint under it (sRGB), matched to the hair.
BROW_HAIR = "#1e130d"
BROW_TINT = "#4a3327"


def _brow_frame(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The brow's shape at t (0 = inner end, 1 = tail), in mm from the eye's centre.

    Returns (x outward, y of the centre line, half thickness). The arch peaks two-thirds
    out; the tail tapers and drops a little below the head.
    """
    x = -19.0 + 48.0 * t
    tc = np.clip(t, 0, 1)
    y = (18.0 + 5.0 * np.sin(0.5 * np.pi * np.clip(tc / 0.62, 0, 1))
         - 8.0 * np.clip((tc - 0.62) / 0.38, 0, 1) ** 1.6)
    half = 4.2 * (1 - tc) ** 0.55 + 0.7 * tc
    return x, y, half


def _brow_local(p: np.ndarray, eye: np.ndarray, side: float):
    """Place points in the brow's frame.

    Returns the points as (x outward, y up) millimetres from the eye, the brow's t at
    each, and the signed distance across it in half-thicknesses (0 on the centre line).
    """
    x = (p[:, 0] - eye[0]) * side * 1000.0
    y = (p[:, 1] - eye[1]) * 1000.0
    t = (x + 19.0) / 48.0
    _, yc, half = _brow_frame(t)
    return x, y, t, (y - yc) / half


def brow_alpha(p: np.ndarray, eye: np.ndarray, side: float, texel: np.ndarray | float,
               seed: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """Coverage 0..1 of one brow at skin points ``p``: (soft tint, hairs).

    The brow is drawn as a few hundred single hairs (two-segment strokes, about 0.1 mm
    wide) in the front view: the inner end sparse and upright, the body slanting out and
    up below the centre line and out and down above it, the tail flat and tapering.
    Each stroke is a Gaussian no narrower than the texel (``texel``, metres) with its
    darkness scaled to keep the hair's weight, so the strokes never alias into blocks;
    under them lies a faint tint that gives the brow its shape from a distance.

    Args:
        p: float[M, 3] skin points (metres, avatar space).
        eye: the eye joint on that side.
        side: +1 for the avatar's left, -1 for its right.
        texel: the texel footprint at each point (metres), scalar or float[M].
        seed: hair layout (the same seed gives the same brow).
    """
    x, y, t, across = _brow_local(p, eye, side)
    front = smoothstep(eye[2] - 0.03, eye[2] - 0.012, p[:, 2])
    ends = smoothstep(-0.04, 0.1, t) * (1 - smoothstep(0.96, 1.04, t))
    tint = (1 - smoothstep(0.6, 1.3, np.abs(across))) * ends * front
    tint *= 0.65 + 0.35 * smoothstep(0.0, 0.3, t)  # lighter at the inner end
    hairs = np.zeros(len(p))
    near = np.flatnonzero((np.abs(across) < 3.0) & (t > -0.12) & (t < 1.12) & (front > 0))
    if not len(near):
        return np.clip(tint, 0, 1), hairs

    rng = np.random.default_rng(seed)
    n = 950
    # hairs spread evenly along the brow (so the narrow tail reads denser) and across it
    ht = np.sort(rng.uniform(-0.02, 1.0, n))
    hs = np.clip(rng.normal(0, 0.65, n), -1.05, 1.05)
    hx, hy, hh = _brow_frame(ht)
    # direction: upright at the head, slanting in the body, flat at the tail; hairs
    # below the centre line climb, those above lie down over them
    base = np.interp(ht, [0.0, 0.12, 0.3, 0.65, 1.0], [80, 62, 36, 18, -12])
    ang = np.radians(base - 14 * hs + rng.normal(0, 7, n))
    length = np.interp(ht, [0.0, 0.15, 0.5, 1.0], [3.6, 5.0, 6.5, 5.0]) * rng.uniform(0.75,
                                                                                     1.2, n)
    bend = np.radians(-12 + rng.normal(0, 6, n))  # tips curl toward the tail
    # centre the stroke on its spot in the brow
    mid = np.stack([hx, hy + hs * hh * 0.9], 1)
    d0 = np.stack([np.cos(ang), np.sin(ang)], 1)
    d1 = np.stack([np.cos(ang + bend), np.sin(ang + bend)], 1)
    root = mid - d0 * (length / 2)[:, None]
    knee = root + d0 * (length / 2)[:, None]
    tip = knee + d1 * (length / 2)[:, None]
    shade = rng.uniform(0.55, 1.0, n) * np.interp(ht, [0.0, 0.15, 0.3, 1.0],
                                                   [0.7, 0.85, 1.0, 0.95])
    width = 0.09  # mm
    q = np.stack([x[near], y[near]], 1)
    tx = np.broadcast_to(np.asarray(texel, np.float64), (len(p),))[near] * 1000.0
    sig = np.maximum(width / 2, 0.55 * tx)[:, None]
    peak = np.minimum(1.0, width / (2.5 * sig))
    keep = np.ones((len(q),))
    for c0 in range(0, n, 48):
        sl = slice(c0, c0 + 48)
        for a, b, t0 in ((root[sl], knee[sl], 0.0), (knee[sl], tip[sl], 0.5)):
            d = b - a
            u = ((q[:, None, 0] - a[None, :, 0]) * d[None, :, 0]
                 + (q[:, None, 1] - a[None, :, 1]) * d[None, :, 1]) / (d ** 2).sum(1)[None]
            u = np.clip(u, 0, 1)
            dx = q[:, None, 0] - a[None, :, 0] - u * d[None, :, 0]
            dy = q[:, None, 1] - a[None, :, 1] - u * d[None, :, 1]
            along = t0 + 0.5 * u  # 0 at the root, 1 at the tip: tips are finer
            cover = (peak * np.exp(-(dx * dx + dy * dy) / (2 * sig * sig))
                     * shade[sl][None] * (1 - 0.6 * along ** 2))
            keep *= np.prod(1 - np.clip(cover, 0, 0.95), axis=1)
    hairs[near] = (1 - keep) * front[near]
    return np.clip(tint, 0, 1), np.clip(hairs, 0, 1)


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


def skin_colors(p: np.ndarray, lips: np.ndarray, mouth: np.ndarray, eyelids: np.ndarray,
                eye_l: np.ndarray, eye_r: np.ndarray, hair_below: np.ndarray | None = None,
                mottle: np.ndarray | None = None, texel: np.ndarray | float = 0.0005,
                ) -> np.ndarray:
    """Linear RGB skin with make-up at points ``p`` (texels or vertices).

    Args:
        p: float[M, 3] positions on the skin (metres, avatar space).
        lips: 0..1 MPFB2 lips region mask at those points.
        mouth: 0..1 MPFB2 inside-mouth region mask at those points.
        eyelids: 0..1 MPFB2 eyelids region mask at those points.
        eye_l: left eye joint position.
        eye_r: right eye joint position.
        hair_below: metres each point lies below the hairline (negative under the hair),
            for a soft scalp shadow; None to skip.
        mottle: -1..1 fine variation per point (texture-space noise); None to skip.
        texel: the texel footprint at each point (metres), for anti-aliased brow hairs.
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
    # a soft rose blush on the apples of the cheeks, swept a little toward the temples
    blush = np.zeros(n)
    for e, s in ((eye_l, 1), (eye_r, -1)):
        blush += (0.7 * blob(e + [s * 0.020, -0.031, 0.006], 0.014)
                  + 0.3 * blob(e + [s * 0.034, -0.022, -0.004], 0.013))
    blush = np.clip(blush, 0, 1) * face_front * 0.2
    col = col * (1 - blush)[:, None] + srgb(BLUSH)[None] * blush[:, None]

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

    tint, hairs = np.zeros(n), np.zeros(n)
    mid_y = (eye_l[1] + eye_r[1]) / 2
    near = np.flatnonzero((p[:, 1] > mid_y + 0.005) & (p[:, 1] < mid_y + 0.04)
                          & (p[:, 2] > eye_l[2] - 0.035) & (np.abs(p[:, 0]) < 0.1))
    tx = np.broadcast_to(np.asarray(texel, np.float64), (n,))[near]
    for e, side, seed in ((eye_l, 1.0, 21), (eye_r, -1.0, 22)):
        a, h = brow_alpha(p[near], e, side, tx, seed)
        tint[near] = np.maximum(tint[near], a)
        hairs[near] = 1 - (1 - hairs[near]) * (1 - h)
    col = col * (1 - 0.6 * tint)[:, None] + srgb(BROW_TINT)[None] * (0.6 * tint)[:, None]
    col = col * (1 - hairs)[:, None] + srgb(BROW_HAIR)[None] * hairs[:, None]

    lip = np.clip(lips * 1.25, 0, 1)
    lip_col = srgb(LIPS)[None] * np.ones((n, 1))
    col = col * (1 - 0.88 * lip)[:, None] + lip_col * (0.88 * lip)[:, None]
    # a fine deeper line along the lip border (the mask's edge band) defines their shape
    rim = np.clip(4 * lips * (1 - lips), 0, 1) ** 1.5 * 0.35
    col = col * (1 - rim)[:, None] + srgb(LIP_LINE)[None] * rim[:, None]

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
