"""A small stylized head-and-shoulders host built from maths, for tests and as a fallback.

Everything is generated from parametric surfaces in well under a second, deterministically:
an ellipsoid head sculpted with smooth displacement fields (nose, brows, cheeks, lips, chin),
a real mouth opening (the lip line is cut so the jaw can drop and show teeth, tongue and a
dark mouth interior), eyeballs with a painted iris and spherical eyelid shells that close, a
textured bob haircut, brows, ears, and a lofted neck and shoulders wearing a crew-neck top.
All 52 ARKit shapes are geometric deltas; the head turns on the neck through a 4-joint
skeleton (root, spine, neck, head).

Units are metres, +Y up, the avatar faces +Z, the origin is at the base of the neck. The
avatar's LEFT is +X (image right when it faces the camera).
"""

from __future__ import annotations

import math

import numpy as np

from vhuman.avatar.model import Avatar, Material, MeshPart, Skeleton
from vhuman.core.arkit import ARKIT_52, INDEX

#: Head ellipsoid centre and semi-axes.
HEAD_C = np.array([0.0, 0.168, 0.0])
AX, AY, AZ = 0.080, 0.104, 0.090
#: Feature heights relative to HEAD_C (metres).
EYE_Y, BROW_Y, NOSE_Y, MOUTH_Y = -0.002, 0.024, -0.040, -0.064
EYE_X = 0.0315
EYE_R = 0.0145
MOUTH_HW = 0.0195  # half width of the lip line
JAW_HINGE = np.array([0.0, HEAD_C[1] - 0.012, -0.012])

SKIN = (0.78, 0.50, 0.38, 1.0)
LIP = np.array([0.62, 0.20, 0.20])
HAIR = (0.045, 0.026, 0.016, 1.0)
TOP = (0.035, 0.16, 0.22, 1.0)

J_ROOT, J_SPINE, J_NECK, J_HEAD = 0, 1, 2, 3


def _smooth(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(dx: np.ndarray, dy: np.ndarray, sx: float, sy: float) -> np.ndarray:
    return np.exp(-((dx / sx) ** 2 + (dy / sy) ** 2))


def _grid_faces(rows: int, cols: int, wrap: bool, offset: int = 0) -> np.ndarray:
    """Triangles of a rows x cols vertex grid (row-major), optionally wrapping columns."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols if wrap else cols - 1),
                       indexing="ij")
    c1 = (c + 1) % cols
    a, b = r * cols + c, r * cols + c1
    d, e = (r + 1) * cols + c, (r + 1) * cols + c1
    f = np.stack([np.stack([a, d, b], -1), np.stack([b, d, e], -1)], -2).reshape(-1, 3)
    return (f + offset).astype(np.int64)


def _orient(pos: np.ndarray, faces: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Flip triangles whose normal points toward ``inside`` (a point or per-face points)."""
    p0, p1, p2 = pos[faces[:, 0]], pos[faces[:, 1]], pos[faces[:, 2]]
    n = np.cross(p1 - p0, p2 - p0)
    c = (p0 + p1 + p2) / 3.0
    flip = np.einsum("ij,ij->i", n, c - inside) < 0
    out = faces.copy()
    out[flip] = out[flip][:, ::-1]
    return out


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rotate_about(p: np.ndarray, r: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    return (p - pivot) @ r.T + pivot


class _Part:
    """Accumulates one mesh part while building."""

    def __init__(self, name: str, pos: np.ndarray, faces: np.ndarray, material: Material,
                 colors: np.ndarray | None = None, uvs: np.ndarray | None = None) -> None:
        self.name = name
        self.pos = np.asarray(pos, np.float64)
        self.faces = np.asarray(faces, np.int64)
        self.material = material
        self.colors = colors
        self.uvs = uvs
        self.morphs: dict[str, np.ndarray] = {}
        self.head_w = np.ones(len(self.pos))  # 1 = rigidly on the head joint

    def add(self, name: str, delta: np.ndarray) -> None:
        if name not in INDEX:
            raise KeyError(name)
        d = np.asarray(delta, np.float64)
        self.morphs[name] = self.morphs.get(name, 0.0) + d

    def finish(self) -> MeshPart:
        from vhuman.avatar.normals import vertex_normals

        pos = self.pos.astype(np.float32)
        names = [n for n in ARKIT_52 if n in self.morphs and np.any(self.morphs[n])]
        deltas = (np.stack([self.morphs[n] for n in names]).astype(np.float32) if names
                  else np.zeros((0, len(pos), 3), np.float32))
        n = len(pos)
        # skin: head weight hw, the remainder split between neck and spine by height
        hw = np.clip(self.head_w, 0, 1)
        neck = np.clip(_smooth(-0.035, 0.03, self.pos[:, 1]), 0, 1) * (1 - hw)
        spine = 1.0 - hw - neck
        joints = np.tile(np.array([J_HEAD, J_NECK, J_SPINE, J_ROOT], np.uint16), (n, 1))
        weights = np.stack([hw, neck, spine, np.zeros(n)], -1).astype(np.float32)
        return MeshPart(
            name=self.name, positions=pos, normals=vertex_normals(pos, self.faces),
            indices=self.faces.astype(np.uint32), material=self.material,
            uvs=None if self.uvs is None else self.uvs.astype(np.float32),
            morph_deltas=deltas, morph_ids=np.array([INDEX[m] for m in names], np.int32),
            joints=joints, weights=weights,
            colors=None if self.colors is None else self.colors.astype(np.float32))


# ---------------------------------------------------------------------------- head
def _theta_rows(n: float, must: float) -> np.ndarray:
    """Polar angles from near the crown to under the jaw, denser over the face."""
    grid = np.linspace(0.0, 1.0, 2001)
    th_all = 0.12 + grid * (2.75 - 0.12)
    dens = 1.0 + 1.8 * np.exp(-((th_all - 1.85) / 0.42) ** 2)
    cdf = np.cumsum(dens)
    cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0])
    # stretch the two halves of an even grid so one row lands exactly on the lip line
    u_m = float(np.interp(must, th_all, cdf))
    k = round(u_m * (n - 1))
    i = np.arange(int(n), dtype=np.float64)
    u = np.where(i <= k, u_m * i / k, u_m + (1 - u_m) * (i - k) / (n - 1 - k))
    th = np.interp(u, cdf, th_all)
    th[k] = must
    return th


def _phi_cols(n: int) -> np.ndarray:
    s = np.linspace(-1.0, 1.0, n, endpoint=False)
    return math.pi * (0.5 * s + 0.5 * s ** 3)  # denser at the front (phi = 0)


