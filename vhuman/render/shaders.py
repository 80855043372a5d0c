"""GLSL 330 sources for the avatar pass and the anti-aliasing / compositing pass.

Kept to GLSL 3.30 core so the same code runs on Mesa llvmpipe and NVIDIA EGL. The avatar
pass writes *premultiplied*, display-encoded (sRGB) colour with alpha = coverage into an
RGBA8 target; the post pass anti-aliases that, lays it over the background and
un-premultiplies so the frame the caller gets has straight alpha.
"""

MESH_VS = """
#version 330
uniform mat4 u_view_proj;
uniform mat3 u_uv_xform;
uniform vec3 u_light_dir[3];   // key, fill, rim: toward the light
uniform vec3 u_light_rad[3];
uniform vec3 u_sky;
uniform vec3 u_ground;
uniform float u_wrap;
in vec3 in_pos;
in vec3 in_nrm;
in vec2 in_uv;
in vec4 in_col;
#ifndef SKIN_CLASSES
#define SKIN_CLASSES 0
#define SKIN_LOW 0
#endif
#if SKIN_CLASSES > 0
// Linear blend skinning on the GPU: each vertex follows up to 8 joint classes (neck chain,
// head, eyes) by weight. u_skin_a is R - I and u_skin_t the translation of each class, so
// a vertex with no weight costs nothing and the rest pose needs no upload.
in vec4 in_cw0;
#if SKIN_CLASSES > 4
in vec4 in_cw1;
#endif
uniform mat3 u_skin_a[SKIN_CLASSES];
uniform vec3 u_skin_t[SKIN_CLASSES];
#endif
#ifdef JOINTS
// Whole-skeleton linear blend skinning (half-body avatars): 4 joints per vertex, each
// joint's R - I and translation, so weights of 0 and the rest pose cost nothing extra.
in vec4 in_joint;
in vec4 in_jweight;
uniform mat3 u_joint_a[JOINTS];
uniform vec3 u_joint_t[JOINTS];
#endif
out vec3 v_pos;
out vec3 v_nrm;
out vec2 v_uv;
out vec4 v_col;
#if defined(VERTEX_DIFFUSE) || defined(VERTEX_LIGHT)
// Light is smooth over a dense mesh, so on CPU rasterisers it is computed per vertex (front
// and back side): fragment shading is most of the frame time on llvmpipe. VERTEX_DIFFUSE
// keeps specular per pixel (glossy eyes and teeth); VERTEX_LIGHT moves it to the vertices
// too, leaving the fragment shader a texture fetch, a multiply-add and the tone curve.
out vec3 v_diff_front;
#ifdef DOUBLE_SIDED
out vec3 v_diff_back;
#endif
#ifdef VERTEX_LIGHT
uniform vec3 u_cam_pos;
uniform float u_roughness;
uniform float u_metallic;
// Specular is affine in the base colour (F0 = mix(0.04, base, metallic)), and the base
// colour is textured per pixel: the vertices send the part that does not depend on it
// (v_spec_*) and the factor the fragment multiplies by its textured base (v_specb_*), so a
// metallic material keeps its texture exactly as the per-pixel path does.
out vec3 v_spec_front;
out vec3 v_specb_front;
#ifdef DOUBLE_SIDED
out vec3 v_spec_back;
out vec3 v_specb_back;
#endif

//SPEC//

// One light's GGX term split into (constant part, factor of the base colour).
void spec_split(vec3 n, vec3 v, float nv, vec3 l, vec3 rad, float a2, float k,
                inout vec3 c, inout vec3 b) {
    float fc;
    vec3 g = ggx(n, v, nv, l, rad, a2, k, fc);
    c += g * (fc + (1.0 - fc) * 0.04 * (1.0 - u_metallic));
    b += g * ((1.0 - fc) * u_metallic);
}

void specular(vec3 n, vec3 v, out vec3 c, out vec3 b) {
    float nv = max(dot(n, v), 1e-4);
    float rough = clamp(u_roughness, 0.05, 1.0);
    float a2 = rough * rough * rough * rough;
    float k = rough * 0.5 + 0.125;
    c = vec3(0.0);
    b = vec3(0.0);
    spec_split(n, v, nv, u_light_dir[0], u_light_rad[0], a2, k, c, b);
    // the fill's highlight too: on a metal it is most of what the fill light shows, and
    // per vertex it costs next to nothing
    spec_split(n, v, nv, u_light_dir[1], u_light_rad[1], a2, k, c, b);
    spec_split(n, v, nv, u_light_dir[2], u_light_rad[2], a2, k, c, b);
    vec3 amb = mix(u_ground, u_sky, n.y * 0.5 + 0.5) * 0.6;
    float y = 1.0 - nv;
    float y2 = y * y;
    float q = (y2 * y2 * y) * (1.0 - rough);
    c += amb * (q + (1.0 - q) * 0.04 * (1.0 - u_metallic));
    b += amb * ((1.0 - q) * u_metallic);
}
#endif

vec3 diffuse(vec3 n) {
    vec3 sss_tint = mix(vec3(1.0), vec3(1.0, 0.55, 0.45), clamp(u_wrap * 1.5, 0.0, 1.0));
    vec3 acc = mix(u_ground, u_sky, n.y * 0.5 + 0.5);
    for (int i = 0; i < 3; ++i) {
        float nl_raw = dot(n, u_light_dir[i]);
        float wrapped = max((nl_raw + u_wrap) / (1.0 + u_wrap), 0.0);
        acc += wrapped * mix(sss_tint, vec3(1.0), max(nl_raw, 0.0)) * u_light_rad[i]
               * 0.31830989;
    }
    return acc;
}
#endif
void main() {
    vec3 pos = in_pos;
    vec3 nrm = in_nrm;
#if SKIN_CLASSES > 0
    for (int i = 0; i < SKIN_LOW; ++i) {
        pos += in_cw0[i] * (u_skin_a[i] * in_pos + u_skin_t[i]);
        nrm += in_cw0[i] * (u_skin_a[i] * in_nrm);
    }
#if SKIN_CLASSES > 4
    for (int i = 4; i < SKIN_CLASSES; ++i) {
        pos += in_cw1[i - 4] * (u_skin_a[i] * in_pos + u_skin_t[i]);
        nrm += in_cw1[i - 4] * (u_skin_a[i] * in_nrm);
    }
#endif
#endif
#ifdef JOINTS
    for (int i = 0; i < 4; ++i) {
        int j = int(in_joint[i]);
        pos += in_jweight[i] * (u_joint_a[j] * in_pos + u_joint_t[j]);
        nrm += in_jweight[i] * (u_joint_a[j] * in_nrm);
    }
#endif
    v_pos = pos;
    v_nrm = nrm;
    v_uv = (u_uv_xform * vec3(in_uv, 1.0)).xy;
    v_col = in_col;
#if defined(VERTEX_DIFFUSE) || defined(VERTEX_LIGHT)
    vec3 n = normalize(nrm);
    v_diff_front = diffuse(n);
#ifdef DOUBLE_SIDED
    v_diff_back = diffuse(-n);  // culled single-sided parts never show a back face
#endif
#endif
#ifdef VERTEX_LIGHT
    vec3 v = normalize(u_cam_pos - pos);
    specular(n, v, v_spec_front, v_specb_front);
#ifdef DOUBLE_SIDED
    specular(-n, v, v_spec_back, v_specb_back);
#endif
#endif
    gl_Position = u_view_proj * vec4(pos, 1.0);
}
"""

