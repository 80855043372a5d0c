"""Procedural pulled-back hair with a low bun, grown over the scalp of the base mesh.

The MakeHuman hair helper is unusable (flat ribbons that cover the face), so the hair is
grown here. Strands are laid out as a grid in spherical coordinates around an axis from
the skull's centre to the bun: every grid column is one lock running from the hairline
to the bun, so strand-like shading (colour streaks, small ridges, per-lock normal tilt
for broken highlights) follows the grid for free. The shell's radius is the head's own
radius in that direction plus a volume profile that tapers to nothing at the hairline,
where the colour also thins toward the skin, so the edge reads soft rather than cut.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from vhuman.avatar.makehuman import geometry
from vhuman.avatar.makehuman.paint import smoothstep, srgb, value_noise
from vhuman.avatar.model import Material, MeshPart

COLUMNS = 240
ROWS = 44
HAIR = "#1e130d"
HAIR_LIGHT = "#4f3524"


def _frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = axis / np.linalg.norm(axis)
    ref = np.array([1.0, 0.0, 0.0])
    u = np.cross(a, ref)
    u /= np.linalg.norm(u)
    v = np.cross(a, u)
    return a, u, v


def _dirs(a, u, v, phi, psi):
    """Unit directions at polar angle psi from axis a, azimuth phi around it."""
    s = np.sin(psi)[..., None]
    return (np.cos(psi)[..., None] * a + s * (np.cos(phi)[..., None] * u
                                             + np.sin(phi)[..., None] * v))


def hairline_height(theta: np.ndarray, eye_y: float) -> np.ndarray:
    """Height of the hairline at azimuth theta (0 = front, ±pi = back) around +Y."""
    knots = np.radians([0, 30, 55, 75, 88, 100, 118, 140, 180])
    rise = np.array([0.060, 0.057, 0.049, 0.036, 0.018, 0.024, 0.0, -0.045, -0.062])
    return eye_y + np.interp(np.abs(theta), knots, rise)


def scalp_center(body: np.ndarray, eye_y: float) -> np.ndarray:
    """Centre of the skull the hair is grown around (from the body's vertices)."""
    cranium = body[body[:, 1] > eye_y + 0.02]
    return np.array([0.0, eye_y + 0.012, cranium[:, 2].mean() - 0.004])


def hair_below(p: np.ndarray, center: np.ndarray, eye_y: float) -> np.ndarray:
    """Metres each point lies below the hairline (negative: under the hair)."""
    theta = np.arctan2(p[:, 0] - center[0], p[:, 2] - center[2])
    return hairline_height(theta, eye_y) - p[:, 1]


def build_hair(src_pos: np.ndarray, body_tris: np.ndarray, head_joint: int, *,
               ears: np.ndarray | None, eye_y: float) -> list[MeshPart]:
    """Grow the hair shell and bun.

    Args:
        src_pos: float[N, 3] morphed source vertices (metres).
        body_tris: int[T, 3] body triangles of the source mesh.
        head_joint: joint index the hair is bound to.
        ears: bool[N] source vertices to ignore when measuring the skull (ears).
        eye_y: eye height (metres).
    """
    body = np.unique(body_tris)
    p = src_pos[body]
    if ears is not None:
        p = p[~ears[body]]
    p = p[p[:, 1] > eye_y - 0.13]
    center = scalp_center(src_pos[body], eye_y)
    axis = np.array([0.0, 0.25, -1.0])
    a, u, v = _frame(axis)

    # skull radius on a (phi, psi) grid: max distance of head vertices per bin
    nphi, npsi, psi_max = 144, 96, np.radians(175)
    d = p - center
    dist = np.linalg.norm(d, axis=1)
    dn = d / dist[:, None]
    psi = np.arccos(np.clip(dn @ a, -1, 1))
    phi = np.arctan2(dn @ v, dn @ u) % (2 * np.pi)
    bi = np.minimum((phi / (2 * np.pi) * nphi).astype(int), nphi - 1)
    bj = np.minimum((psi / psi_max * npsi).astype(int), npsi - 1)
    grid = np.zeros((nphi, npsi))
    np.maximum.at(grid, (bi, bj), dist)
    empty = grid == 0
    idx = ndimage.distance_transform_edt(empty, return_distances=False, return_indices=True)
    grid = grid[idx[0], idx[1]]
    grid = ndimage.gaussian_filter(grid, (1.2, 1.0), mode=("wrap", "nearest"))

    def radius(phi_q, psi_q):
        x = phi_q / (2 * np.pi) * nphi - 0.5
        y = psi_q / psi_max * npsi - 0.5
        return ndimage.map_coordinates(grid, [x % nphi, np.clip(y, 0, npsi - 1)], order=1,
                                       mode="grid-wrap")

    # columns end where they leave the hair region (below the hairline)
    cols = np.arange(COLUMNS) * (2 * np.pi / COLUMNS)
    fine = np.linspace(0.0, psi_max, 400)
    PH, PS = np.meshgrid(cols, fine, indexing="ij")
    pts = center + _dirs(a, u, v, PH, PS) * radius(PH.ravel(), PS.ravel()).reshape(PH.shape)[
        ..., None]
    theta = np.arctan2(pts[..., 0] - center[0], pts[..., 2] - center[2])
    inside = pts[..., 1] > hairline_height(theta, eye_y)
    first_out = np.where(~inside, np.arange(len(fine))[None], len(fine) - 1).min(1)
    psi_end = fine[np.maximum(first_out, 1)]
    psi_end = ndimage.gaussian_filter1d(psi_end, 1.5, mode="wrap")

    # grid (COLUMNS x ROWS); rows 0 at the bun, ROWS-1 on the hairline
    t = np.linspace(0, 1, ROWS)
    PS = psi_end[:, None] * t[None]
    PH = np.repeat(cols[:, None], ROWS, 1)
    dirs = _dirs(a, u, v, PH, PS)
    r = radius(PH.ravel(), PS.ravel()).reshape(PH.shape)
    lock = value_noise(np.arange(COLUMNS) * 0.6, 21) * 0.6 + value_noise(
        np.arange(COLUMNS) * 0.15, 22) * 0.4
    up = np.clip(dirs[..., 1], 0, 1)
    front = np.clip(dirs[..., 2], 0, 1)
    side = np.abs(dirs[..., 0])
    volume = 0.007 + 0.006 * up + 0.005 * up * front + 0.003 * side * (1 - up)
    taper = 1 - smoothstep(0.78, 1.0, t)[None]
    thick = volume * (0.15 + 0.85 * taper) + 0.0012 * lock[:, None] * taper
    thick = np.maximum(thick, 0.0012)
    # a centre parting over the front of the crown: the hair dips toward it from both
    # sides and a thread of scalp shows in the line
    base_pt = center + dirs * r[..., None]
    crown = smoothstep(0.03, 0.06, base_pt[..., 1] - eye_y - 0.03) * smoothstep(
        -0.02, 0.03, base_pt[..., 2] - center[2])
    px = base_pt[..., 0]
    part = crown * np.exp(-(px / 0.006) ** 2)
    thick = thick * (1 - 0.55 * part)
    scalp = crown * np.exp(-(px / 0.0016) ** 2)
    pos = center + dirs * (r + thick)[..., None]

    tris = []
    for i in range(COLUMNS):
        i2 = (i + 1) % COLUMNS
        for j in range(ROWS - 1):
            a0, a1 = i * ROWS + j, i * ROWS + j + 1
            b0, b1 = i2 * ROWS + j, i2 * ROWS + j + 1
            tris += [[a0, b0, a1], [a1, b0, b1]]
    tris = np.array(tris, np.int64)
    flat = pos.reshape(-1, 3)
    n = geometry.vertex_normals(flat, tris)
    if np.mean(np.sum(n * (flat - center), 1)) < 0:
        tris = tris[:, ::-1]
        n = -n

    # colour: per-lock streaks, darker roots near the bun and under the volume, lighter
    # tips of the crown where the key light hits, thinning toward skin at the hairline
    fine_lock = np.random.default_rng(23).uniform(-1, 1, COLUMNS)
    streak = (0.55 + 0.3 * lock + 0.15 * fine_lock)[:, None] * np.ones((1, ROWS))
    along = value_noise(t * 9.0 + 3, 24)[None] * 0.08
    dark, light = srgb(HAIR), srgb(HAIR_LIGHT)
    mix = np.clip(streak + along - 0.35, 0, 1) * 0.55
    col = dark[None, None] * (1 - mix[..., None]) + light[None, None] * mix[..., None]
    # at the hairline single strands thin out over the scalp: a touch lighter and warmer,
    # never skin-pale (a pale rim reads as a wig line)
    edge = smoothstep(0.9, 1.0, t)[None] * (0.6 + 0.4 * np.abs(fine_lock[:, None]))
    col = col * (1 - 0.35 * edge[..., None]) + srgb("#6a4a3a") * (0.35 * edge[..., None])
    col = col * (1 - 0.7 * scalp[..., None]) + srgb("#b98c74") * (0.7 * scalp[..., None])
    col = col.reshape(-1, 3)

    # broken highlights: tilt each lock's normal a little about the strand direction
    tangent = np.gradient(pos, axis=1).reshape(-1, 3)
    binormal = np.cross(n, tangent)
    binormal /= np.maximum(np.linalg.norm(binormal, axis=1, keepdims=True), 1e-9)
    tilt = np.repeat(0.28 * fine_lock + 0.15 * lock, ROWS)
    n2 = n + binormal * tilt[:, None]
    n2 /= np.linalg.norm(n2, axis=1, keepdims=True)

    bun_pos, bun_tris, bun_col = _bun(center, a, grid_radius=radius(np.zeros(1),
                                                                    np.zeros(1))[0])
    all_pos = np.concatenate([flat, bun_pos])
    all_tris = np.concatenate([tris, bun_tris + len(flat)])
    all_col = np.concatenate([col, bun_col])
    normals = geometry.vertex_normals(all_pos, all_tris)
    normals[: len(flat)] = n2

    # no face-unit motion is carried onto the hair: under the hairline the skin moves
    # < 1 mm (less than the hair's edge thickness), and vertices without morphs keep the
    # per-lock normals above instead of having them recomputed each frame
    morphs = (np.zeros((0, len(all_pos), 3), np.float32), np.zeros(0, np.int32))
    j = np.zeros((len(all_pos), 4), np.uint16)
    j[:, 0] = head_joint
    w = np.zeros((len(all_pos), 4), np.float32)
    w[:, 0] = 1
    c4 = np.ones((len(all_pos), 4), np.float32)
    c4[:, :3] = all_col
    mat = Material(name="hair", base_color=(1, 1, 1, 1), roughness=0.6, wrap=0.1)
    return [MeshPart(name="hair", positions=all_pos.astype(np.float32),
                     normals=normals.astype(np.float32), indices=all_tris.astype(np.uint32),
                     material=mat, colors=c4, morph_deltas=morphs[0], morph_ids=morphs[1],
                     joints=j, weights=w)]


def _bun(center: np.ndarray, axis: np.ndarray, grid_radius: float
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A twisted donut bun sitting on the scalp at the axis' pole."""
    a, u, v = _frame(axis)
    big, small = 0.022, 0.016
    base = center + a * (grid_radius + 0.004)
    n_a, n_b = 40, 16
    s = np.linspace(0, 2 * np.pi, n_a, endpoint=False)
    q = np.linspace(0, 2 * np.pi, n_b, endpoint=False)
    S, Q = np.meshgrid(s, q, indexing="ij")
    ring = np.cos(S)[..., None] * u + np.sin(S)[..., None] * v
    pos = (base + a * (small * 0.9) + ring * (big + small * np.cos(Q))[..., None]
           + a * (small * np.sin(Q))[..., None])
    tris = []
    for i in range(n_a):
        i2 = (i + 1) % n_a
        for j in range(n_b):
            j2 = (j + 1) % n_b
            tris += [[i * n_b + j, i2 * n_b + j, i * n_b + j2],
                     [i * n_b + j2, i2 * n_b + j, i2 * n_b + j2]]
    tris = np.array(tris, np.int64)
    flat = pos.reshape(-1, 3)
    nrm = geometry.vertex_normals(flat, tris)
    if np.mean(np.sum(nrm * (flat - (base + a * small)), 1)) < 0:
        tris = tris[:, ::-1]
    twist = (Q * 3.0 + S * 9.0)
    streak = 0.5 + 0.5 * value_noise(twist.ravel() * 2.0, 31)
    mix = (0.15 + 0.35 * streak)[:, None]
    col = srgb(HAIR)[None] * (1 - mix) + srgb(HAIR_LIGHT)[None] * mix
    return flat, tris, col