def _head_shape(th: np.ndarray, ph: np.ndarray) -> np.ndarray:
    """Sculpted head surface points for polar angle ``th`` and azimuth ``ph``."""
    st, ct = np.sin(th), np.cos(th)
    # the lower half is a superellipse: a fuller jaw and chin than a plain ellipsoid's pole
    lower = np.clip(-ct, 0.0, 1.0)
    st = np.where(ct < 0, (1.0 - lower ** 2.6) ** (1 / 2.6), st)
    x = AX * st * np.sin(ph)
    y = AY * ct
    z = AZ * st * np.cos(ph)
    # jaw taper: the lower face narrows toward a rounded chin
    t = _smooth(0.0, -0.105, y)
    x = x * (1.0 - 0.26 * t ** 1.5)
    z = np.where(z > 0, z * (1.0 - 0.10 * t), z * (1.0 - 0.35 * t))
    # cranium: fuller at the back and top
    back = _smooth(0.0, -0.06, z) * _smooth(-0.05, 0.03, y)
    z = z * (1.0 + 0.10 * back)
    x = x * (1.0 + 0.04 * _smooth(-0.02, 0.06, y))
    front = _smooth(0.25, 0.75, st * np.cos(ph))
    z = np.where(z > 0, z * 0.96, z)
    dz = np.zeros_like(z)
    ax = np.abs(x)
    dz -= 0.0140 * _gauss(ax - EYE_X, y - EYE_Y, 0.019, 0.0135)             # eye sockets
    dz += 0.0030 * _gauss(ax - 0.030, y - BROW_Y + 0.002, 0.026, 0.008)     # brow ridge
    bridge = _smooth(BROW_Y - 0.004, NOSE_Y + 0.004, y) * _smooth(NOSE_Y - 0.012, NOSE_Y, y)
    dz += 0.0125 * bridge * np.exp(-(x / (0.0052 + 0.004 * bridge)) ** 2)  # nose ridge
    dz += 0.0085 * _gauss(x, y - NOSE_Y, 0.0080, 0.0078)                    # nose tip
    dz += 0.0045 * _gauss(ax - 0.0095, y - NOSE_Y + 0.003, 0.0055, 0.0050)   # nostril wings
    dz += 0.0060 * _gauss(ax - 0.040, y - NOSE_Y + 0.004, 0.020, 0.018)     # cheeks
    dz += 0.0036 * _gauss(x, y - MOUTH_Y - 0.0040, 0.017, 0.0042)           # upper lip
    dz += 0.0042 * _gauss(x, y - MOUTH_Y + 0.0050, 0.015, 0.0048)           # lower lip
    dz -= 0.0020 * _gauss(x, y - MOUTH_Y + 0.0145, 0.014, 0.0035)           # under lip
    dz += 0.0085 * _gauss(x, y - MOUTH_Y + 0.030, 0.016, 0.013)             # chin
    dz += 0.0070 * _gauss(x, y - MOUTH_Y + 0.010, 0.028, 0.030)             # dental arch
    dz -= 0.0012 * _gauss(x, y - MOUTH_Y - 0.012, 0.0035, 0.004)            # philtrum
    z = z + dz * front
    # the lip line curves up a touch at the corners: a relaxed, friendly resting mouth
    lipband = np.exp(-((y - MOUTH_Y) / 0.006) ** 2) * front
    y = y + 0.0018 * (x / MOUTH_HW) ** 2 * lipband * np.exp(-(x / 0.035) ** 4)
    return np.stack([x, y, z], -1) + HEAD_C


def _build_head() -> tuple[_Part, dict[str, np.ndarray]]:
    th_m = math.acos(MOUTH_Y / AY)
    th = _theta_rows(70, th_m)
    ph = _phi_cols(92)
    rows, cols = len(th), len(ph)
    TH, PH = np.meshgrid(th, ph, indexing="ij")
    grid = _head_shape(TH, PH).reshape(-1, 3)
    faces = _grid_faces(rows, cols, wrap=True, offset=1)
    top = _head_shape(np.array([0.0]), np.array([0.0]))
    fan = np.stack([np.zeros(cols, np.int64), 1 + (np.arange(cols) + 1) % cols,
                    1 + np.arange(cols)], -1)
    pos = np.vstack([top, grid])
    faces = np.vstack([fan, faces])
    # cut the lip line: duplicate the row's inner vertices for the lower lip
    r_m = int(np.argmin(np.abs(th - th_m)))
    xs = grid.reshape(rows, cols, 3)[r_m, :, 0]
    zs = grid.reshape(rows, cols, 3)[r_m, :, 2]
    inner = np.nonzero((np.abs(xs) < MOUTH_HW) & (zs > 0))[0]
    upper_ids = 1 + r_m * cols + inner
    lower_ids = len(pos) + np.arange(len(inner))
    remap = dict(zip(upper_ids.tolist(), lower_ids.tolist()))
    below_first = 1 + r_m * cols  # faces whose other vertices are on row r_m + 1
    fr = faces.copy()
    row_of = (faces - 1) // cols
    is_lower_face = (row_of.max(axis=1) == r_m + 1) & (row_of.min(axis=1) == r_m)
    for k in range(3):
        col = fr[:, k]
        sel = is_lower_face & np.isin(col, upper_ids)
        col[sel] = [remap[v] for v in col[sel].tolist()]
    del below_first
    pos = np.vstack([pos, pos[upper_ids]])
    faces = _orient(pos, fr, HEAD_C)
    n = len(pos)
    lower_lip = np.zeros(n, bool)
    lower_lip[lower_ids] = True
    upper_lip = np.zeros(n, bool)
    upper_lip[upper_ids] = True

    rel = pos - HEAD_C
    x, y, z = rel[:, 0], rel[:, 1], rel[:, 2]
    ax = np.abs(x)
    facing = _smooth(-0.01, 0.04, z)
    # vertex colours: skin, lips, a hint of blush, darker lids
    col = np.tile(np.array(SKIN[:3]), (n, 1))
    across = np.clip(1.0 - (ax / MOUTH_HW) ** 2, 0.0, 1.0)
    line = MOUTH_Y + 0.0018 * (x / MOUTH_HW) ** 2 * np.exp(-(x / 0.035) ** 4)
    h_up = 0.0062 * across ** 0.45 + 0.0010 * _gauss(ax - 0.0045, 0 * x, 0.003, 1)  # cupid's bow
    h_lo = 0.0082 * across ** 0.55
    lip_shape = np.where(y >= line - 0.0003, _smooth(h_up + 0.0016, h_up - 0.0012, y - line),
                         _smooth(h_lo + 0.0016, h_lo - 0.0012, line - y))
    lip_shape = np.where(lower_lip, 1.0, lip_shape)
    lip = lip_shape * _smooth(MOUTH_HW + 0.003, MOUTH_HW - 0.003, ax) * facing
    col = col * (1 - lip[:, None]) + LIP * lip[:, None]
    blush = 0.35 * _gauss(ax - 0.042, y - NOSE_Y - 0.002, 0.016, 0.012) * facing
    col = col * (1 - blush[:, None]) + np.array([0.80, 0.32, 0.30]) * blush[:, None]
    lid = 0.25 * _gauss(ax - EYE_X, y - EYE_Y - 0.010, 0.016, 0.006) * facing
    col = col * (1 - lid[:, None]) + np.array([0.45, 0.26, 0.24]) * lid[:, None]
    colors = np.c_[col, np.ones(n)]
    part = _Part("head", pos, faces,
                 Material("skin", base_color=(1, 1, 1, 1), roughness=0.55, wrap=0.35),
                 colors=colors)
    info = {"upper_lip": upper_lip, "lower_lip": lower_lip}
    return part, info