MESH_FS = """
#version 330
// Feature switches are compile-time (#define) rather than uniform branches: llvmpipe runs
// SIMD lanes in lock-step and tends to pay for both sides of an if.
uniform sampler2D u_base_tex;
uniform sampler2D u_normal_tex;
uniform vec4 u_base_color;
uniform float u_roughness;
uniform float u_metallic;
uniform float u_wrap;
uniform vec3 u_emissive;
uniform float u_alpha_cutoff;
uniform vec3 u_cam_pos;
uniform vec3 u_light_dir[3];   // key, fill, rim: toward the light
uniform vec3 u_light_rad[3];
uniform vec3 u_sky;
uniform vec3 u_ground;
uniform float u_exposure;
in vec3 v_pos;
in vec3 v_nrm;
in vec2 v_uv;
in vec4 v_col;
#if defined(VERTEX_DIFFUSE) || defined(VERTEX_LIGHT)
in vec3 v_diff_front;
#ifdef DOUBLE_SIDED
in vec3 v_diff_back;
#define DIFF_LIGHT (gl_FrontFacing ? v_diff_front : v_diff_back)
#else
#define DIFF_LIGHT v_diff_front
#endif
#endif
#ifdef VERTEX_LIGHT
in vec3 v_spec_front;
in vec3 v_specb_front;
#ifdef DOUBLE_SIDED
in vec3 v_spec_back;
in vec3 v_specb_back;
#define SPEC_LIGHT (gl_FrontFacing ? v_spec_front : v_spec_back)
#define SPEC_BASE (gl_FrontFacing ? v_specb_front : v_specb_back)
#else
#define SPEC_LIGHT v_spec_front
#define SPEC_BASE v_specb_front
#endif
#endif
out vec4 f_color;

#ifdef HAS_NORMAL_TEX
// Tangent frame from screen-space derivatives, so normal maps need no tangent attribute.
vec3 perturb_normal(vec3 n, vec3 p, vec2 uv, vec3 tn) {
    vec3 dp1 = dFdx(p);
    vec3 dp2 = dFdy(p);
    vec2 duv1 = dFdx(uv);
    vec2 duv2 = dFdy(uv);
    vec3 dp2perp = cross(dp2, n);
    vec3 dp1perp = cross(n, dp1);
    vec3 t = dp2perp * duv1.x + dp1perp * duv2.x;
    vec3 b = dp2perp * duv1.y + dp1perp * duv2.y;
    float m = max(max(dot(t, t), dot(b, b)), 1e-20);
    float s = inversesqrt(m);
    return normalize(mat3(t * s, b * s, n) * tn);
}
#endif

// ACES filmic tone curve (Narkowicz's fit) followed by the sRGB encode, as one rational
// function fitted to their composition over 0..16: within 2/255 everywhere (0.33/255 on
// average) and a third of the cost of the two exact steps (no sqrt/pow per channel).
vec3 tone_srgb(vec3 x) {
    return clamp(x * (24.073433 * x + 5.457626) / (x * (23.720866 * x + 7.815696) + 1.0),
                 0.0, 1.0);
}

vec3 light(vec3 n, vec3 v, float nv, vec3 l, vec3 rad, vec3 diff_col, vec3 f0, float a2,
           float k, vec3 sss_tint) {
    float nl_raw = dot(n, l);
    float nl = max(nl_raw, 0.0);
    float wrapped = max((nl_raw + u_wrap) / (1.0 + u_wrap), 0.0);
    vec3 h = normalize(l + v);
    float nh = max(dot(n, h), 0.0);
    float d = nh * nh * (a2 - 1.0) + 1.0;
    float dist = a2 / (d * d);   // GGX without the 1/pi, folded into the radiance below
    float vis = 0.25 / ((nl * (1.0 - k) + k) * (nv * (1.0 - k) + k));
    float x = 1.0 - max(dot(h, v), 0.0);
    float x2 = x * x;
    vec3 fres = f0 + (1.0 - f0) * (x2 * x2 * x);
    vec3 tint = mix(sss_tint, vec3(1.0), nl);
    return (diff_col * wrapped * tint + dist * vis * fres * nl) * rad * 0.31830989;
}

//SPEC//

void main() {
    vec4 base = u_base_color * v_col;
#ifdef HAS_TEX
    base *= texture(u_base_tex, v_uv);  // sRGB texture: sampled as linear
#endif
    float alpha = base.a;
#ifdef ALPHA_MASK
    // only the MASK variant may discard: a discard anywhere in a program turns off early
    // depth rejection on llvmpipe, and overdraw then costs full shading
    if (alpha < u_alpha_cutoff) discard;
    alpha = 1.0;
#endif
#ifdef OPAQUE
    alpha = 1.0;
#endif
#ifdef VERTEX_LIGHT
    vec3 color = base.rgb * ((1.0 - u_metallic) * DIFF_LIGHT + SPEC_BASE) + SPEC_LIGHT
               + u_emissive;
#else
    vec3 n = normalize(gl_FrontFacing ? v_nrm : -v_nrm);
#ifdef HAS_NORMAL_TEX
    n = perturb_normal(n, v_pos, v_uv, texture(u_normal_tex, v_uv).xyz * 2.0 - 1.0);
#endif
    vec3 v = normalize(u_cam_pos - v_pos);
    float nv = max(dot(n, v), 1e-4);
    float rough = clamp(u_roughness, 0.05, 1.0);
    float a2 = rough * rough * rough * rough;
    float k = rough * 0.5 + 0.125;
    vec3 f0 = mix(vec3(0.04), base.rgb, u_metallic);
    vec3 diff_col = base.rgb * (1.0 - u_metallic);
    // a faint warm tint where wrapped light bleeds past the terminator (fake subsurface)
    vec3 sss_tint = mix(vec3(1.0), vec3(1.0, 0.55, 0.45), clamp(u_wrap * 1.5, 0.0, 1.0));
    vec3 amb = mix(u_ground, u_sky, n.y * 0.5 + 0.5);
#ifdef VERTEX_DIFFUSE
    vec3 color = diff_col * DIFF_LIGHT
               + spec(n, v, nv, u_light_dir[0], u_light_rad[0], f0, a2, k)
               + spec(n, v, nv, u_light_dir[2], u_light_rad[2], f0, a2, k);
#else
    vec3 color = light(n, v, nv, u_light_dir[0], u_light_rad[0], diff_col, f0, a2, k, sss_tint)
               + light(n, v, nv, u_light_dir[1], u_light_rad[1], diff_col, f0, a2, k, sss_tint)
               + light(n, v, nv, u_light_dir[2], u_light_rad[2], diff_col, f0, a2, k, sss_tint)
               + diff_col * amb;
#endif
    float y = 1.0 - nv;
    float y2 = y * y;
    vec3 fres_amb = f0 + (1.0 - f0) * (y2 * y2 * y) * (1.0 - rough);
    color += fres_amb * amb * 0.6 + u_emissive;
#endif
    vec3 mapped = tone_srgb(max(color * u_exposure, 0.0));
    f_color = vec4(mapped * alpha, alpha);  // premultiplied
}
"""

