"""The compositor: where each overlay goes on a frame, and drawing them there every tick.

It lays out the room title, the product card (with its countdown), the subtitle (kept clear
of the card) and the AI label, and blends their sprites into each rendered frame. Each
overlay is rasterised only when its content changes (a sprite cache keyed by content), so
the per-frame cost is one ``cv2.blendLinear`` over each overlay's own rectangle; no
full-frame work happens per tick.

The background (colour, image or looping video) is not blended here: the renderer clears
to :meth:`Compositor.background_rgba` before drawing the host, so edges anti-alias against
the real background.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
from typing import Any

import numpy as np

from vhuman.core.clock import NS_PER_S
from vhuman.core.errors import ConfigError
from vhuman.scenes.overlays.background import Background
from vhuman.scenes.overlays.card import Card, countdown_strip, product_card
from vhuman.scenes.overlays.sprites import Sprite
from vhuman.scenes.overlays.state import OverlayState
from vhuman.scenes.overlays.text import Fonts, pill, subtitle_bar
from vhuman.scenes.scene import Placement, Scene
from vhuman.scenes.show import Product

_log = logging.getLogger("vhuman.compositor")

MARGIN = 24
_CACHE_SIZE = 48


class Compositor:
    """Draws a scene's overlays onto rendered frames.

    Args:
        scene: layout, colours and AI label.
        width, height: frame size.
        fonts: a :class:`Fonts` (default: Noto Sans CJK found on the system).
        background_raster: rasterise new overlays in a worker thread so ``compose`` never
            waits on Pillow (a new card takes 0.3-0.7 s here); the engine should pass True.
            Off by default so tests and offline renders are deterministic.
    """

    def __init__(self, scene: Scene, width: int, height: int, *, fonts: Fonts | None = None,
                 background_raster: bool = False) -> None:
        if width < 160 or height < 120:
            raise ConfigError(f"frame {width}x{height} is too small for overlays (min 160x120)")
        self.width, self.height = int(width), int(height)
        self.fonts = fonts or Fonts()
        self.u = self.height / 720.0  # layout unit: sizes are designed at 720p
        self._cache: collections.OrderedDict[Any, Any] = collections.OrderedDict()
        self.background_raster = background_raster
        self._pool: Any = None
        self._pending: dict[Any, Any] = {}
        self._shown: dict[str, Any] = {}
        self._make_lock = threading.Lock()
        self._background: Background | None = None
        self.scene = scene
        self.set_scene(scene)

    # -- scene / background -------------------------------------------------------------
    def set_scene(self, scene: Scene) -> None:
        """Switch layout (the AI label stays: every scene draws it)."""
        self.scene = scene
        self._cache.clear()
        self._pending.clear()  # results of the old scene's jobs are dropped when they land
        self._shown.clear()
        if self._background is not None:
            self._background.close()
        self._background = Background(scene.background, self.width, self.height)

    def background_rgba(self) -> np.ndarray:
        """The full-frame background (uint8 HxWx4) to clear to; a video gives its latest frame.

        The array is shared: read it, do not write into it.
        """
        assert self._background is not None
        return self._background.rgba()

    def close(self) -> None:
        """Stop a background video thread and the rasteriser."""
        if self._background is not None:
            self._background.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def prepare(self, state: OverlayState, t_ns: int = 0) -> None:
        """Rasterise everything ``state`` needs now (blocking), so ``compose`` only blends."""
        sc = self.scene
        title = state.title if state.title is not None else sc.title
        if title:
            self._get(("title", title), self._title_sprite, sync=True)
        if state.product is not None:
            self._get(("card", state.product, sc.product_card.scale), self._card_sprite,
                      sync=True)
            if state.countdown_end_ns is not None:
                left = max(0, math.ceil((state.countdown_end_ns - t_ns) / NS_PER_S))
                self._get(("countdown", left, sc.product_card.scale), self._countdown_sprite,
                          sync=True)
        if state.subtitle:
            self._get(("sub", state.subtitle), self._subtitle_sprite, sync=True)
        self._get(("label", sc.ai_label.text), self._label_sprite, sync=True)

    # -- the per-frame call ---------------------------------------------------------------
    def compose(self, frame_rgba: np.ndarray, state: OverlayState, t_ns: int) -> np.ndarray:
        """Blend the overlays for ``state`` at ``t_ns`` into ``frame_rgba`` (in place)."""
        if frame_rgba.shape != (self.height, self.width, 4) or frame_rgba.dtype != np.uint8:
            raise ValueError(f"frame must be uint8[{self.height}, {self.width}, 4], got "
                             f"{frame_rgba.dtype}{list(frame_rgba.shape)}")
        sc = self.scene
        title = state.title if state.title is not None else sc.title
        if title and sc.title_overlay.enabled:
            self._place(frame_rgba, ("title", title), self._title_sprite, sc.title_overlay)
        card_rect = None
        card = None
        if state.product is not None and sc.product_card.enabled:
            card = self._get(("card", state.product, sc.product_card.scale), self._card_sprite)
        if card is not None:
            x, y = self._anchor(sc.product_card, card.sprite, card.box)
            card_rect = (x + card.box[0], y + card.box[1], card.box[2], card.box[3])
            card.sprite.blend(frame_rgba, x, y)
            if state.countdown_end_ns is not None:
                left = max(0, math.ceil((state.countdown_end_ns - t_ns) / NS_PER_S))
                cd = self._get(("countdown", left, sc.product_card.scale), self._countdown_sprite)
                if cd is not None:
                    cx, cy = card.countdown_at
                    cd.blend(frame_rgba, x + cx, y + cy)
        spr = None
        if state.subtitle and sc.subtitles.enabled:
            spr = self._get(("sub", state.subtitle), self._subtitle_sprite)
        if spr is not None:
            x, y = self._anchor(sc.subtitles, spr, None)
            if sc.subtitles.xy is None and sc.subtitles.anchor == "bottom":
                x = self._subtitle_x(spr, y, card_rect)
            spr.blend(frame_rgba, x, y)
        # The AI label is law: always, last (nothing covers it), never deferred, and inside
        # the frame whatever position the scene gives it.
        spr = self._get(("label", sc.ai_label.text), self._label_sprite, sync=True)
        x, y = self._label_xy(spr)
        spr.blend(frame_rgba, x, y)
        return frame_rgba

    def _label_xy(self, spr: Sprite) -> tuple[int, int]:
        x, y = self._anchor(self.scene.ai_label.position, spr, None)
        x = min(max(x + spr.ox, 0), max(0, self.width - spr.w)) - spr.ox
        y = min(max(y + spr.oy, 0), max(0, self.height - spr.h)) - spr.oy
        return x, y

    # -- geometry -------------------------------------------------------------------------
    def _get(self, key: Any, make: Any, *, sync: bool = False) -> Any:
        """The sprite for ``key``; rasterised now, or (background mode) in a worker thread.

        In background mode a missing sprite is queued and the slot's previous sprite (e.g.
        the last subtitle) is returned meanwhile, or None, so a tick never waits on Pillow.
        """
        slot = key[0]
        spr = self._cache.get(key)
        if spr is not None:
            self._cache.move_to_end(key)
            self._shown[slot] = spr
            return spr
        fut = self._pending.get(key)
        if fut is not None and fut.done():
            del self._pending[key]
            try:
                spr = fut.result()
            except Exception:  # noqa: BLE001 - a bad image or font: log, draw without it
                _log.exception("rasterising %s failed", slot)
                return self._shown.get(slot)
        elif sync or not self.background_raster:
            if fut is not None:
                self._pending.pop(key, None)
            with self._make_lock:
                spr = make(key)
        else:
            if fut is None:
                if self._pool is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="vhuman-overlay")
                self._pending[key] = self._pool.submit(self._make_locked, make, key)
            return self._shown.get(slot)
        self._cache[key] = spr
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        self._shown[slot] = spr
        return spr

    def _make_locked(self, make: Any, key: Any) -> Any:
        with self._make_lock:  # Pillow font objects are shared; one rasteriser at a time
            return make(key)

    def _place(self, frame: np.ndarray, key: Any, make: Any, pl: Placement) -> None:
        spr = self._get(key, make)
        if spr is not None:
            x, y = self._anchor(pl, spr, None)
            spr.blend(frame, x, y)

    def _anchor(self, pl: Placement, spr: Sprite, box: Any) -> tuple[int, int]:
        """Top-left of the sprite image for a placement (box: the visible part's offsets)."""
        W, H = self.width, self.height
        m = round(MARGIN * self.u)
        # the visible rectangle inside the sprite image (shadow padding excluded)
        if box is not None:
            bx, by, bw, bh = box
        else:
            bx, by, bw, bh = spr.ox, spr.oy, spr.w, spr.h
        if pl.xy is not None:
            return round(pl.xy[0] * W) - bx, round(pl.xy[1] * H) - by
        a = pl.anchor
        if a.endswith("left") or a == "left":
            vx = m
        elif a.endswith("right") or a == "right":
            vx = W - m - bw
        else:
            vx = (W - bw) // 2
        if a.startswith("top"):
            vy = m
        elif a.startswith("bottom"):
            vy = H - m - bh - (round(36 * self.u) if a == "bottom" else 0)
        else:
            vy = (H - bh) // 2
        return vx - bx, vy - by

    def _subtitle_x(self, spr: Sprite, y: int, card: tuple[int, int, int, int] | None) -> int:
        """Centre bottom subtitles under the host, and keep them clear of the product card."""
        m = round(MARGIN * self.u)
        cx = self.width / 2 + self.scene.avatar_x * self.width
        vx = round(cx - spr.w / 2)
        if card is not None:
            kx, ky, kw, kh = card
            overlaps_y = y + spr.oy < ky + kh and ky < y + spr.oy + spr.h
            if overlaps_y and vx + spr.w > kx - m and vx < kx + kw:
                if kx > self.width / 2:
                    vx = kx - m - spr.w
                else:
                    vx = max(vx, kx + kw + m)
        vx = min(max(vx, m), self.width - m - spr.w)
        return vx - spr.ox

    # -- sprite makers ----------------------------------------------------------------
    def _title_sprite(self, key: Any) -> Sprite:
        text = key[1][:40]
        return Sprite(pill(self.fonts, self.u, text, 22, (255, 255, 255), (0, 0, 0, 120), True,
                           prefix=("● 直播中", (255, 59, 48, 255))))

    def _label_sprite(self, key: Any) -> Sprite:
        # the disclosure leads the text, so the cut can only drop added words
        return Sprite(pill(self.fonts, self.u, key[1][:48], 18, (255, 255, 255),
                           (20, 20, 20, 150), False))

    def _subtitle_sprite(self, key: Any) -> Sprite:
        return subtitle_bar(self.fonts, self.u, key[1], min(self.width * 0.62, 820 * self.u))

    def _card_sprite(self, key: Any) -> Card:
        return product_card(self.fonts, self.scene.theme, self.u * self.scene.product_card.scale,
                            key[1])

    def _countdown_sprite(self, key: Any) -> Sprite:
        return countdown_strip(self.fonts, self.scene.theme,
                               self.u * self.scene.product_card.scale, key[1])

    def card_rect(self, product: Product) -> tuple[int, int, int, int]:
        """Where the product card is drawn: (x, y, w, h) in frame pixels."""
        card = self._get(("card", product, self.scene.product_card.scale), self._card_sprite,
                         sync=True)
        x, y = self._anchor(self.scene.product_card, card.sprite, card.box)
        bx, by, bw, bh = card.box
        return x + bx, y + by, bw, bh

    def label_rect(self) -> tuple[int, int, int, int]:
        """Where the AI label is drawn (x, y, w, h); every scene draws it."""
        spr = self._get(("label", self.scene.ai_label.text), self._label_sprite, sync=True)
        x, y = self._label_xy(spr)
        return x + spr.ox, y + spr.oy, spr.w, spr.h