def _jaw_weight(pos: np.ndarray, below: np.ndarray) -> np.ndarray:
    """How much each point follows the jaw (1 = chin, 0 = skull); ``below`` = lower-lip side."""
    rel = pos - HEAD_C
    x, y, z = rel[:, 0], rel[:, 1], rel[:, 2]
    line = MOUTH_Y + 0.0018 * (x / MOUTH_HW) ** 2 * np.exp(-(x / 0.035) ** 4)
    k = _smooth(MOUTH_HW * 0.75, MOUTH_HW * 1.35, np.abs(x))  # 0 on the cut, 1 past corners
    d = y - line
    w_below = 1.0 - 0.5 * k * np.exp(-np.maximum(-d, 0) / 0.012)
    w_above = 0.5 * k * np.exp(-np.maximum(d, 0) / 0.010)
    w = np.where(below | (d < 0), w_below, w_above)
    return w * _smooth(-0.055, 0.0, z) * _smooth(0.03, -0.02, y)


def _jaw_delta(pos: np.ndarray, w: np.ndarray, angle: float) -> np.ndarray:
    return (_rotate_about(pos, _rot_x(angle), JAW_HINGE) - pos) * w[:, None]


def _head_morphs(part: _Part, info: dict[str, np.ndarray]) -> None:
    pos = part.pos
    rel = pos - HEAD_C
    x, y, z = rel[:, 0], rel[:, 1], rel[:, 2]
    n = len(pos)
    lower, upper = info["lower_lip"], info["upper_lip"]
    facing = _smooth(0.0, 0.05, z)
    below = lower | (y < MOUTH_Y - 1e-6)
    jw = _jaw_weight(pos, lower)
    part.add("jawOpen", _jaw_delta(pos, jw, 0.34))
    ex = np.zeros((n, 3))
    ex[:, 2] = 0.006
    part.add("jawForward", ex * jw[:, None])
    ex = np.zeros((n, 3))
    ex[:, 0] = 0.007
    part.add("jawLeft", ex * jw[:, None])
    part.add("jawRight", -ex * jw[:, None])
    # mouth region masks
    mouth = _gauss(x, y - MOUTH_Y, 0.030, 0.016) * facing
    lipband_u = np.where(~below, _gauss(x, y - MOUTH_Y - 0.004, 0.026, 0.0065), 0) * facing
    lipband_l = np.where(below, _gauss(x, y - MOUTH_Y + 0.005, 0.024, 0.0075), 0) * facing
    centre = np.exp(-(x / (MOUTH_HW * 0.8)) ** 2)

    def corner(sign: float, s: float = 0.013) -> np.ndarray:
        return _gauss(x - sign * MOUTH_HW, y - MOUTH_Y, s, s * 1.05) * facing

    for side, sg in (("Left", 1.0), ("Right", -1.0)):
        c = corner(sg)
        cw = corner(sg, 0.020)
        d = np.zeros((n, 3))
        c = corner(sg, 0.0105)
        d[:, 0], d[:, 1], d[:, 2] = sg * 0.0030 * c, 0.0062 * c + 0.0012 * cw, -0.0030 * c
        d[:, 1] += 0.003 * _gauss(x - sg * 0.038, y - NOSE_Y + 0.008, 0.014, 0.012) * facing
        part.add(f"mouthSmile{side}", d)
        d = np.zeros((n, 3))
        d[:, 0], d[:, 1], d[:, 2] = sg * 0.0015 * c, -0.0075 * c - 0.0015 * cw, -0.0015 * c
        part.add(f"mouthFrown{side}", d)
        d = np.zeros((n, 3))
        d[:, 0], d[:, 2] = sg * 0.0030 * c, -0.0045 * c
        part.add(f"mouthDimple{side}", d)
        d = np.zeros((n, 3))
        d[:, 0], d[:, 1] = sg * 0.0065 * cw, -0.0030 * cw
        part.add(f"mouthStretch{side}", d)
        half = _smooth(-0.004, 0.012, sg * x)
        d = np.zeros((n, 3))
        d[:, 1] = (0.0018 * lipband_l - 0.0018 * lipband_u) * half
        d[:, 2] = -0.0025 * (lipband_u + lipband_l) * half
        d[:, 0] = sg * 0.0015 * c
        part.add(f"mouthPress{side}", d)
        d = np.zeros((n, 3))
        d[:, 1] = -0.0065 * lipband_l * half
        d[:, 2] = -0.001 * lipband_l * half
        part.add(f"mouthLowerDown{side}", d)
        d = np.zeros((n, 3))
        d[:, 1] = 0.0055 * lipband_u * half
        d[:, 2] = 0.0005 * lipband_u * half
        part.add(f"mouthUpperUp{side}", d)
        # cheeks and nose
        cs = _gauss(x - sg * 0.036, y - NOSE_Y - 0.008, 0.014, 0.012) * facing
        d = np.zeros((n, 3))
        d[:, 1], d[:, 2] = 0.0045 * cs, 0.0015 * cs
        part.add(f"cheekSquint{side}", d)
        ns = _gauss(x - sg * 0.010, y - NOSE_Y - 0.002, 0.007, 0.007) * facing
        d = np.zeros((n, 3))
        d[:, 1], d[:, 2] = 0.0035 * ns, 0.0008 * ns
        part.add(f"noseSneer{side}", d)
        # brows: forehead skin follows the brow
        bw = _gauss(x - sg * 0.030, y - BROW_Y, 0.020, 0.012) * facing
        inner_b = _gauss(x - sg * 0.012, y - BROW_Y, 0.010, 0.011) * facing
        outer_b = _gauss(x - sg * 0.045, y - BROW_Y, 0.013, 0.011) * facing
        d = np.zeros((n, 3))
        d[:, 1] = -0.0050 * bw - 0.0015 * inner_b
        d[:, 0] = -sg * 0.0015 * inner_b
        d[:, 2] = -0.0010 * bw
        part.add(f"browDown{side}", d)
        d = np.zeros((n, 3))
        d[:, 1] = 0.0060 * outer_b
        part.add(f"browOuterUp{side}", d)
        # squint lifts the lower lid skin
        ls = _gauss(x - sg * EYE_X, y - EYE_Y + 0.012, 0.014, 0.007) * facing
        d = np.zeros((n, 3))
        d[:, 1] = 0.0025 * ls
        part.add(f"eyeSquint{side}", d)
    bi = _gauss(np.abs(x) - 0.012, y - BROW_Y - 0.003, 0.012, 0.013) * facing
    d = np.zeros((n, 3))
    d[:, 1] = 0.0060 * bi
    part.add("browInnerUp", d)
    d = np.zeros((n, 3))
    d[:, 0] = 0.0065 * mouth
    part.add("mouthLeft", d)
    part.add("mouthRight", -d)
    # pucker / funnel: lips forward and narrower; funnel also opens the centre
    narrow = -x * 0.30 * mouth
    d = np.zeros((n, 3))
    d[:, 0], d[:, 2] = narrow, 0.0075 * mouth
    part.add("mouthPucker", d)
    d = np.zeros((n, 3))
    d[:, 0], d[:, 2] = narrow * 0.7, 0.0060 * mouth
    d[:, 1] = (0.0030 * lipband_u - 0.0040 * lipband_l) * centre
    part.add("mouthFunnel", d)
    # mouthClose pulls the lower lip back up against the upper one while the jaw is open
    close = -_jaw_delta(pos, jw, 0.34) * (lipband_l * centre)[:, None] * 1.6
    part.add("mouthClose", close)
    d = np.zeros((n, 3))
    d[:, 1], d[:, 2] = 0.0030 * lipband_l, -0.0040 * lipband_l
    part.add("mouthRollLower", d)
    d = np.zeros((n, 3))
    d[:, 1], d[:, 2] = -0.0025 * lipband_u, -0.0040 * lipband_u
    part.add("mouthRollUpper", d)
    chin = np.where(below, _gauss(x, y - MOUTH_Y + 0.018, 0.020, 0.016), 0) * facing
    d = np.zeros((n, 3))
    d[:, 1], d[:, 2] = 0.0045 * np.maximum(lipband_l, chin), 0.0015 * chin
    part.add("mouthShrugLower", d)
    d = np.zeros((n, 3))
    d[:, 1] = 0.0035 * lipband_u
    part.add("mouthShrugUpper", d)
    puff = _gauss(np.abs(x) - 0.042, y - MOUTH_Y - 0.006, 0.016, 0.016) * facing
    d = np.zeros((n, 3))
    d[:, 0], d[:, 2] = np.sign(x) * 0.0085 * puff, 0.0035 * puff
    part.add("cheekPuff", d)
    # head skin is on the head joint except the under-jaw skin near the neck
    part.head_w = np.ones(n)
    del upper


