"""Compositor: the AI label, product card and subtitles appear where they should."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vhuman.core.errors import MissingDependencyError
from vhuman.scenes.overlays import text as text_mod
from vhuman.scenes.overlays.compositor import Compositor
from vhuman.scenes.overlays.sprites import Sprite
from vhuman.scenes.overlays.state import OverlayState
from vhuman.scenes.overlays.text import Fonts, find_cjk_font, wrap_text
from vhuman.scenes.scene import load_scene_text
from vhuman.scenes.show import Product

W, H = 640, 360
BG = (236, 228, 220)


@pytest.fixture(scope="module")
def product() -> Product:
    from tests.conftest import ROOT

    return Product("tea", "明前龙井 250g", "89", "129",
                   (ROOT / "examples" / "products" / "tea.png",), ("今年春茶，豆香清爽",), 500)


def frame() -> np.ndarray:
    f = np.empty((H, W, 4), np.uint8)
    f[..., :3] = BG
    f[..., 3] = 255
    return f


def region(f: np.ndarray, rect) -> np.ndarray:
    x, y, w, h = rect
    return f[y:y + h, x:x + w, :3].astype(int)


def changed(f: np.ndarray, rect) -> float:
    return float((np.abs(region(f, rect) - np.array(BG)).sum(axis=2) > 30).mean())


def test_ai_label_is_drawn_in_its_corner() -> None:
    c = Compositor(load_scene_text(""), W, H)
    f = c.compose(frame(), OverlayState(), 0)
    x, y, w, h = c.label_rect()
    assert x + w > W * 0.7 and y < H * 0.2  # top-right by default
    reg = region(f, (x, y, w, h))
    assert changed(f, (x, y, w, h)) > 0.5
    assert (reg.min(axis=2) > 200).sum() > 30  # white text on the dark pill
    # everything away from the label (and the frame's other corners) is untouched
    assert changed(f, (0, H // 3, W, H // 3)) == 0.0
    assert f[..., 3].min() == 255


def test_label_text_and_position_follow_the_scene() -> None:
    c = Compositor(load_scene_text("ai_label: {text: AI-generated host, position: bottom-left}"),
                   W, H)
    c.compose(frame(), OverlayState(), 0)
    x, y, w, _ = c.label_rect()
    assert x < W * 0.2 and y > H * 0.7
    wide = Compositor(load_scene_text("ai_label: {text: AI-generated host speaking}"),
                      W, H).label_rect()
    assert wide[2] > w


def test_the_label_stays_inside_the_frame_wherever_the_scene_puts_it() -> None:
    for pos in ("[1, 1]", "[0, 0]", "[1, 0]", "bottom-right"):
        c = Compositor(load_scene_text(f"ai_label: {{position: {pos}}}"), W, H)
        f = c.compose(frame(), OverlayState(), 0)
        x, y, w, h = c.label_rect()
        assert 0 <= x and x + w <= W and 0 <= y and y + h <= H, pos
        assert changed(f, (x, y, w, h)) > 0.5, pos


def test_product_card_shows_image_name_and_red_price(product: Product) -> None:
    c = Compositor(load_scene_text(""), W, H)
    f = c.compose(frame(), OverlayState(product=product), 0)
    x, y, w, h = c.card_rect(product)
    assert x > W / 2 and 0 < y and y + h < H  # right side, inside the frame
    reg = region(f, (x, y, w, h))
    white = (reg.min(axis=2) > 245).mean()
    red = ((reg[..., 0] > 200) & (reg[..., 1] < 110) & (reg[..., 2] < 110)).sum()
    green = ((reg[..., 1] > reg[..., 0] + 30) & (reg[..., 1] > reg[..., 2] + 30)).sum()
    assert white > 0.3  # the card body
    assert red > 100  # the price in the accent colour (and the 直播价 tag)
    assert green > 200  # the tea tin picture
    # the left of the frame stays clear
    assert changed(f, (0, H // 4, W // 3, H // 2)) == 0.0


def test_card_follows_scene_position(product: Product) -> None:
    c = Compositor(load_scene_text("overlays: {product_card: left}"), W, H)
    x = c.card_rect(product)[0]
    assert x < W * 0.1


def test_subtitle_bar_and_countdown(product: Product) -> None:
    c = Compositor(load_scene_text(""), W, H)
    st = OverlayState(product=product, subtitle="今天直播间只要八十九元", countdown_end_ns=90 * 10**9)
    f1 = c.compose(frame(), st, 0)
    # subtitle: a dark bar with white text near the bottom, clear of the card
    bottom = region(f1, (0, int(H * 0.8), W, int(H * 0.2)))
    assert (bottom.max(axis=2) < 110).sum() > 2000 and (bottom.min(axis=2) > 230).sum() > 100
    # the countdown strip changes each second and not within one
    f2 = c.compose(frame(), st, 500_000_000)
    f3 = c.compose(frame(), st, 1_000_000_000)
    x, y, w, h = c.card_rect(product)
    assert np.array_equal(f1, f2)
    assert not np.array_equal(region(f1, (x, y, w, h)), region(f3, (x, y, w, h)))


def test_overlays_are_rasterised_only_when_content_changes(product, monkeypatch) -> None:
    c = Compositor(load_scene_text(""), W, H)
    calls = []
    real = c._subtitle_sprite
    monkeypatch.setattr(c, "_subtitle_sprite", lambda key: calls.append(key) or real(key))
    for i in range(10):
        c.compose(frame(), OverlayState(product=product, subtitle="同一句"), i * 33_000_000)
    assert len(calls) == 1
    c.compose(frame(), OverlayState(product=product, subtitle="下一句"), 0)
    assert len(calls) == 2


def test_background_raster_never_blocks_and_catches_up(product) -> None:
    c = Compositor(load_scene_text(""), W, H, background_raster=True)
    st = OverlayState(product=product)
    f = c.compose(frame(), st, 0)
    x, y, w, h = c.card_rect(product)  # computes the card synchronously for the test
    for fut in list(c._pending.values()):
        fut.result(timeout=30)
    f = c.compose(frame(), st, 0)
    assert changed(f, (x, y, w, h)) > 0.5
    c.close()


def test_blend_matches_reference_alpha_maths() -> None:
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = np.linspace(0, 255, 60, dtype=np.uint8)[None, :]
    rgba[10:30, 10:50, 3] = 255  # an opaque core: copied, not blended
    f = frame()
    Sprite(rgba).blend(f, 100, 50)
    a = rgba[..., 3:4].astype(float) / 255
    ref = np.array([255, 0, 0]) * a + np.array(BG) * (1 - a)
    got = f[50:90, 100:160, :3].astype(float)
    assert np.abs(got - ref).max() <= 1.0
    # clipped at the frame edge without error
    Sprite(rgba).blend(f, W - 10, H - 5)
    Sprite(rgba).blend(f, -30, -20)


def test_wrap_text_cjk_and_kinsoku() -> None:
    font = Fonts().get(20)
    text = "今天直播间只要八十九元，原价一百二十九元。喜欢的朋友点击下方小黄车，马上下单！Visit example.com"
    lines = wrap_text(text, font, 200)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert len(lines) > 2
    for ln in lines:
        assert ln[0] not in "，。！"
        assert font.getlength(ln) <= 200 + font.getlength("，")
    assert "example.com" in lines[-1]  # a Latin word is never split


def test_image_background_fills_the_frame(tmp_path) -> None:
    Image.new("RGB", (100, 50), (10, 120, 200)).save(tmp_path / "bg.png")
    c = Compositor(load_scene_text("background: {image: bg.png}", base_dir=tmp_path), W, H)
    bg = c.background_rgba()
    assert bg.shape == (H, W, 4) and tuple(bg[H // 2, W // 2, :3]) == (10, 120, 200)
    solid = Compositor(load_scene_text("background: '#102030'"), W, H).background_rgba()
    assert tuple(solid[0, 0]) == (16, 32, 48, 255)


def test_video_background_loops_in_a_thread(tmp_path) -> None:
    import cv2

    path = tmp_path / "bg.avi"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 90))
    for i in range(6):
        img = np.zeros((90, 160, 3), np.uint8)
        img[:] = (0, 0, 255) if i < 3 else (255, 0, 0)  # BGR: red, then blue
        vw.write(img)
    vw.release()
    c = Compositor(load_scene_text("background: {video: bg.avi}", base_dir=tmp_path), W, H)
    seen = set()
    import time

    deadline = time.monotonic() + 10
    while len(seen) < 2 and time.monotonic() < deadline:
        px = c.background_rgba()[H // 2, W // 2, :3]
        seen.add("red" if px[0] > 200 else "blue" if px[2] > 200 else "other")
        time.sleep(0.01)
    c.close()
    assert {"red", "blue"} <= seen


def test_missing_font_names_the_package(monkeypatch) -> None:
    monkeypatch.setattr(text_mod, "FONT_DIRS", ("/nonexistent",))
    monkeypatch.setattr(text_mod, "_font_paths", {})
    monkeypatch.setattr(text_mod.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="fonts-noto-cjk"):
        find_cjk_font()


def test_overlay_state_update(product) -> None:
    from vhuman.core.errors import ConfigError

    s = OverlayState().update(product=product, subtitle="你好")
    assert s.product is product and s.subtitle == "你好"
    assert s.update(subtitle=None).product is product
    with pytest.raises(ConfigError, match="subtitel"):
        s.update(subtitel="x")