SPEC_GLSL = """
// GGX for one light before its Fresnel factor (the 1/pi of the radiance folded in); ``fc``
// gets Schlick's (1 - h.v)^5, so the Fresnel factor is f0 + (1 - f0) * fc.
vec3 ggx(vec3 n, vec3 v, float nv, vec3 l, vec3 rad, float a2, float k, out float fc) {
    float nl = max(dot(n, l), 0.0);
    vec3 h = normalize(l + v);
    float nh = max(dot(n, h), 0.0);
    float d = nh * nh * (a2 - 1.0) + 1.0;
    float vis = 0.25 / ((nl * (1.0 - k) + k) * (nv * (1.0 - k) + k));
    float x = 1.0 - max(dot(h, v), 0.0);
    float x2 = x * x;
    fc = x2 * x2 * x;
    return a2 / (d * d) * vis * nl * rad * 0.31830989;
}

// GGX specular for one light.
vec3 spec(vec3 n, vec3 v, float nv, vec3 l, vec3 rad, vec3 f0, float a2, float k) {
    float fc;
    return ggx(n, v, nv, l, rad, a2, k, fc) * (f0 + (1.0 - f0) * fc);
}
"""


DEPTH_FS = """
#version 330
void main() {}
"""


def _specialise(src: str, defines: list[str]) -> str:
    version, rest = src.lstrip("\n").split("\n", 1)
    lines = [f"#define {d}" if " " in d else f"#define {d} 1" for d in defines]
    return "\n".join([version] + lines + [rest.replace("//SPEC//", SPEC_GLSL)])


