"""Offscreen moderngl renderer: AvatarState in, straight-alpha RGBA frame out.

Per frame the CPU morphs (one BLAS product over the vertices morph targets move),
recomputes normals of the faces that moved, skins the head/neck/eyes, and uploads only the
changed prefix of each part's vertex buffer; the GPU (or llvmpipe) shades with a key/fill/rim
studio rig, then one full-screen pass anti-aliases (FXAA on CPU rasterisers, MSAA resolve on
real GPUs), lays the avatar over the background and un-premultiplies.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Self

import moderngl
import numpy as np

from vhuman.avatar.model import Avatar, Material
from vhuman.avatar.normals import vertex_normals
from vhuman.core.arkit import ARKIT_52, N_ARKIT
from vhuman.core.errors import ConfigError, RenderError
from vhuman.core.frames import AvatarState
from vhuman.render import shaders
from vhuman.render.camera import Camera, Lights
from vhuman.render.morph import Morpher, build_plan, moved_vertices
from vhuman.render.skinning import HeadRig, Skinner

AA_MODES = ("auto", "fxaa", "msaa", "none")
SHADING_MODES = ("auto", "vertex", "hybrid", "pixel")
#: below this roughness a material keeps per-pixel specular in "vertex" shading (eyes, teeth:
#: their small sharp highlights would smear between vertices)
GLOSSY_ROUGHNESS = 0.3
_GL_SRGB8_ALPHA8 = 0x8C43
_ALPHA_MODES = {"OPAQUE": 0, "MASK": 1, "BLEND": 2}
_MAX_SIZE = 8192


def linear_to_srgb(c: float) -> float:
    """Encode one linear 0..1 channel with the sRGB transfer curve."""
    c = min(max(float(c), 0.0), 1.0)
    return c * 12.92 if c <= 0.0031308 else 1.055 * c ** (1.0 / 2.4) - 0.055


def create_context():
    """A standalone headless OpenGL 3.3+ context over EGL (llvmpipe or a GPU driver).

    Raises:
        RenderError: EGL/OpenGL is missing or too old, with the packages to install.
    """
    try:
        import moderngl
    except ModuleNotFoundError as exc:  # pragma: no cover - moderngl is a core dependency
        raise RenderError("moderngl is not installed; pip install moderngl==5.13.0") from exc
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as exc:
        raise RenderError(
            f"cannot create a headless OpenGL 3.3 context over EGL ({exc}); on Debian/Ubuntu "
            "install: apt-get install libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri") from exc
    return ctx


def _put(uniforms: dict, name: str, value: object) -> None:
    """Set a uniform if the compiler kept it (unused uniforms are optimised away)."""
    u = uniforms.get(name)
    if u is None:
        return
    if isinstance(value, np.ndarray):
        # arrays may be trimmed to the elements the shader actually reads
        u.write(value.reshape(-1, value.shape[-1])[: u.array_length].tobytes())
    elif isinstance(value, bytes):
        u.write(value)
    else:
        u.value = value


def _uv_matrix(m: Material) -> np.ndarray:
    """KHR_texture_transform as a 3x3 matrix: translation · rotation · scale."""
    c, s = math.cos(m.uv_rotation), math.sin(m.uv_rotation)
    t = np.array([[1, 0, m.uv_offset[0]], [0, 1, m.uv_offset[1]], [0, 0, 1]], np.float64)
    r = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]], np.float64)
    sc = np.diag([m.uv_scale[0], m.uv_scale[1], 1.0])
    return t @ r @ sc


@dataclass(frozen=True, slots=True)
class FrameTimings:
    """Where the last :meth:`Renderer.render` spent its time (milliseconds).

    Attributes:
        geometry_ms: CPU morph, normals, skinning and vertex upload.
        draw_ms: issuing the draw calls and the post pass (GL queues work; on llvmpipe
            part of the rasterisation lands here, the rest in ``readback_ms``).
        readback_ms: waiting for the frame and copying it to host memory.
    """

    geometry_ms: float = 0.0
    draw_ms: float = 0.0
    readback_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        """Geometry, draw and readback time together."""
        return self.geometry_ms + self.draw_ms + self.readback_ms


@dataclass(slots=True)
class _Part:
    """Draw state of one mesh part; its vertices live in the shared vertex buffers."""

    name: str
    material: Material
    mode: int
    vao: object
    depth_vao: object
    uni: dict
    tex: object | None
    ntex: object | None
    uv_mat: bytes
    centroid: np.ndarray


@dataclass(slots=True)
class _Geometry:
    """CPU side of all parts' vertices, concatenated.

    Reordered so that what moves is one contiguous prefix: morphed, then renormal-only,
    then skinned-only, then static.
    """

    n_dyn: int
    rest: np.ndarray            # float32[n_dyn, 3] rest positions
    rest_nrm: np.ndarray        # float32[n_dyn, 3]
    m_pos: np.ndarray           # float32[n_dyn, 3] rest-space positions after morphing
    m_nrm: np.ndarray           # float32[n_dyn, 3] their normals
    pos: np.ndarray             # float32[n_dyn, 3] skinned (work buffer)
    nrm: np.ndarray             # float32[n_dyn, 3]
    inter: np.ndarray           # float32[n_dyn, 6] interleaved pos+nrm, uploaded
    morpher: Morpher | None
    skinner: Skinner | None
    vbo: object
    last_w: np.ndarray | None = None


class Renderer:
    """Draws one avatar into an offscreen framebuffer.

    Args:
        avatar: what to draw.
        width: frame width in pixels.
        height: frame height in pixels.
        background: (r, g, b, a) linear 0..1; the default is fully transparent so a
            compositor can lay the frame over its own background.
        lights: studio rig; defaults to :class:`Lights`.
        camera: defaults to :meth:`Camera.head_and_shoulders`.
        aa: "fxaa" (cheap post pass), "msaa" (4x multisampling, for GPUs), "none", or
            "auto" (msaa on a GPU; none on llvmpipe, where 4x MSAA costs ~3x and the
            FXAA pass about as much as shading the avatar).
        shading: "pixel" (all lighting per pixel), "hybrid" (diffuse per vertex, specular
            per pixel), "vertex" (all lighting per vertex, except glossy materials such as
            eyes and teeth, which get "hybrid"; about halves llvmpipe's fragment cost), or
            "auto" (vertex on llvmpipe, pixel on a GPU).
        depth_prepass: draw opaque depth first so each covered pixel is shaded once
            (measured slower on llvmpipe with this avatar: vertex work doubles).

    One renderer owns one GL context; call it from one thread at a time.
    """

    def __init__(self, avatar: Avatar, width: int, height: int, *,
                 background: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
                 lights: Lights | None = None, camera: Camera | None = None,
                 aa: str = "auto", shading: str = "auto",
                 depth_prepass: bool = False) -> None:
        if not (isinstance(width, int) and isinstance(height, int)
                and 16 <= width <= _MAX_SIZE and 16 <= height <= _MAX_SIZE):
            raise ConfigError(f"Renderer size must be integers in 16..{_MAX_SIZE}, "
                              f"got {width}x{height}")
        if shading not in SHADING_MODES:
            raise ConfigError(f"Renderer shading must be one of {SHADING_MODES}, "
                              f"got {shading!r}")
        if aa not in AA_MODES:
            raise ConfigError(f"Renderer aa must be one of {AA_MODES}, got {aa!r}")
        if not avatar.parts:
            raise ConfigError(f"avatar {avatar.name!r} has no mesh parts to draw")
        self.avatar = avatar
        self.width, self.height = width, height
        self._ctx = create_context()
        self.gl_renderer: str = str(self._ctx.info.get("GL_RENDERER", "unknown"))
        software = "llvmpipe" in self.gl_renderer.lower() or "softpipe" in self.gl_renderer
        self._software = software
        self.aa = ("none" if software else "msaa") if aa == "auto" else aa
        self.shading = ("vertex" if software else "pixel") if shading == "auto" else shading
        self._depth_prepass = depth_prepass
        self._closed = False
        self._last_head: np.ndarray | None = None
        self._last_weights: np.ndarray | None = None
        self.timings = FrameTimings()
        try:
            with self._ctx:
                self._setup_programs()
                self._setup_targets()
                coverage = avatar.arkit_coverage()
                eye_look = [i for i, n in enumerate(ARKIT_52) if n.startswith("eyeLook")]
                self._rig = HeadRig(avatar, eyes_by_joint=not coverage[eye_look].any())
                self._setup_geometry()
                self.set_lights(lights or Lights())
                self.set_camera(camera or Camera.head_and_shoulders(avatar, width / height))
                self.set_background(background)
        except Exception:
            self._ctx.release()
            raise

    # ----------------------------------------------------------------- setup
    def _setup_programs(self) -> None:
        ctx = self._ctx
        self._programs: dict[tuple, tuple[object, dict]] = {}
        try:
            self._post = ctx.program(vertex_shader=shaders.POST_VS,
                                     fragment_shader=shaders.POST_FS)
        except Exception as exc:
            raise RenderError(f"shader compile/link failed on {self.gl_renderer}: {exc}",
                              retryable=False) from exc
        self._post["u_src"].value = 0
        quad = np.array([-1, -1, 3, -1, -1, 3], np.float32)  # one oversized triangle
        self._quad_vbo = ctx.buffer(quad.tobytes())
        self._quad = ctx.vertex_array(self._post, [(self._quad_vbo, "2f", "in_xy")])

    def _setup_targets(self) -> None:
        ctx, size = self._ctx, (self.width, self.height)
        self._final_rb = ctx.renderbuffer(size, 4)
        self._final = ctx.framebuffer(color_attachments=[self._final_rb],
                                      depth_attachment=(ctx.depth_renderbuffer(size)
                                                        if self.aa == "none" else None))
        self._scene_tex = None
        self._msaa = None
        if self.aa == "none":
            self._scene = self._final
            return
        self._scene_tex = ctx.texture(size, 4)
        self._scene_tex.filter = (ctx.LINEAR, ctx.LINEAR)
        self._scene_tex.repeat_x = self._scene_tex.repeat_y = False
        if self.aa == "msaa":
            samples = min(4, ctx.max_samples)
            self._msaa = ctx.framebuffer(
                color_attachments=[ctx.renderbuffer(size, 4, samples=samples)],
                depth_attachment=ctx.depth_renderbuffer(size, samples=samples))
            self._resolve = ctx.framebuffer(color_attachments=[self._scene_tex])
            self._scene = self._msaa
        else:
            self._scene = ctx.framebuffer(color_attachments=[self._scene_tex],
                                          depth_attachment=ctx.depth_renderbuffer(size))
        self._post["u_texel"].value = (1.0 / self.width, 1.0 / self.height)
        self._post["u_fxaa"].value = self.aa == "fxaa"

    def _program(self, key: tuple[int, bool, bool, bool, bool]) -> tuple[object, dict]:
        """The mesh program for one variant, built once.

        ``key`` is (alpha mode, has texture, has normal map, glossy, double-sided).
        """
        if key not in self._programs:
            try:
                defines = shaders.mesh_defines(alpha_mode=key[0], has_tex=key[1],
                                               has_normal_tex=key[2],
                                               vertex_diffuse=self.shading != "pixel",
                                               vertex_light=(self.shading == "vertex"
                                                             and not key[3]),
                                               double_sided=key[4],
                                               skin_classes=self._gpu_classes)
                prog = self._ctx.program(vertex_shader=shaders.mesh_vs(defines),
                                         fragment_shader=shaders.mesh_fs(defines))
            except Exception as exc:
                raise RenderError(f"shader compile/link failed on {self.gl_renderer}: {exc}",
                                  retryable=False) from exc
            # uniforms the GLSL compiler kept (it drops unused ones)
            uni = {name: prog[name] for name in prog if isinstance(prog[name], moderngl.Uniform)}
            _put(uni, "u_base_tex", 0)
            _put(uni, "u_normal_tex", 1)
            self._programs[key] = (prog, uni)
        return self._programs[key]

    def _texture(self, img: np.ndarray | None, srgb: bool):
        if img is None:
            return None
        arr = np.asarray(img)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
            raise ConfigError(f"avatar texture must be uint8[H, W, 3|4], got {arr.dtype}"
                              f"{list(arr.shape)}")
        if arr.shape[2] == 3:
            arr = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 255, np.uint8)], axis=2)
        h, w = arr.shape[:2]
        ctx = self._ctx
        tex = ctx.texture((w, h), 4, np.ascontiguousarray(arr).tobytes(),
                          internal_format=_GL_SRGB8_ALPHA8 if srgb else None)
        tex.build_mipmaps()
        tex.filter = (ctx.LINEAR_MIPMAP_LINEAR, ctx.LINEAR)
        # anisotropic filtering costs ~12 ms a frame on llvmpipe (hair + eyes); GPUs only
        if not self._software and ctx.max_anisotropy >= 1:
            tex.anisotropy = min(4.0, ctx.max_anisotropy)
        return tex

    def _setup_geometry(self) -> None:
        """Concatenate every part into shared buffers, moving vertices first.

        One morph product, one normal pass, one skinning pass and one buffer write per
        frame for the whole avatar, however many parts it has.
        """
        avatar = self.avatar
        pos_l, nrm_l, faces_l, uv_l, col_l, cls_l, rank_l = [], [], [], [], [], [], []
        delta_rows: list[tuple[int, int, np.ndarray]] = []  # (arkit id, offset, deltas)
        offset = 0
        for index, part in enumerate(avatar.parts):
            n = part.n_vertices
            pos = np.asarray(part.positions, np.float32).reshape(n, 3)
            faces = np.asarray(part.indices, np.int64).reshape(-1, 3)
            if faces.size and (faces.min() < 0 or faces.max() >= n):
                raise ConfigError(f"part {part.name!r}: triangle index out of range 0..{n - 1}")
            nrm = (np.asarray(part.normals, np.float32).reshape(n, 3)
                   if part.normals is not None and len(part.normals) == n
                   else vertex_normals(pos, faces))
            deltas = np.asarray(part.morph_deltas, np.float32)
            ids = np.asarray(part.morph_ids, np.int64)
            if deltas.size:
                if deltas.shape[1:] != (n, 3):
                    raise ConfigError(f"part {part.name!r}: morph_deltas shape {deltas.shape} "
                                      f"does not match {n} vertices")
                if ids.shape != (deltas.shape[0],) or ids.min() < 0 or ids.max() >= N_ARKIT:
                    raise ConfigError(f"part {part.name!r}: morph_ids must be "
                                      f"{deltas.shape[0]} ARKit indices in 0..{N_ARKIT - 1}")
                for row in range(deltas.shape[0]):
                    delta_rows.append((int(ids[row]), offset, deltas[row]))
            moved = moved_vertices(deltas, n)
            renormal = moved.copy()
            if faces.size:
                renormal[faces[moved[faces].any(axis=1)].reshape(-1)] = True
            cls_w = self._rig.vertex_class_weights(avatar, index)
            skinned = cls_w.sum(axis=1) > 0
            rank_l.append(np.where(moved, 0, np.where(renormal, 1, np.where(skinned, 2, 3))))
            pos_l.append(pos)
            nrm_l.append(nrm)
            faces_l.append(faces + offset)
            uv_l.append(np.asarray(part.uvs, np.float32).reshape(n, 2)
                        if part.uvs is not None else np.zeros((n, 2), np.float32))
            col_l.append(np.asarray(part.colors, np.float32).reshape(n, 4)
                         if part.colors is not None else np.ones((n, 4), np.float32))
            cls_l.append(cls_w)
            offset += n
        total = offset
        rank = np.concatenate(rank_l)
        order = np.argsort(rank, kind="stable")
        inv = np.empty(total, np.int64)
        inv[order] = np.arange(total)
        pos = np.concatenate(pos_l)[order]
        nrm = np.concatenate(nrm_l)[order]
        n_moved = int((rank == 0).sum())
        n_ren = int((rank <= 1).sum())
        n_dyn = int((rank <= 2).sum())
        morpher = None
        if n_moved:
            ids = np.unique([r[0] for r in delta_rows]).astype(np.int64)
            merged = np.zeros((len(ids), n_moved, 3), np.float32)
            for aid, off, d in delta_rows:
                g = inv[off:off + len(d)]
                sel = g < n_moved
                merged[np.searchsorted(ids, aid), g[sel]] += d[sel]
            all_faces = inv[np.concatenate(faces_l)]
            plan = build_plan(pos, all_faces, merged, ids, n_moved, n_ren)
            morpher = Morpher(plan, pos)
        cls_w = np.concatenate(cls_l)[order]
        skinner = None
        self._gpu_classes = 0
        if cls_w.any():
            if cls_w.shape[1] <= shaders.MAX_SKIN_CLASSES:
                # the vertex shader skins: only morphed vertices are ever uploaded again
                self._gpu_classes = cls_w.shape[1]
                n_dyn = n_ren
            else:  # a rig with more moving joint classes than the shader takes
                skinner = Skinner(cls_w[:n_dyn])
        if not self._gpu_classes and skinner is None:
            n_dyn = n_ren
        ctx = self._ctx
        full = np.ascontiguousarray(np.hstack([pos, nrm]), np.float32)
        vbo = ctx.buffer(full.tobytes(), dynamic=n_dyn > 0)
        st = np.hstack([np.concatenate(uv_l)[order], np.concatenate(col_l)[order]])
        vbo_st = ctx.buffer(np.ascontiguousarray(st, np.float32).tobytes())
        skin_attrs: list[tuple] = []
        if self._gpu_classes:
            width = 4 if self._gpu_classes <= 4 else 8
            cw = np.zeros((total, width), np.float32)
            cw[:, :cls_w.shape[1]] = cls_w
            names = ("in_cw0",) if width == 4 else ("in_cw0", "in_cw1")
            skin_attrs = [(ctx.buffer(cw.tobytes()), " ".join(["4f"] * len(names)), *names)]
        try:
            depth_prog = ctx.program(
                vertex_shader=shaders.mesh_vs(shaders.skin_defines(self._gpu_classes)),
                fragment_shader=shaders.DEPTH_FS)
        except Exception as exc:
            raise RenderError(f"shader compile/link failed on {self.gl_renderer}: {exc}",
                              retryable=False) from exc
        self._programs[("depth",)] = (depth_prog, {
            name: depth_prog[name] for name in depth_prog
            if isinstance(depth_prog[name], moderngl.Uniform)})
        self._geo = _Geometry(
            n_dyn=n_dyn, rest=pos[:n_dyn].copy(), rest_nrm=nrm[:n_dyn].copy(),
            m_pos=pos[:n_dyn].copy(), m_nrm=nrm[:n_dyn].copy(), pos=pos[:n_dyn].copy(),
            nrm=nrm[:n_dyn].copy(), inter=full[:n_dyn].copy(), morpher=morpher,
            skinner=skinner, vbo=vbo)
        self._parts = []
        for part, faces, p0 in zip(avatar.parts, faces_l, pos_l):
            mat = part.material
            mode = _ALPHA_MODES.get(str(mat.alpha_mode).upper())
            if mode is None:
                raise ConfigError(f"part {part.name!r}: alpha_mode {mat.alpha_mode!r} is not "
                                  "one of OPAQUE, MASK, BLEND")
            ibo = ctx.buffer(np.ascontiguousarray(inv[faces], np.uint32).tobytes())
            tex = self._texture(mat.texture, srgb=True)
            ntex = self._texture(mat.normal_texture, srgb=False)
            glossy = float(mat.roughness) < GLOSSY_ROUGHNESS
            prog, uni = self._program((mode, tex is not None, ntex is not None, glossy,
                                       bool(mat.double_sided)))
            vao = ctx.vertex_array(prog, [(vbo, "3f 3f", "in_pos", "in_nrm"),
                                          (vbo_st, "2f 4f", "in_uv", "in_col"), *skin_attrs],
                                   index_buffer=ibo, index_element_size=4, skip_errors=True)
            depth_vao = ctx.vertex_array(depth_prog, [(vbo, "3f 3f", "in_pos", "in_nrm"),
                                                      *skin_attrs],
                                         index_buffer=ibo, index_element_size=4, skip_errors=True)
            self._parts.append(_Part(
                name=part.name, material=mat, mode=mode, vao=vao, depth_vao=depth_vao,
                uni=uni, tex=tex, ntex=ntex,
                uv_mat=_uv_matrix(mat).T.astype(np.float32).tobytes(),
                centroid=p0.mean(axis=0)))

    # ------------------------------------------------------------- settings
    def set_lights(self, lights: Lights) -> None:
        """Change the studio rig (takes effect on the next frame)."""
        with self._ctx:
            self._set_lights(lights)

    def _set_lights(self, lights: Lights) -> None:
        self.lights = lights
        ls = (lights.key, lights.fill, lights.rim)
        for _, uni in self._programs.values():
            _put(uni, "u_light_dir", np.array([l.direction for l in ls], np.float32))
            _put(uni, "u_light_rad", np.array([l.radiance() for l in ls], np.float32))
            _put(uni, "u_sky", lights.sky)
            _put(uni, "u_ground", lights.ground)
            _put(uni, "u_exposure", lights.exposure)

    def set_camera(self, camera: Camera) -> None:
        """Change the camera (takes effect on the next frame)."""
        with self._ctx:
            self._set_camera(camera)

    def _set_camera(self, camera: Camera) -> None:
        self.camera = camera
        vp = camera.view_projection(self.width / self.height)
        # draw upside down so GL's bottom-up rows read back top row first, with no flip copy
        vp = np.diag([1.0, -1.0, 1.0, 1.0]) @ vp
        for _, uni in self._programs.values():
            _put(uni, "u_view_proj", vp.T.astype(np.float32).tobytes())
            _put(uni, "u_cam_pos", tuple(float(c) for c in camera.eye))
        eye = np.asarray(camera.eye)
        # blended parts draw far to near
        self._blend_order = sorted(
            (p for p in self._parts if p.mode == 2),
            key=lambda p: -float(np.linalg.norm(p.centroid - eye)))

    def set_background(self, background: tuple[float, float, float, float]) -> None:
        """Background colour, linear RGBA 0..1 (alpha 0 = transparent)."""
        with self._ctx:
            self._set_background(background)

    def _set_background(self, background: tuple[float, float, float, float]) -> None:
        bg = np.asarray(background, np.float64).reshape(-1)
        if bg.shape != (4,) or not np.all((bg >= 0) & (bg <= 1)):
            raise ConfigError(f"background must be (r, g, b, a) in 0..1, got {background!r}")
        self.background = tuple(float(x) for x in bg)
        enc = tuple(linear_to_srgb(c) for c in bg[:3]) + (float(bg[3]),)
        self._bg_encoded = enc
        if self.aa != "none":
            self._post["u_background"].value = enc

    # --------------------------------------------------------------- frame
    def _cull(self, mat: Material) -> None:
        if mat.double_sided:
            self._ctx.disable(self._ctx.CULL_FACE)
        else:
            self._ctx.enable(self._ctx.CULL_FACE)

    def _set_skin(self, head: np.ndarray, weights: np.ndarray) -> None:
        """Hand this frame's joint-class transforms to the vertex shaders."""
        xf = self._rig.transforms(head, weights)
        eye = np.eye(3)
        # GLSL mat3 is column-major: write each (R - I) transposed
        a = np.stack([(r - eye).T for r, _ in xf]).astype(np.float32)
        t = np.stack([np.asarray(tr, np.float32).reshape(3) for _, tr in xf])
        for _, uni in self._programs.values():
            for name, arr in (("u_skin_a", a), ("u_skin_t", t)):
                u = uni.get(name)
                if u is not None:
                    u.write(np.ascontiguousarray(arr[: u.array_length]).tobytes())

    def _update_geometry(self, weights: np.ndarray, head: np.ndarray) -> None:
        g = self._geo
        if self._gpu_classes:
            self._set_skin(head, weights)
        if not g.n_dyn:
            return
        m = g.morpher
        morphed = False
        if m is not None:
            active = m.active(weights)
            if g.last_w is None or not np.array_equal(g.last_w, m._w):
                np.copyto(g.m_pos, g.rest)
                np.copyto(g.m_nrm, g.rest_nrm)
                if active:
                    m.morph(g.m_pos)
                    m.renormal(g.m_pos, g.m_nrm)
                g.last_w = m._w.copy()
                morphed = True
        if g.skinner is None and not morphed:
            return  # nothing on the CPU side moved: the head turn is all in uniforms
        if g.skinner is not None:
            np.copyto(g.pos, g.m_pos)
            np.copyto(g.nrm, g.m_nrm)
            g.skinner.apply(self._rig.transforms(head, weights), g.pos, g.nrm)
            src_p, src_n = g.pos, g.nrm
        else:
            src_p, src_n = g.m_pos, g.m_nrm
        g.inter[:, :3] = src_p
        g.inter[:, 3:] = src_n
        g.vbo.write(g.inter)

    def _draw(self) -> None:
        ctx = self._ctx
        self._scene.use()
        if self._scene is self._final:
            self._scene.clear(*self._bg_encoded, depth=1.0)
        else:
            self._scene.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        ctx.enable(ctx.DEPTH_TEST)
        ctx.front_face = "cw"  # the projection flips Y, which flips the winding
        opaque = [p for p in self._parts if p.mode == 0]
        if self._depth_prepass and opaque:
            # lay down depth first so the expensive shading runs once per covered pixel
            self._scene.color_mask = (False, False, False, False)
            for p in opaque:
                self._cull(p.material)
                p.depth_vao.render()
            self._scene.color_mask = (True, True, True, True)
            ctx.depth_func = "<="
        ctx.enable(ctx.BLEND)
        ctx.blend_func = (ctx.ONE, ctx.ONE_MINUS_SRC_ALPHA)  # premultiplied
        passes = (opaque, [p for p in self._parts if p.mode == 1], self._blend_order)
        for group in passes:
            for p in group:
                mat = p.material
                uni = p.uni
                self._scene.depth_mask = p.mode != 2 and not (self._depth_prepass
                                                              and p.mode == 0)
                self._cull(mat)
                _put(uni, "u_base_color", tuple(mat.base_color))
                _put(uni, "u_roughness", float(mat.roughness))
                _put(uni, "u_metallic", float(mat.metallic))
                _put(uni, "u_wrap", float(mat.wrap))
                _put(uni, "u_emissive", tuple(mat.emissive))
                _put(uni, "u_alpha_cutoff", float(mat.alpha_cutoff))
                _put(uni, "u_uv_xform", p.uv_mat)
                if p.tex is not None:
                    p.tex.use(0)
                if p.ntex is not None:
                    p.ntex.use(1)
                p.vao.render()
        ctx.depth_func = "<"
        self._scene.depth_mask = True
        ctx.disable(ctx.CULL_FACE | ctx.DEPTH_TEST | ctx.BLEND)
        if self._scene is self._final:
            return
        if self._msaa is not None:
            ctx.copy_framebuffer(self._resolve, self._msaa)
        self._final.use()
        self._scene_tex.use(0)
        self._quad.render()

    def render(self, state: AvatarState, out: np.ndarray | None = None) -> np.ndarray:
        """Draw one frame.

        ``state.gaze`` is ignored: the mixer already turned gaze into eyeLook* weights.

        Args:
            state: ARKit weights and head rotation for this tick.
            out: optional uint8[H, W, 4] C-contiguous array to read into (saves an
                allocation per frame); a new array is returned when omitted.

        Returns:
            uint8[H, W, 4] RGBA, top row first, sRGB-encoded, **straight** (not
            premultiplied) alpha: 255 where the avatar covers the pixel, the background's
            alpha elsewhere, in between on anti-aliased edges.
        """
        if self._closed:
            raise RenderError("Renderer.render called after close()", retryable=False)
        weights = np.asarray(state.weights, np.float32)
        if weights.shape != (N_ARKIT,):
            raise ConfigError(f"AvatarState.weights must have shape ({N_ARKIT},), "
                              f"got {weights.shape}")
        head = np.asarray(state.head, np.float32)
        if head.shape != (4,) or not np.all(np.isfinite(head)):
            raise ConfigError(f"AvatarState.head must be a finite quaternion (w, x, y, z), "
                              f"got {state.head!r}")
        if out is None:
            out = np.empty((self.height, self.width, 4), np.uint8)
        elif out.shape != (self.height, self.width, 4) or out.dtype != np.uint8 \
                or not out.flags.c_contiguous:
            raise ConfigError(f"out must be a C-contiguous uint8[{self.height}, {self.width}, 4]"
                              f" array, got {out.dtype}{list(out.shape)}")
        t0 = time.perf_counter_ns()
        with self._ctx:
            if (self._last_head is None or not np.array_equal(weights, self._last_weights)
                    or not np.array_equal(head, self._last_head)):
                self._update_geometry(weights, head)
                self._last_weights = weights.copy()
                self._last_head = head.copy()
            t1 = time.perf_counter_ns()
            self._draw()
            t2 = time.perf_counter_ns()
            self._final.read_into(out, components=4)
            t3 = time.perf_counter_ns()
        self.timings = FrameTimings(geometry_ms=(t1 - t0) / 1e6, draw_ms=(t2 - t1) / 1e6,
                                    readback_ms=(t3 - t2) / 1e6)
        return out

    def close(self) -> None:
        """Release the GL context and everything on it; idempotent."""
        if not self._closed:
            self._closed = True
            self._ctx.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
