"""Renderer behaviour on the real EGL context (llvmpipe here, NVIDIA where lent)."""

from __future__ import annotations

import numpy as np
import pytest

from vhuman.core.arkit import INDEX, N_ARKIT
from vhuman.avatar.procedural import build_procedural_avatar, landmarks
from vhuman.core import quat
from vhuman.core.frames import AvatarState
from vhuman.core.errors import ConfigError
from vhuman.render import Renderer

W, H = 480, 270


@pytest.fixture(scope="module")
def renderer():
    r = Renderer(build_procedural_avatar(), W, H)
    yield r
    r.close()


def state(head=None, **weights: float) -> AvatarState:
    w = np.zeros(N_ARKIT, np.float32)
    for k, v in weights.items():
        w[INDEX[k]] = v
    return AvatarState(0, w, quat.from_euler(0, 0) if head is None else head)


def region(renderer, name: str, half: int = 9) -> tuple[slice, slice]:
    x, y = renderer.camera.project(landmarks()[name], W, H)
    x, y = int(round(x)), int(round(y))
    return slice(max(0, y - half), y + half), slice(max(0, x - half), x + half)


def changed(a: np.ndarray, b: np.ndarray, reg) -> int:
    d = np.abs(a[reg].astype(int) - b[reg].astype(int)).max(axis=-1)
    return int((d > 8).sum())


def test_avatar_on_screen_centred_face_in_upper_half(renderer):
    img = renderer.render(state())
    cov = img[..., 3] > 0
    assert cov.mean() > 0.15
    xs = np.nonzero(cov)[1]
    assert abs(xs.mean() - W / 2) < W * 0.08
    for name in ("eye_left", "eye_right", "mouth"):
        x, y = renderer.camera.project(landmarks()[name], W, H)
        assert y < H / 2
        assert img[int(y), int(x), 3] == 255
    # the avatar's left eye is on the image right
    assert renderer.camera.project(landmarks()["eye_left"], W, H)[0] > W / 2


def test_background_alpha_zero(renderer):
    img = renderer.render(state())
    assert img[0, 0, 3] == 0 and img[0, -1, 3] == 0
    assert img[..., 3].min() == 0


def test_jaw_open_changes_mouth_not_eyes(renderer):
    a = renderer.render(state())
    b = renderer.render(state(jawOpen=1.0))
    assert changed(a, b, region(renderer, "mouth")) > 30
    assert changed(a, b, region(renderer, "eye_left")) == 0
    assert changed(a, b, region(renderer, "eye_right")) == 0


def test_blink_left_closes_image_right_eye_only(renderer):
    a = renderer.render(state())
    b = renderer.render(state(eyeBlinkLeft=1.0))
    assert changed(a, b, region(renderer, "eye_left")) > 20
    assert changed(a, b, region(renderer, "eye_right")) == 0
    assert changed(a, b, region(renderer, "mouth")) == 0


def test_head_yaw_moves_head_not_shoulders(renderer):
    a = renderer.render(state())
    b = renderer.render(state(head=quat.from_euler(np.radians(20), 0)))
    assert changed(a, b, region(renderer, "eye_left")) > 20
    for s in ("shoulder_left", "shoulder_right"):
        assert changed(a, b, region(renderer, s, 6)) == 0


def test_every_arkit_shape_changes_the_picture(renderer):
    base = renderer.render(state())
    still = [n for n in INDEX if np.array_equal(base, renderer.render(state(**{n: 1.0})))]
    assert still == [], f"shapes with no visible effect: {still}"


def test_same_state_same_pixels_and_cache_restores(renderer):
    a = renderer.render(state()).copy()
    renderer.render(state(jawOpen=0.7, head=quat.from_euler(0.3, 0.1)))
    b = renderer.render(state())
    assert np.array_equal(a, b)


def test_opaque_background_and_bad_input():
    av = build_procedural_avatar()
    with Renderer(av, 64, 48, background=(0.2, 0.3, 0.4, 1.0)) as r:
        img = r.render(state())
        assert img[..., 3].min() == 255
        with pytest.raises(ConfigError):
            r.render(AvatarState(0, np.zeros(3, np.float32)))
    with pytest.raises(ConfigError):
        Renderer(av, 64, 48, aa="bogus")