MAX_SKIN_CLASSES = 8


def skin_defines(n_classes: int) -> list[str]:
    """Switches for GPU skinning over ``n_classes`` joint classes (0 = none)."""
    if not 0 <= n_classes <= MAX_SKIN_CLASSES:
        raise ValueError(f"GPU skinning takes 0..{MAX_SKIN_CLASSES} classes, got {n_classes}")
    return [f"SKIN_CLASSES {n_classes}", f"SKIN_LOW {min(n_classes, 4)}"]


#: Most joints the vertex shader skins with (uniform space: 4 vec4 per joint).
MAX_JOINTS = 128


def joint_defines(n_joints: int) -> list[str]:
    """Switch for whole-skeleton GPU skinning over ``n_joints`` joints (0 = off)."""
    if not 0 <= n_joints <= MAX_JOINTS:
        raise ValueError(f"GPU joint skinning takes 0..{MAX_JOINTS} joints, got {n_joints}")
    return [f"JOINTS {n_joints}"] if n_joints else []


def mesh_defines(*, alpha_mode: int = 0, has_tex: bool = False, has_normal_tex: bool = False,
                 vertex_diffuse: bool = False, vertex_light: bool = False,
                 double_sided: bool = True, skin_classes: int = 0) -> list[str]:
    """Preprocessor switches for one material kind.

    Args:
        alpha_mode: 0 opaque, 1 mask (alpha test), 2 blend.
        has_tex: sample a base-colour texture.
        has_normal_tex: perturb normals from a tangent-space normal map (forces per-pixel
            diffuse, which the normal map needs).
        vertex_diffuse: diffuse and ambient per vertex, specular per pixel.
        vertex_light: all lighting per vertex (overrides ``vertex_diffuse``).
        double_sided: back faces are drawn, so per-vertex light is also computed for them.
        skin_classes: joint classes the vertex shader blends (0 = vertices come skinned).
    """
    defines = ["OPAQUE", "ALPHA_MASK", "ALPHA_BLEND"][alpha_mode:alpha_mode + 1]
    if has_tex:
        defines.append("HAS_TEX")
    if double_sided:
        defines.append("DOUBLE_SIDED")
    if has_normal_tex:
        defines.append("HAS_NORMAL_TEX")
    elif vertex_light:
        defines.append("VERTEX_LIGHT")
    elif vertex_diffuse:
        defines.append("VERTEX_DIFFUSE")
    return defines + skin_defines(skin_classes)


