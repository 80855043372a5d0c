"""Per-vertex lighting (the CPU path) against per-pixel lighting on textured materials.

glTF's default ``metallicFactor`` is 1.0, so a file that omits it is a textured metal. The
per-vertex path once lit metals with the untextured base colour and the texture vanished;
here every metallic/roughness combination must look like the per-pixel picture.
"""

from __future__ import annotations

import numpy as np
import pytest

from vhuman.avatar.model import Avatar, Material, MeshPart
from vhuman.core.frames import AvatarState
from vhuman.render import Renderer
from vhuman.render.camera import Camera

W, H = 256, 256
#: Mean absolute difference (0..255, over the sphere's pixels and RGB) allowed between
#: vertex and pixel shading (measured 0.03–0.3 after the fix; 60–103 on metals before it;
#: the stripes differ by ~200 levels).
MEAN_TOLERANCE = 1.0


def _sphere(n_lon: int = 96, n_lat: int = 48) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lon = np.linspace(0.0, 2 * np.pi, n_lon + 1)
    lat = np.linspace(0.0, np.pi, n_lat + 1)
    lo, la = np.meshgrid(lon, lat)
    pos = np.stack([np.sin(la) * np.sin(lo), np.cos(la), np.sin(la) * np.cos(lo)], -1)
    uv = np.stack([lo / (2 * np.pi), la / np.pi], -1)
    idx = []
    row = n_lon + 1
    for i in range(n_lat):
        for j in range(n_lon):
            a, b, c, d = i * row + j, i * row + j + 1, (i + 1) * row + j, (i + 1) * row + j + 1
            idx += [(a, c, b), (b, c, d)]
    return (pos.reshape(-1, 3).astype(np.float32) * 0.3,
            uv.reshape(-1, 2).astype(np.float32), np.array(idx, np.uint32))


def _stripes() -> np.ndarray:
    tex = np.zeros((64, 64, 4), np.uint8)
    tex[..., 3] = 255
    band = (np.arange(64) // 8) % 2 == 0
    tex[:, band] = (230, 40, 30, 255)
    tex[:, ~band] = (30, 60, 220, 255)
    return tex


def _render(material: Material, shading: str) -> np.ndarray:
    pos, uv, idx = _sphere()
    part = MeshPart("ball", pos, pos / np.linalg.norm(pos, axis=1, keepdims=True), idx,
                    material=material, uvs=uv)
    avatar = Avatar("ball", [part], frame_center=np.zeros(3, np.float32), frame_height=0.8)
    cam = Camera(eye=(0.0, 0.0, 2.2), target=(0.0, 0.0, 0.0), fov_y_deg=24.0)
    with Renderer(avatar, W, H, camera=cam, shading=shading, aa="none") as r:
        return r.render(AvatarState(0)).copy()


@pytest.mark.parametrize("metallic,roughness", [
    (1.0, 1.0),   # what a file without metallicFactor/roughnessFactor means
    (1.0, 0.5),
    (0.0, 0.5),
    (0.0, 1.0),
    (0.5, 0.6),
])
def test_vertex_light_keeps_texture_like_pixel_light(metallic, roughness):
    mat = Material(name="striped", texture=_stripes(), metallic=metallic, roughness=roughness,
                   base_color=(1.0, 1.0, 1.0, 1.0))
    vert = _render(mat, "vertex")
    pix = _render(mat, "pixel")
    cover = (vert[..., 3] == 255) & (pix[..., 3] == 255)
    assert cover.mean() > 0.2
    diff = np.abs(vert[..., :3].astype(float) - pix[..., :3].astype(float))[cover]
    assert diff.mean() < MEAN_TOLERANCE, (metallic, roughness, diff.mean())
    # and the stripes are there: red and blue pixels both cover a good share of the ball
    rgb = vert[..., :3].astype(int)[cover]
    red = (rgb[:, 0] > rgb[:, 2] + 20).mean()
    blue = (rgb[:, 2] > rgb[:, 0] + 20).mean()
    assert red > 0.2 and blue > 0.2, (red, blue)