# ----------------------------------------------------------------------------- eyes
def _sphere(center: np.ndarray, r: float, rows: int, cols: int,
            axis_z: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UV sphere with its poles on +Z/-Z; returns (pos, faces, local unit dirs)."""
    th = np.linspace(0.0, math.pi, rows)[1:-1]
    ph = np.linspace(0.0, 2 * math.pi, cols, endpoint=False)
    TH, PH = np.meshgrid(th, ph, indexing="ij")
    d = np.stack([np.sin(TH) * np.cos(PH), np.sin(TH) * np.sin(PH), np.cos(TH)], -1)
    d = d.reshape(-1, 3)
    if not axis_z:
        d = d[:, [0, 2, 1]]
    n_ring = len(th)
    faces = [_grid_faces(n_ring, cols, wrap=True, offset=0)]
    poles = np.array([[0, 0, 1.0], [0, 0, -1.0]]) if axis_z else np.array([[0, 1.0, 0],
                                                                           [0, -1.0, 0]])
    dirs = np.vstack([d, poles])
    top, bot = len(d), len(d) + 1
    j = np.arange(cols)
    faces.append(np.stack([np.full(cols, top), j, (j + 1) % cols], -1))
    last = (n_ring - 1) * cols
    faces.append(np.stack([np.full(cols, bot), last + (j + 1) % cols, last + j], -1))
    faces = np.vstack(faces).astype(np.int64)
    pos = center + r * dirs
    return pos, _orient(pos, faces, center), dirs


def _eye_texture(size: int = 256) -> np.ndarray:
    """Planar front-projected eye: sclera, a brown-green iris with fibres, black pupil."""
    v, u = np.mgrid[0:size, 0:size]
    px = (u + 0.5) / size * 2 - 1
    py = (v + 0.5) / size * 2 - 1
    r = np.hypot(px, py)
    ang = np.arctan2(py, px)
    rng = np.random.default_rng(7)
    fib = np.zeros_like(r)
    for k in (23, 41, 67, 97):
        fib += np.sin(ang * k + rng.uniform(0, 6.28)) * rng.uniform(0.5, 1.0)
    fib = fib / 4.0
    iris_r, pupil_r = 0.50, 0.205
    sclera = np.stack([0.93 - 0.05 * r ** 2, 0.90 - 0.10 * r ** 2, 0.88 - 0.10 * r ** 2], -1)
    t = np.clip(r / iris_r, 0, 1)
    inner = np.array([0.55, 0.38, 0.16])
    outer = np.array([0.20, 0.26, 0.18])
    iris = inner * (1 - t[..., None]) + outer * t[..., None]
    iris = iris * (0.85 + 0.25 * fib[..., None])
    iris *= (1.0 - 0.55 * _smooth(0.75, 1.0, t))[..., None]  # dark limbal ring
    col = np.where((r < iris_r)[..., None], iris, sclera)
    edge = _smooth(iris_r - 0.02, iris_r + 0.01, r)
    col = iris * (1 - edge[..., None]) + sclera * edge[..., None]
    pup = _smooth(pupil_r + 0.012, pupil_r - 0.008, r)
    col = col * (1 - pup[..., None]) + np.array([0.02, 0.02, 0.025]) * pup[..., None]
    srgb = np.clip(col, 0, 1) ** (1 / 2.2)
    return np.dstack([(srgb * 255).astype(np.uint8), np.full((size, size), 255, np.uint8)])


def _eye_center(sign: float) -> np.ndarray:
    return HEAD_C + np.array([sign * EYE_X, EYE_Y, 0.0655])


def _build_eyes() -> list[_Part]:
    tex = _eye_texture()
    mat = Material("eye", texture=tex, roughness=0.12, base_color=(1, 1, 1, 1))
    parts = []
    for side, sg in (("Left", 1.0), ("Right", -1.0)):
        c = _eye_center(sg)
        pos, faces, dirs = _sphere(c, EYE_R, 22, 28)
        # look slightly outward like real eyes (parallel eyes look cross-eyed on a bust)
        uvs = np.c_[0.5 + dirs[:, 0] * 0.5, 0.5 - dirs[:, 1] * 0.5]
        p = _Part(f"eye{side}", pos, faces, mat, uvs=uvs)
        yaw, pitch = math.radians(24.0), math.radians(18.0)
        out_sign = sg  # out for the left eye turns toward +X
        for name, r in ((f"eyeLookOut{side}", _rot_y(out_sign * yaw)),
                        (f"eyeLookIn{side}", _rot_y(-out_sign * yaw)),
                        (f"eyeLookUp{side}", _rot_x(-pitch)),
                        (f"eyeLookDown{side}", _rot_x(pitch))):
            p.add(name, _rotate_about(pos, r, c) - pos)
        parts.append(p)
    return parts


def _lid_angles(psi: np.ndarray, upper: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge polar angle (from the lid's pole) open, closed and wide, per azimuth ``psi``."""
    corner = (psi / 1.75) ** 2
    if upper:
        open_ = np.radians(74.0) + np.radians(22.0) * corner
        closed = np.radians(110.0) + np.radians(6.0) * corner
        wide = open_ - np.radians(12.0)
    else:
        open_ = np.radians(60.0) + np.radians(32.0) * corner
        closed = np.radians(76.0) + np.radians(10.0) * corner
        wide = open_ - np.radians(6.0)
    return open_, closed, wide


def _build_lids() -> list[_Part]:
    skin = Material("lid", base_color=(1, 1, 1, 1), roughness=0.55, wrap=0.35,
                    double_sided=True)
    lash_mat = Material("lash", base_color=(0.02, 0.015, 0.012, 1.0), roughness=0.6,
                        double_sided=True)
    parts: list[_Part] = []
    n_rows, n_cols = 9, 25
    psi = np.linspace(-1.75, 1.75, n_cols)
    for side, sg in (("Left", 1.0), ("Right", -1.0)):
        c = _eye_center(sg)
        for upper in (True, False):
            o, cl, wi = _lid_angles(psi, upper)
            t = np.linspace(0.0, 1.0, n_rows)[:, None]
            pole = np.array([0, 1.0, 0]) if upper else np.array([0, -1.0, 0])

            def shell(edge: np.ndarray, t=t, upper=upper, c=c) -> np.ndarray:
                th = edge[None, :] * t  # rows from the pole to the edge
                ps = np.broadcast_to(psi[None, :], th.shape)
                r = EYE_R * np.where(t > 0.99, 1.045, 1.10)  # last row tucks onto the eye
                d = np.stack([np.sin(th) * np.sin(ps), np.cos(th), np.sin(th) * np.cos(ps)], -1)
                if not upper:
                    d[..., 1] *= -1
                return (c + r[..., None] * d).reshape(-1, 3)

            # two rows at the edge: the lid surface and a rim curling onto the eyeball
            tt = np.r_[np.linspace(0.0, 1.0, n_rows - 1), 1.0]
            t = tt[:, None]
            pos_o = shell(o, t)
            pos_c = shell(cl, t)
            pos_w = shell(wi, t)
            faces = _orient(pos_o, _grid_faces(n_rows, n_cols, wrap=False), c + 0 * pole)
            rim = np.zeros((n_rows, n_cols))
            rim[-2:] = [[0.55], [1.0]]
            skin_col = np.array(SKIN[:3]) * (0.92 if upper else 1.0)
            col = skin_col * (1 - rim.reshape(-1, 1)) + np.array([0.06, 0.04, 0.035]) * \
                rim.reshape(-1, 1) if upper else np.tile(skin_col, (len(pos_o), 1))
            if not upper:
                col = col * (1 - 0.5 * rim.reshape(-1, 1)) + np.array([0.5, 0.3, 0.28]) * \
                    0.5 * rim.reshape(-1, 1)
            p = _Part(f"lid{'Upper' if upper else 'Lower'}{side}", pos_o, faces, skin,
                      colors=np.c_[col, np.ones(len(pos_o))])
            if upper:
                p.add(f"eyeBlink{side}", pos_c - pos_o)
                p.add(f"eyeWide{side}", pos_w - pos_o)
                sq = shell(o + np.radians(9.0), t)
                p.add(f"eyeSquint{side}", sq - pos_o)
            else:
                p.add(f"eyeSquint{side}", shell(o + np.radians(16.0), t) - pos_o)
                p.add(f"eyeBlink{side}", shell(o + np.radians(8.0), t) - pos_o)
            parts.append(p)
            if upper:
                parts.append(_lashes(c, psi, o, cl, wi, side, sg, lash_mat))
    return parts


def _lashes(c: np.ndarray, psi: np.ndarray, o: np.ndarray, cl: np.ndarray, wi: np.ndarray,
            side: str, sg: float, mat: Material) -> _Part:
    """A dark ribbon along the upper lid edge that flares out and up at the outer corner."""

    def ribbon(edge: np.ndarray) -> np.ndarray:
        rows = []
        for k, (rr, lift) in enumerate(((1.07, 0.0), (1.17, 1.0))):
            th = edge - np.radians(2.0) - lift * np.radians(9.0)
            # outer corner (psi toward the temple) flicks further out
            outer = np.clip(sg * psi / 1.75, 0, 1) if sg > 0 else np.clip(-psi / 1.75, 0, 1)
            r = EYE_R * (rr + k * 0.12 * outer)
            d = np.stack([np.sin(th) * np.sin(psi), np.cos(th), np.sin(th) * np.cos(psi)], -1)
            rows.append(c + r[:, None] * d)
        return np.vstack(rows)

    keep = np.abs(psi) < 1.45
    ps, oo, cc, ww = psi[keep], o[keep], cl[keep], wi[keep]
    psi = ps
    pos_o = ribbon(oo)
    faces = _grid_faces(2, len(ps), wrap=False)
    p = _Part(f"lash{side}", pos_o, faces, mat)
    p.add(f"eyeBlink{side}", ribbon(cc) - pos_o)
    p.add(f"eyeWide{side}", ribbon(ww) - pos_o)
    p.add(f"eyeSquint{side}", ribbon(oo + np.radians(9.0)) - pos_o)
    return p


# ------------------------------------------------------------------- brows and hair
def _surface_z(head_pos: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Z of the (front) head surface under each (x, y), by inverse-distance over vertices."""
    front = head_pos[head_pos[:, 2] > HEAD_C[2] + 0.02]
    d = np.linalg.norm(front[None, :, :2] - xy[:, None, :], axis=2)
    idx = np.argsort(d, axis=1)[:, :4]
    w = 1.0 / (np.take_along_axis(d, idx, 1) + 1e-5)
    return (front[idx, 2] * w).sum(1) / w.sum(1)


def _build_brows(head_pos: np.ndarray) -> list[_Part]:
    mat = Material("brow", base_color=(0.05, 0.032, 0.022, 1.0), roughness=0.8)
    parts = []
    n = 16
    s = np.linspace(0.0, 1.0, n)
    for side, sg in (("Left", 1.0), ("Right", -1.0)):
        x = sg * (0.011 + 0.042 * s)
        y = HEAD_C[1] + BROW_Y + 0.004 * np.sin(np.pi * np.clip(s * 1.15, 0, 1)) - 0.005 * s ** 3
        half = 0.0032 * (1.0 - 0.55 * s) + 0.0006
        xy_top = np.c_[x, y + half]
        xy_bot = np.c_[x, y - half]
        xy = np.vstack([xy_top, xy_bot])
        z = _surface_z(head_pos, xy - HEAD_C[:2] * 0 + 0) + 0.0012
        pos = np.c_[xy, z]
        faces = _grid_faces(2, n, wrap=False)
        mid = HEAD_C + np.array([0, 0, 0.0])
        faces = _orient(pos, faces, mid)
        p = _Part(f"brow{side}", pos, faces, mat)
        rel = pos - HEAD_C
        inner = np.exp(-((rel[:, 0] - sg * 0.012) / 0.010) ** 2)
        outer = np.exp(-((rel[:, 0] - sg * 0.045) / 0.013) ** 2)
        d = np.zeros_like(pos)
        d[:, 1] = -0.0050 - 0.0015 * inner
        d[:, 0] = -sg * 0.0015 * inner
        d[:, 2] = -0.0010
        p.add(f"browDown{side}", d)
        d = np.zeros_like(pos)
        d[:, 1] = 0.0060 * outer
        p.add(f"browOuterUp{side}", d)
        d = np.zeros_like(pos)
        d[:, 1] = 0.0060 * np.exp(-((np.abs(rel[:, 0]) - 0.012) / 0.012) ** 2)
        p.add("browInnerUp", d)
        parts.append(p)
    return parts


def _hair_texture(w: int = 512, h: int = 256) -> np.ndarray:
    """Strand streaks along v, lighter at the tips; sRGB RGBA."""
    rng = np.random.default_rng(11)
    u = np.linspace(0, 1, w, endpoint=False)
    v = np.linspace(0, 1, h)[:, None]
    s = np.zeros((h, w))
    for k in (37, 61, 97, 151, 233, 389):
        phase = rng.uniform(0, 2 * np.pi)
        wob = 0.004 * np.sin(v * 9 + rng.uniform(0, 6))
        s += np.sin(2 * np.pi * k * (u[None, :] + wob) + phase) * rng.uniform(0.4, 1.0)
    s = s / 3.2
    base = np.array(HAIR[:3])
    col = base * (1.0 + 0.45 * s[..., None]) * (1.0 + 0.35 * v[..., None])
    srgb = np.clip(col, 0, 1) ** (1 / 2.2)
    return np.dstack([(srgb * 255).astype(np.uint8), np.full((h, w), 255, np.uint8)])


def _build_hair() -> _Part:
    rows, cols = 30, 92
    ph = np.linspace(-math.pi, math.pi, cols, endpoint=False)
    back = np.clip(-np.cos(ph), 0, 1)
    frontness = np.clip(np.cos(ph), 0, 1)
    # edge: a swept fringe at the front (lower on the avatar's right), a bob at the sides
    fringe = np.radians(68.0) + np.radians(10.0) * np.tanh(-ph * 3.0) * frontness
    edge = fringe * frontness ** 2 + np.radians(112.0) * (1 - frontness ** 2)
    edge = edge + np.radians(8.0) * back
    t = np.linspace(0.0, 1.0, rows)[:, None] ** 0.9
    TH = 0.06 + (edge[None, :] - 0.06) * t
    PH = np.broadcast_to(ph[None, :], TH.shape)
    skin = _head_shape(TH, PH) - HEAD_C
    nrm = skin / np.linalg.norm(skin, axis=-1, keepdims=True)
    # volume: thick on top, thinning to tuck into the skin at the front hairline
    thick = 0.010 + 0.010 * np.cos(TH) ** 2
    tuck = _smooth(0.78, 1.0, t) * frontness[None, :] ** 3
    thick = thick * (1 - tuck) - 0.002 * tuck
    p = skin + nrm * thick[..., None]
    # the bob hangs: below the temples hair keeps its width instead of following the jaw
    below = _smooth(0.0, -0.06, p[..., 1])
    wmax = (AX + 0.016) * np.abs(np.sin(PH))
    hang_x = np.sign(p[..., 0]) * np.maximum(np.abs(p[..., 0]), wmax * (1 - frontness[None] ** 2))
    p[..., 0] = p[..., 0] * (1 - below) + hang_x * below
    # a soft inward curl at the bob's ends
    tip = _smooth(0.85, 1.0, t) * (1 - frontness[None, :] ** 2)
    p[..., 0] *= 1 - 0.06 * tip
    p[..., 2] = p[..., 2] * (1 - 0.05 * tip)
    pos = p.reshape(-1, 3) + HEAD_C
    pos = np.vstack([HEAD_C + np.array([0, AY + 0.02, -0.004]), pos])
    faces = _grid_faces(rows, cols, wrap=True, offset=1)
    fan = np.stack([np.zeros(cols, np.int64), 1 + (np.arange(cols) + 1) % cols,
                    1 + np.arange(cols)], -1)
    faces = np.vstack([fan, faces])
    faces = _orient(pos, faces, HEAD_C + np.array([0, -0.02, 0]))
    uv = np.c_[(ph[None, :] / (2 * math.pi) * 3 + 0 * t).reshape(-1), np.broadcast_to(
        t, TH.shape).reshape(-1)]
    uv = np.vstack([[0.0, 0.0], uv])
    mat = Material("hair", texture=_hair_texture(), roughness=0.38, double_sided=True,
                   base_color=(1, 1, 1, 1))
    return _Part("hair", pos, faces, mat, uvs=uv)


def _build_ears() -> list[_Part]:
    parts = []
    mat = Material("ear", base_color=(1, 1, 1, 1), roughness=0.55, wrap=0.35)
    for side, sg in (("Left", 1.0), ("Right", -1.0)):
        c = HEAD_C + np.array([sg * (AX - 0.004), -0.012, -0.006])
        pos, faces, _ = _sphere(np.zeros(3), 1.0, 12, 16, axis_z=False)
        pos = pos * np.array([0.009, 0.028, 0.017])
        pos[:, 0] += sg * 0.006 * (pos[:, 2] / 0.017 + 1) ** 2 * 0.25
        pos = pos @ _rot_y(sg * 0.25).T + c
        faces = _orient(pos, faces, c)
        col = np.tile(np.r_[np.array(SKIN[:3]) * np.array([1.0, 0.92, 0.9]), 1.0], (len(pos), 1))
        parts.append(_Part(f"ear{side}", pos, faces, mat, colors=col))
    return parts


# -------------------------------------------------------------------- mouth inside
def _build_mouth(head: _Part, info: dict[str, np.ndarray]) -> list[_Part]:
    lip_front = head.pos[info["upper_lip"]][:, 2].max()
    zc = lip_front - 0.030
    yc = HEAD_C[1] + MOUTH_Y - 0.002
    parts = []
    # the mouth cavity: a dark cup open toward the lips, drawn from both sides
    zc = lip_front - 0.024
    pos, faces, dirs = _sphere(np.array([0, yc, zc]), 1.0, 18, 24)
    keep = dirs[:, 2] < 0.40
    pos = np.array([0, yc, zc]) + dirs * np.array([0.020, 0.0165, 0.022])
    idx = np.nonzero(keep)[0]
    remap = -np.ones(len(pos), np.int64)
    remap[idx] = np.arange(len(idx))
    faces = faces[np.all(keep[faces], axis=1)]
    pos, faces = pos[idx], remap[faces]
    depth = np.clip(-(pos[:, 2] - zc) / 0.030, 0, 1)
    col = np.array([0.16, 0.03, 0.035]) * (1 - 0.8 * depth[:, None])
    bag = _Part("mouthInside", pos, faces,
                Material("mouth", base_color=(1, 1, 1, 1), roughness=0.5, double_sided=True),
                colors=np.c_[col, np.ones(len(pos))])
    bag_w = _smooth(yc + 0.004, yc - 0.006, pos[:, 1])
    bag.add("jawOpen", _jaw_delta(pos, bag_w, 0.34))
    parts.append(bag)
    # a dark backdrop behind the cavity so nothing inside the head shows through the mouth
    gy, gx = np.mgrid[0:7, 0:9]
    bx = (gx / 8.0 - 0.5) * 0.050
    by = yc + 0.014 - gy / 6.0 * 0.034
    bpos = np.c_[bx.reshape(-1), by.reshape(-1),
                 lip_front - 0.036 - 0.008 * (bx.reshape(-1) / 0.025) ** 2]
    bfaces = _grid_faces(7, 9, wrap=False)
    back = _Part("mouthBack", bpos, bfaces,
                 Material("mouthBack", base_color=(0.02, 0.004, 0.005, 1.0), roughness=0.9,
                          double_sided=True))
    back.add("jawOpen", _jaw_delta(bpos, _smooth(yc + 0.004, yc - 0.012, bpos[:, 1]), 0.34))
    parts.append(back)
    teeth_mat = Material("teeth", base_color=(0.86, 0.84, 0.79, 1.0), roughness=0.3)
    for upper in (True, False):
        n = 20
        a = np.linspace(-0.95, 0.95, n)
        rad = 0.0185
        zf = lip_front - 0.0100 - rad
        cx, cz = rad * np.sin(a) * 1.05, zf + rad * np.cos(a)
        y0, y1 = ((yc + 0.0035, yc + 0.0110) if upper else (yc - 0.0082, yc - 0.0035))
        thick = 0.0035
        ring = []
        for yy, inset in ((y1, thick), (y1, 0.0), (y0, 0.0), (y0, thick)):
            ring.append(np.c_[cx * (1 - inset / rad), np.full(n, yy), zf + (cz - zf) *
                              (1 - inset / rad)])
        pos = np.vstack(ring)
        faces = _grid_faces(4, n, wrap=False)
        faces = _orient(pos, faces, np.array([0, (y0 + y1) / 2, zf - 0.003]))
        # subtle gaps between teeth through vertex colour
        shade = 0.88 + 0.12 * np.abs(np.cos(a * 5.5))
        col = np.tile(shade, 4)[:, None] * np.ones(3)
        p = _Part("teethUpper" if upper else "teethLower", pos, faces, teeth_mat,
                  colors=np.c_[col, np.ones(len(pos))])
        if not upper:
            p.add("jawOpen", _jaw_delta(pos, np.ones(len(pos)), 0.34))
            for name, dx in (("jawLeft", 0.007), ("jawRight", -0.007)):
                d = np.zeros_like(pos)
                d[:, 0] = dx
                p.add(name, d)
            d = np.zeros_like(pos)
            d[:, 2] = 0.006
            p.add("jawForward", d)
        parts.append(p)
    # tongue: a flattened ellipsoid resting on the floor of the mouth
    tc = np.array([0, yc - 0.0095, lip_front - 0.031])
    pos, faces, dirs = _sphere(tc, 1.0, 12, 18)
    pos = tc + dirs * np.array([0.0150, 0.0050, 0.017])
    faces = _orient(pos, faces, tc)
    col = np.tile([0.55, 0.16, 0.16, 1.0], (len(pos), 1))
    tongue = _Part("tongue", pos, faces,
                   Material("tongue", base_color=(1, 1, 1, 1), roughness=0.35, wrap=0.3),
                   colors=col)
    tongue.add("jawOpen", _jaw_delta(pos, np.ones(len(pos)), 0.34))
    front = _smooth(-0.02, 0.02, pos[:, 2] - tc[2])
    d = np.zeros_like(pos)
    d[:, 2] = 0.026 + 0.010 * front
    d[:, 1] = -0.006 * front - 0.002
    tongue.add("tongueOut", d)
    parts.append(tongue)
    return parts


# ------------------------------------------------------------------ neck and torso
def _torso_profile(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Half width, half depth, z centre and superellipse exponent at height ``y``."""
    neck_a, neck_b = 0.050, 0.052
    # trapezius: gentle near the neck, steeper toward the shoulder tip (y = y0 - k dx^1.6)
    drop = np.clip(0.028 - y, 0.0, None)
    a = neck_a + (drop / 1.25) ** (1 / 1.6)
    a = np.minimum(a, 0.160 + 0.024 * np.sqrt(np.clip((0.028 - y) / 0.11, 0, 1)))
    # deltoid: the tip rounds over into the upper arm
    a = a + 0.012 * _smooth(-0.03, -0.10, y)
    a = a - 0.010 * _smooth(-0.14, -0.40, y)
    # the neck widens a little as it meets the trapezius
    a = a + 0.010 * _smooth(0.07, 0.02, y) * _smooth(-0.02, 0.02, y)
    b = neck_b + (0.105 - neck_b) * _smooth(0.015, -0.11, y)
    zc = -0.012 + 0.004 * _smooth(0.0, -0.2, y) - 0.024 * _smooth(0.055, 0.115, y)
    b = b - 0.008 * _smooth(0.055, 0.115, y)  # tucks under the jaw, clear of the mouth
    e = 2.0 + 1.2 * _smooth(-0.01, -0.12, y)
    return a, b, zc, e


def _build_torso() -> tuple[_Part, _Part]:
    cols = 84
    ph = np.linspace(-math.pi, math.pi, cols, endpoint=False)
    # rows: from inside the head down below the frame; the neckline row bends per azimuth
    t_neck = np.r_[np.linspace(0.128, 0.04, 10), np.linspace(0.03, -0.012, 4)]
    neckline = -0.004 - 0.034 * np.clip(np.cos(ph), 0, 1) ** 1.5 + 0.010 * np.clip(
        -np.cos(ph), 0, 1)
    t_top = np.r_[np.linspace(0.0, -0.12, 12), np.linspace(-0.15, -0.42, 8)]

    def ring(y: np.ndarray) -> np.ndarray:
        a, b, zc, e = _torso_profile(y)
        c, s = np.cos(ph), np.sin(ph)
        x = a * np.sign(s) * np.abs(s) ** (2 / e)
        z = zc + b * np.sign(c) * np.abs(c) ** (2 / e)
        # chest is fuller in front; the back is flatter
        z = z + np.where(c > 0, 0.012 * c ** 2 * _smooth(-0.04, -0.12, y), 0)
        return np.stack([x, y, z], -1)

    def rows_from(ys: np.ndarray, anchor: float) -> np.ndarray:
        # each row blends from a flat height to following the neckline near ``anchor``
        out = []
        for y0 in ys:
            k = np.exp(-((y0 - anchor) / 0.035) ** 2)
            out.append(ring(y0 + (neckline - (-0.012)) * k))
        return np.array(out)

    neck_rows = rows_from(t_neck[:-1], -0.012)
    line = ring(neckline)[None]
    top_rows = rows_from(t_top[1:] - 0.004, -0.012)
    neck_pos = np.vstack([neck_rows.reshape(-1, 3), line.reshape(-1, 3)])
    n_neck_rows = len(neck_rows) + 1
    neck_faces = _grid_faces(n_neck_rows, cols, wrap=True)
    neck_faces = _orient(neck_pos, neck_faces, np.array([0, 0, -0.012]))
    neck_faces = _orient_axis(neck_pos, neck_faces)
    neck = _Part("neck", neck_pos, neck_faces,
                 Material("skin", base_color=(1, 1, 1, 1), roughness=0.55, wrap=0.35),
                 colors=np.tile(np.r_[SKIN[:3], 1.0], (len(neck_pos), 1)))
    neck.head_w = _smooth(0.085, 0.135, neck_pos[:, 1])
    # the top: starts just outside the neckline with a rolled collar, then the body
    collar = ring(neckline + 0.0015)[None]
    rim = ring(neckline - 0.004)[None]
    top_all = np.vstack([collar, rim, top_rows])
    n_top_rows = len(top_all)
    tpos = top_all.reshape(-1, 3)
    axis_pt = np.c_[np.zeros(len(tpos)), tpos[:, 1], np.full(len(tpos), -0.012)]
    out_dir = tpos - axis_pt
    out_dir /= np.linalg.norm(out_dir, axis=1, keepdims=True)
    off = np.full(len(tpos), 0.003)
    off[cols:2 * cols] = 0.0065  # collar rib stands proud
    off[:cols] = 0.0005
    tpos = tpos + out_dir * off[:, None]
    tfaces = _grid_faces(n_top_rows, cols, wrap=True)
    tfaces = _orient_axis(tpos, tfaces)
    shade = np.ones(len(tpos))
    shade[:2 * cols] = 0.8
    col = np.c_[np.outer(shade, TOP[:3]), np.ones(len(tpos))]
    top = _Part("top", tpos, tfaces, Material("top", base_color=(1, 1, 1, 1), roughness=0.85,
                                             wrap=0.1), colors=col)
    top.head_w = np.zeros(len(tpos))
    return neck, top


def _orient_axis(pos: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Orient a lofted tube outward from its vertical axis (x=0, z=-0.012)."""
    c = pos[faces].mean(axis=1)
    axis = np.c_[np.zeros(len(c)), c[:, 1], np.full(len(c), -0.012)]
    p0, p1, p2 = pos[faces[:, 0]], pos[faces[:, 1]], pos[faces[:, 2]]
    n = np.cross(p1 - p0, p2 - p0)
    flip = np.einsum("ij,ij->i", n, c - axis) < 0
    out = faces.copy()
    out[flip] = out[flip][:, ::-1]
    return out


# ---------------------------------------------------------------------------- build
def _skeleton() -> Skeleton:
    pts = np.array([[0, -0.30, -0.01], [0, -0.12, -0.01], [0, -0.005, -0.012],
                    [0, 0.118, -0.006]], np.float32)
    parents = np.array([-1, 0, 1, 2], np.int32)
    rest_local = np.tile(np.eye(4, dtype=np.float32), (4, 1, 1))
    inv_bind = np.tile(np.eye(4, dtype=np.float32), (4, 1, 1))
    for j in range(4):
        p = parents[j]
        rest_local[j, :3, 3] = pts[j] - (pts[p] if p >= 0 else 0)
        inv_bind[j, :3, 3] = -pts[j]
    return Skeleton(names=["root", "spine", "neck", "head"], parents=parents,
                    rest_local=rest_local, inverse_bind=inv_bind,
                    roles={"root": 0, "spine": 1, "neck": 2, "head": 3})


def landmarks() -> dict[str, np.ndarray]:
    """Rest positions (metres) of named features, for framing checks and tests.

    Keys: ``eye_left``/``eye_right`` (eyeball centres; left is +X), ``mouth`` (lip line
    centre), ``nose_tip``, ``chin``, ``head_top``, ``shoulder_left``/``shoulder_right``,
    ``chest``.
    """
    lip_z = _head_shape(np.array([math.acos(MOUTH_Y / AY)]), np.array([0.0]))[0, 2]
    nose = _head_shape(np.array([math.acos(NOSE_Y / AY)]), np.array([0.0]))[0]
    return {
        "eye_left": _eye_center(1.0) + np.array([0, 0, EYE_R]),
        "eye_right": _eye_center(-1.0) + np.array([0, 0, EYE_R]),
        "mouth": np.array([0.0, HEAD_C[1] + MOUTH_Y, lip_z]),
        "nose_tip": nose,
        "chin": HEAD_C + np.array([0.0, -0.100, 0.070]),
        "head_top": HEAD_C + np.array([0.0, AY + 0.02, 0.0]),
        "shoulder_left": np.array([0.17, -0.075, 0.0]),
        "shoulder_right": np.array([-0.17, -0.075, 0.0]),
        "chest": np.array([0.0, -0.16, 0.10]),
    }


def build_procedural_avatar() -> Avatar:
    """Build the stylized bust (about 14k vertices), deterministically.

    Returns:
        An :class:`~vhuman.avatar.model.Avatar` with all 52 ARKit shapes, a root/spine/
        neck/head skeleton and head-and-shoulders framing.
    """
    head, info = _build_head()
    _head_morphs(head, info)
    parts: list[_Part] = [head]
    parts += _build_mouth(head, info)
    parts += _build_eyes()
    parts += _build_lids()
    parts += _build_brows(head.pos)
    parts.append(_build_hair())
    neck, top = _build_torso()
    parts += [neck, top]
    mesh_parts = [p.finish() for p in parts]
    lm = landmarks()
    center = (lm["eye_left"] + lm["eye_right"]) / 2 * 0.6 + lm["mouth"] * 0.4
    return Avatar(
        name="vhuman-procedural", parts=mesh_parts, skeleton=_skeleton(),
        head_pivot=np.array([0.0, 0.118, -0.006], np.float32),
        frame_center=center.astype(np.float32), frame_height=0.56,
        mapped={n: [n] for n in ARKIT_52}, unmapped=[], source="procedural")