def mesh_vs(defines: list[str]) -> str:
    """The mesh vertex shader with ``defines``."""
    return _specialise(MESH_VS, defines)


def mesh_fs(defines: list[str]) -> str:
    """The mesh fragment shader with ``defines``."""
    return _specialise(MESH_FS, defines)


POST_VS = """
#version 330
in vec2 in_xy;
out vec2 v_uv;
void main() {
    v_uv = in_xy * 0.5 + 0.5;
    gl_Position = vec4(in_xy, 0.0, 1.0);
}
"""

# FXAA-style edge blur (after Lottes' FXAA 3 "console" variant, reduced to 5 taps for the
# edge test and 4 along the edge) on premultiplied colour; luma includes coverage so dark
# hair against a transparent background still counts as an edge.
POST_FS = """
#version 330
uniform sampler2D u_src;
uniform vec2 u_texel;
uniform bool u_fxaa;
uniform vec4 u_background;     // straight, display-encoded
in vec2 v_uv;
out vec4 f_color;

float luma(vec4 c) { return dot(c.rgb, vec3(0.299, 0.587, 0.114)) * 0.7 + c.a * 0.3; }

vec4 fxaa(vec2 uv) {
    vec4 cm = texture(u_src, uv);
    float lm = luma(cm);
    float lnw = luma(texture(u_src, uv + vec2(-1.0, -1.0) * u_texel));
    float lne = luma(texture(u_src, uv + vec2(1.0, -1.0) * u_texel));
    float lsw = luma(texture(u_src, uv + vec2(-1.0, 1.0) * u_texel));
    float lse = luma(texture(u_src, uv + vec2(1.0, 1.0) * u_texel));
    float lmin = min(lm, min(min(lnw, lne), min(lsw, lse)));
    float lmax = max(lm, max(max(lnw, lne), max(lsw, lse)));
    if (lmax - lmin < max(0.0312, lmax * 0.125)) return cm;
    vec2 dir = vec2(-((lnw + lne) - (lsw + lse)), (lnw + lsw) - (lne + lse));
    float reduce = max((lnw + lne + lsw + lse) * 0.03125, 1.0 / 128.0);
    float rcp = 1.0 / (min(abs(dir.x), abs(dir.y)) + reduce);
    dir = clamp(dir * rcp, vec2(-8.0), vec2(8.0)) * u_texel;
    vec4 a = 0.5 * (texture(u_src, uv + dir * (1.0 / 3.0 - 0.5)) +
                    texture(u_src, uv + dir * (2.0 / 3.0 - 0.5)));
    vec4 b = a * 0.5 + 0.25 * (texture(u_src, uv - dir * 0.5) + texture(u_src, uv + dir * 0.5));
    float lb = luma(b);
    return (lb < lmin || lb > lmax) ? a : b;
}

void main() {
    vec4 c = u_fxaa ? fxaa(v_uv) : texture(u_src, v_uv);
    // premultiplied avatar over the straight background, then back to straight alpha
    float bg_a = u_background.a * (1.0 - c.a);
    float a = c.a + bg_a;
    vec3 rgb = c.rgb + u_background.rgb * bg_a;
    f_color = vec4(a > 0.0 ? rgb / a : vec3(0.0), a);
}
"""
