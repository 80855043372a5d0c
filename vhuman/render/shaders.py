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
out vec3 v_pos;
out vec3 v_nrm;
out vec2 v_uv;
out vec4 v_col;
#ifdef VERTEX_DIFFUSE
// Diffuse light is smooth over a dense mesh, so on CPU rasterisers it is computed per
// vertex (front and back side) and only specular stays per pixel: fragment shading is
// most of the frame time on llvmpipe.
out vec3 v_diff_front;
out vec3 v_diff_back;

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
    v_pos = in_pos;
    v_nrm = in_nrm;
    v_uv = (u_uv_xform * vec3(in_uv, 1.0)).xy;
    v_col = in_col;
#ifdef VERTEX_DIFFUSE
    vec3 n = normalize(in_nrm);
    v_diff_front = diffuse(n);
    v_diff_back = diffuse(-n);
#endif
    gl_Position = u_view_proj * vec4(in_pos, 1.0);
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
#ifdef VERTEX_DIFFUSE
in vec3 v_diff_front;
in vec3 v_diff_back;
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

vec3 aces(vec3 x) {
    return clamp((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0);
}

// sRGB encode from square roots only (no pow): within ~0.5/255 of the exact curve.
vec3 to_srgb(vec3 c) {
    vec3 s1 = sqrt(c);
    vec3 s2 = sqrt(s1);
    vec3 s3 = sqrt(s2);
    return clamp(0.662002687 * s1 + 0.684122060 * s2 - 0.323583601 * s3 - 0.0225411470 * c,
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

vec3 spec(vec3 n, vec3 v, float nv, vec3 l, vec3 rad, vec3 f0, float a2, float k) {
    float nl = max(dot(n, l), 0.0);
    vec3 h = normalize(l + v);
    float nh = max(dot(n, h), 0.0);
    float d = nh * nh * (a2 - 1.0) + 1.0;
    float vis = 0.25 / ((nl * (1.0 - k) + k) * (nv * (1.0 - k) + k));
    float x = 1.0 - max(dot(h, v), 0.0);
    float x2 = x * x;
    return a2 / (d * d) * vis * (f0 + (1.0 - f0) * (x2 * x2 * x)) * nl * rad * 0.31830989;
}

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
    vec3 color = diff_col * (gl_FrontFacing ? v_diff_front : v_diff_back)
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
    vec3 mapped = to_srgb(aces(color * u_exposure));
    f_color = vec4(mapped * alpha, alpha);  // premultiplied
}
"""

DEPTH_FS = """
#version 330
void main() {}
"""


def _specialise(src: str, defines: list[str]) -> str:
    version, rest = src.lstrip("\n").split("\n", 1)
    return "\n".join([version] + [f"#define {d} 1" for d in defines] + [rest])


def mesh_defines(*, alpha_mode: int = 0, has_tex: bool = False, has_normal_tex: bool = False,
                 vertex_diffuse: bool = False) -> list[str]:
    """Preprocessor switches for one material kind.

    Args:
        alpha_mode: 0 opaque, 1 mask (alpha test), 2 blend.
        has_tex: sample a base-colour texture.
        has_normal_tex: perturb normals from a tangent-space normal map (forces per-pixel
            diffuse, which the normal map needs).
        vertex_diffuse: diffuse and ambient per vertex, specular per pixel.
    """
    defines = ["OPAQUE", "ALPHA_MASK", "ALPHA_BLEND"][alpha_mode:alpha_mode + 1]
    if has_tex:
        defines.append("HAS_TEX")
    if has_normal_tex:
        defines.append("HAS_NORMAL_TEX")
    elif vertex_diffuse:
        defines.append("VERTEX_DIFFUSE")
    return defines


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
