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
in vec3 in_pos;
in vec3 in_nrm;
in vec2 in_uv;
in vec4 in_col;
out vec3 v_pos;
out vec3 v_nrm;
out vec2 v_uv;
out vec4 v_col;
void main() {
    v_pos = in_pos;
    v_nrm = in_nrm;
    v_uv = (u_uv_xform * vec3(in_uv, 1.0)).xy;
    v_col = in_col;
    gl_Position = u_view_proj * vec4(in_pos, 1.0);
}
"""

MESH_FS = """
#version 330
uniform sampler2D u_base_tex;
uniform sampler2D u_normal_tex;
uniform bool u_has_tex;
uniform bool u_has_normal_tex;
uniform vec4 u_base_color;
uniform float u_roughness;
uniform float u_metallic;
uniform float u_wrap;
uniform vec3 u_emissive;
uniform int u_alpha_mode;      // 0 opaque, 1 mask, 2 blend
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
out vec4 f_color;

const float PI = 3.14159265;

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
    float m = max(dot(t, t), dot(b, b));
    if (m < 1e-20) return n;
    float s = inversesqrt(m);
    return normalize(mat3(t * s, b * s, n) * tn);
}

vec3 aces(vec3 x) {
    return clamp((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0);
}

vec3 to_srgb(vec3 c) {
    vec3 lo = c * 12.92;
    vec3 hi = 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055;
    return mix(lo, hi, step(vec3(0.0031308), c));
}

void main() {
    vec4 base = u_base_color * v_col;
    if (u_has_tex) base *= texture(u_base_tex, v_uv);  // sRGB texture: sampled as linear
    float alpha = base.a;
    if (u_alpha_mode == 1) {
        if (alpha < u_alpha_cutoff) discard;
        alpha = 1.0;
    } else if (u_alpha_mode == 0) {
        alpha = 1.0;
    }
    vec3 n = normalize(v_nrm);
    if (!gl_FrontFacing) n = -n;
    if (u_has_normal_tex) {
        vec3 tn = texture(u_normal_tex, v_uv).xyz * 2.0 - 1.0;
        n = perturb_normal(n, v_pos, v_uv, tn);
    }
    vec3 v = normalize(u_cam_pos - v_pos);
    float nv = max(dot(n, v), 1e-4);
    float rough = clamp(u_roughness, 0.05, 1.0);
    float a2 = rough * rough * rough * rough;
    vec3 f0 = mix(vec3(0.04), base.rgb, u_metallic);
    vec3 diff_col = base.rgb * (1.0 - u_metallic);
    // a faint warm tint where wrapped light bleeds past the terminator (fake subsurface)
    vec3 sss_tint = mix(vec3(1.0), vec3(1.0, 0.55, 0.45), clamp(u_wrap * 1.5, 0.0, 1.0));
    vec3 color = vec3(0.0);
    for (int i = 0; i < 3; ++i) {
        vec3 l = u_light_dir[i];
        float nl_raw = dot(n, l);
        float nl = max(nl_raw, 0.0);
        float wrapped = max((nl_raw + u_wrap) / (1.0 + u_wrap), 0.0);
        vec3 tint = mix(sss_tint, vec3(1.0), nl);
        vec3 h = normalize(l + v);
        float nh = max(dot(n, h), 0.0);
        float d = nh * nh * (a2 - 1.0) + 1.0;
        float dist = a2 / (PI * d * d);
        float k = rough * 0.5 + 0.125;
        float vis = 0.25 / ((nl * (1.0 - k) + k) * (nv * (1.0 - k) + k));
        vec3 fres = f0 + (1.0 - f0) * pow(1.0 - max(dot(h, v), 0.0), 5.0);
        vec3 spec = dist * vis * fres * nl;
        color += (diff_col * wrapped * tint + spec * PI) * u_light_rad[i] / PI * 1.0;
    }
    float hemi = n.y * 0.5 + 0.5;
    vec3 amb = mix(u_ground, u_sky, hemi);
    color += diff_col * amb;
    vec3 fres_amb = f0 + (1.0 - f0) * pow(1.0 - nv, 5.0) * (1.0 - rough);
    color += fres_amb * amb * 0.6;
    color += u_emissive;
    vec3 mapped = to_srgb(aces(color * u_exposure));
    f_color = vec4(mapped * alpha, alpha);  // premultiplied
}
"""

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
