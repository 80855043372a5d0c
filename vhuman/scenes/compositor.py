"""Overlays composited into every frame: product card, subtitles, room title, AI label.

Each overlay is rasterised with Pillow only when its content changes (a sprite cache keyed
by content), so the per-frame cost is one ``cv2.blendLinear`` over each overlay's own
rectangle. No full-frame work happens per tick.

The background (colour, image or looping video) is not blended here: the renderer clears
to :meth:`Compositor.background_rgba` before drawing the host, so edges anti-alias against
the real background.
"""

from __future__ import annotations

import collections
import logging
import math
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from vhuman.core.clock import NS_PER_S
from vhuman.core.errors import ConfigError, MissingDependencyError
from vhuman.scenes.scene import Placement, Scene
from vhuman.scenes.show import Product

_log = logging.getLogger("vhuman.compositor")

FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk",
             "/usr/share/fonts/google-noto-cjk", "/usr/local/share/fonts")
FONT_INSTALL = "sudo apt-get install fonts-noto-cjk   (Debian/Ubuntu)"
SS = 2  # supersampling for sprites: Pillow's shapes are not anti-aliased
MARGIN = 24
_CACHE_SIZE = 48


@dataclass(frozen=True, slots=True)
class OverlayState:
    """What the overlays show at a moment (the engine keeps one and updates fields)."""

    product: Product | None = None
    subtitle: str | None = None
    title: str | None = None
    countdown_end_ns: int | None = None

    def update(self, **fields: Any) -> OverlayState:
        """A copy with ``fields`` changed (what ``ShowHost.set_overlay(**fields)`` gets).

        Raises:
            ConfigError: a field name that is not an overlay field.
        """
        unknown = set(fields) - set(self.__slots__)
        if unknown:
            raise ConfigError(f"unknown overlay field(s) {', '.join(sorted(unknown))}; "
                              f"valid: {', '.join(self.__slots__)}")
        return replace(self, **fields)


# ---------------------------------------------------------------------------------------
# fonts

_font_paths: dict[bool, str] = {}


def find_cjk_font(bold: bool = False) -> str:
    """Path of Noto Sans CJK (Regular or Bold); MissingDependencyError naming the package."""
    if bold in _font_paths:
        return _font_paths[bold]
    name = f"NotoSansCJK-{'Bold' if bold else 'Regular'}.ttc"
    for d in FONT_DIRS:
        p = Path(d) / name
        if p.is_file():
            _font_paths[bold] = str(p)
            return str(p)
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(
                ["fc-match", "-f", "%{file}", f"Noto Sans CJK SC:{'bold' if bold else 'regular'}"],
                capture_output=True, text=True, timeout=5, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and "CJK" in out and Path(out).is_file():
            _font_paths[bold] = out
            return out
    raise MissingDependencyError("the CJK font Noto Sans CJK (needed to draw Chinese overlays)",
                                 FONT_INSTALL)


@dataclass(frozen=True, slots=True)
class _FontKey:
    bold: bool
    size: int


class Fonts:
    """Loads Noto Sans CJK SC faces by (bold, size) once."""

    def __init__(self, regular: str | None = None, bold: str | None = None) -> None:
        self.paths = {False: regular or find_cjk_font(False), True: bold or find_cjk_font(True)}
        self._index: dict[bool, int] = {}
        self._cache: dict[_FontKey, ImageFont.FreeTypeFont] = {}

    def get(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        key = _FontKey(bold, int(size))
        f = self._cache.get(key)
        if f is None:
            path = self.paths[bold]
            if bold not in self._index:
                self._index[bold] = _sc_index(path)
            f = ImageFont.truetype(path, key.size, index=self._index[bold])
            self._cache[key] = f
        return f


def _sc_index(path: str) -> int:
    """The face index of the Simplified Chinese font in a .ttc collection (0 for .otf)."""
    if not path.lower().endswith(".ttc"):
        return 0
    for i in range(10):
        try:
            name = ImageFont.truetype(path, 12, index=i).getname()[0]
        except OSError:
            break
        if name.endswith(" SC") and "Mono" not in name:
            return i
    return 0


# ---------------------------------------------------------------------------------------
# text layout

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.,%'’\-/:]*|\s+|.", re.DOTALL)
_NO_START = set("，。！？、；：）」』》】〕”’…—,.!?;:)]}%～·")
_NO_END = set("（「『《【〔“‘([{¥$￥")


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_w: float) -> list[str]:
    """Break ``text`` into lines no wider than ``max_w``.

    CJK text breaks between any two characters; Latin words and numbers stay whole; closing
    punctuation never starts a line and opening punctuation never ends one (kinsoku).
    """
    lines: list[str] = []
    for para in text.replace("\r", "").split("\n"):
        tokens = _TOKEN.findall(para)
        cur = ""
        for tok in tokens:
            if not cur and tok.isspace():
                continue
            cand = cur + tok
            if font.getlength(cand) <= max_w or not cur:
                cur = cand
                continue
            if tok[0] in _NO_START:
                cur = cand  # hang the punctuation past the edge rather than start with it
                continue
            carry = ""
            while cur and cur[-1] in _NO_END:
                carry = cur[-1] + carry
                cur = cur[:-1]
            if cur.strip():
                lines.append(cur.rstrip())
            cur = (carry + tok).lstrip()
            # a single token wider than the line (a long URL): hard-break it
            while font.getlength(cur) > max_w and len(cur) > 1:
                n = len(cur)
                while n > 1 and font.getlength(cur[:n]) > max_w:
                    n -= 1
                lines.append(cur[:n])
                cur = cur[n:]
        if cur.strip():
            lines.append(cur.rstrip())
    return lines


def _fit_lines(text: str, fonts: Fonts, size: int, bold: bool, max_w: float, max_lines: int,
               min_size: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """Largest font ≤ size whose wrap fits max_lines; ellipsis past that at min_size."""
    s = size
    while True:
        f = fonts.get(s, bold)
        lines = wrap_text(text, f, max_w)
        if len(lines) <= max_lines or s <= min_size:
            break
        s = max(min_size, int(s * 0.9))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and f.getlength(last + "…") > max_w:
            last = last[:-1]
        lines[-1] = last + "…"
    return f, lines


# ---------------------------------------------------------------------------------------
# sprites

class Sprite:
    """A rasterised overlay ready to blend: colour (alpha forced to 255) and float weights.

    Only the bounding box of non-transparent pixels is kept, and the largest fully opaque
    inner rectangle (a card's body) is copied rather than blended. The rest goes through
    ``cv2.blendLinear``: ~0.7 ms for a 340x520 region on these cores, against ~4 ms for
    the same maths in numpy uint16 (mixed-dtype broadcasting is slow).
    """

    __slots__ = ("h", "ox", "oy", "regions", "src", "w", "w1", "w2")

    def __init__(self, rgba: np.ndarray) -> None:
        a = rgba[..., 3]
        ys = np.flatnonzero(a.any(axis=1))
        xs = np.flatnonzero(a.any(axis=0))
        self.regions: list[tuple[int, int, int, int, bool]] = []
        if len(ys) == 0:
            self.ox = self.oy = self.w = self.h = 0
            self.src = np.zeros((0, 0, 4), np.uint8)
            self.w1 = self.w2 = np.zeros((0, 0), np.float32)
            return
        y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
        crop = rgba[y0:y1, x0:x1]
        self.oy, self.ox = int(y0), int(x0)
        self.h, self.w = crop.shape[:2]
        self.src = np.ascontiguousarray(crop).copy()
        self.src[..., 3] = 255  # the frame stays opaque
        self.w1 = crop[..., 3].astype(np.float32) / 255.0
        self.w2 = 1.0 - self.w1
        self.regions = _split_opaque(crop[..., 3] == 255)

    def blend(self, frame: np.ndarray, x: int, y: int) -> None:
        """Blend onto ``frame`` (uint8 HxWx4) with the sprite image's origin at (x, y)."""
        if self.w == 0:
            return
        x += self.ox
        y += self.oy
        H, W = frame.shape[:2]
        # visible part in sprite coordinates
        vx0, vy0 = max(0, -x), max(0, -y)
        vx1, vy1 = min(self.w, W - x), min(self.h, H - y)
        if vx0 >= vx1 or vy0 >= vy1:
            return
        cv2 = _cv2()
        for ry0, ry1, rx0, rx1, opaque in self.regions:
            a0, a1 = max(ry0, vy0), min(ry1, vy1)
            b0, b1 = max(rx0, vx0), min(rx1, vx1)
            if a0 >= a1 or b0 >= b1:
                continue
            roi = frame[y + a0:y + a1, x + b0:x + b1]
            if opaque:
                roi[...] = self.src[a0:a1, b0:b1]
            else:
                roi[...] = cv2.blendLinear(self.src[a0:a1, b0:b1], roi,
                                           self.w1[a0:a1, b0:b1], self.w2[a0:a1, b0:b1])


def _split_opaque(opaque: np.ndarray) -> list[tuple[int, int, int, int, bool]]:
    """Cover the sprite with an opaque inner rectangle (copied) and up to 4 blended strips."""
    h, w = opaque.shape
    whole = [(0, h, 0, w, False)]
    counts = opaque.sum(axis=1)
    m = int(np.argmax(counts))
    if counts[m] < 32:
        return whole
    row = opaque[m]
    # the longest run of opaque pixels in the fullest row
    edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
    runs = edges.reshape(-1, 2)
    c0, c1 = max(runs, key=lambda r: r[1] - r[0])
    col_ok = opaque[:, c0:c1].all(axis=1)
    r0 = m
    while r0 > 0 and col_ok[r0 - 1]:
        r0 -= 1
    r1 = m + 1
    while r1 < h and col_ok[r1]:
        r1 += 1
    if (r1 - r0) * (c1 - c0) < 0.2 * h * w:
        return whole
    c0, c1 = int(c0), int(c1)
    out = [(r0, r1, c0, c1, True)]
    for reg in ((0, r0, 0, w), (r1, h, 0, w), (r0, r1, 0, c0), (r0, r1, c1, w)):
        if reg[0] < reg[1] and reg[2] < reg[3]:
            out.append((*reg, False))
    return out


_cv2_mod: Any = None


def _cv2() -> Any:
    global _cv2_mod
    if _cv2_mod is None:
        import cv2  # mediapipe's opencv-contrib build (the one cv2 in the venv)

        _cv2_mod = cv2
    return _cv2_mod


def _rounded(size: tuple[int, int], radius: int, fill: tuple[int, ...]) -> Image.Image:
    im = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(im).rounded_rectangle((0, 0, size[0] - 1, size[1] - 1), radius, fill=fill)
    return im


def _shadowed(card: Image.Image, blur: int, offset: int, opacity: int) -> Image.Image:
    """Return the card with a soft drop shadow (padding ``blur*2`` each side)."""
    pad = blur * 2
    out = Image.new("RGBA", (card.width + 2 * pad, card.height + 2 * pad + offset), (0, 0, 0, 0))
    sh = Image.new("L", out.size, 0)
    sh.paste(card.getchannel("A").point(lambda v: v * opacity // 255), (pad, pad + offset))
    sh = sh.filter(ImageFilter.GaussianBlur(blur))
    out.putalpha(sh)
    out.alpha_composite(card, (pad, pad))
    return out


def _down(im: Image.Image) -> np.ndarray:
    """Supersampled sprite → final-size uint8 RGBA array."""
    if SS != 1:
        im = im.resize((max(1, im.width // SS), max(1, im.height // SS)), Image.LANCZOS)
    return np.asarray(im, np.uint8)


# ---------------------------------------------------------------------------------------
# background

class _VideoBackground:
    """Reads a looping video in a thread at its own frame rate; keeps the latest frame."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        import cv2  # mediapipe's opencv-contrib build; imported lazily

        self._cv2 = cv2
        self.path = path
        self.size = (width, height)
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise ConfigError(f"background video {path} cannot be opened; use an MP4 (H.264)")
        ok, frame = cap.read()
        if not ok:
            raise ConfigError(f"background video {path} has no readable frames")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.period = 1.0 / fps if fps and 1 <= fps <= 240 else 1 / 30
        self._cap = cap
        self._lock = threading.Lock()
        self._latest = self._convert(frame)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vhuman-bg-video", daemon=True)
        self._thread.start()

    def _convert(self, bgr: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        w, h = self.size
        ih, iw = bgr.shape[:2]
        s = max(w / iw, h / ih)
        nw, nh = max(w, round(iw * s)), max(h, round(ih * s))
        r = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        x0, y0 = (nw - w) // 2, (nh - h) // 2
        return cv2.cvtColor(r[y0:y0 + h, x0:x0 + w], cv2.COLOR_BGR2RGBA)

    def _run(self) -> None:
        nxt = time.monotonic()
        while not self._stop.is_set():
            ok, frame = self._cap.read()
            if not ok:
                self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)  # loop
                ok, frame = self._cap.read()
                if not ok:
                    _log.warning("background video %s stopped yielding frames", self.path)
                    return
            rgba = self._convert(frame)
            with self._lock:
                self._latest = rgba
            # absolute schedule, like the tick: no drift from read/convert time
            nxt += self.period
            delay = nxt - time.monotonic()
            if delay < -1.0:
                nxt = time.monotonic()
            elif delay > 0:
                self._stop.wait(delay)

    def latest(self) -> np.ndarray:
        with self._lock:
            return self._latest

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._cap.release()


# ---------------------------------------------------------------------------------------
# the compositor

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
        self._video: _VideoBackground | None = None
        self._bg: np.ndarray | None = None
        self.scene = scene
        self.set_scene(scene)

    # -- scene / background -------------------------------------------------------------
    def set_scene(self, scene: Scene) -> None:
        """Switch layout; logs when the scene turns the AI label off."""
        self.scene = scene
        self._cache.clear()
        self._pending.clear()  # results of the old scene's jobs are dropped when they land
        self._shown.clear()
        if not scene.ai_label.enabled:
            _log.warning("AI label off in scene %r: %s", scene.name, scene.ai_label.reason)
        if self._video is not None:
            self._video.close()
            self._video = None
        bg = scene.background
        if bg.kind == "video" and bg.path is not None:
            self._video = _VideoBackground(bg.path, self.width, self.height)
            self._bg = None
        elif bg.kind == "image" and bg.path is not None:
            try:
                with Image.open(bg.path) as im:
                    fitted = ImageOps.fit(im.convert("RGBA"), (self.width, self.height),
                                          Image.LANCZOS)
            except OSError as exc:
                raise ConfigError(f"background image {bg.path}: {exc}") from None
            self._bg = np.asarray(fitted, np.uint8).copy()
            self._bg[..., 3] = 255
        else:
            self._bg = np.empty((self.height, self.width, 4), np.uint8)
            self._bg[..., :3] = bg.color
            self._bg[..., 3] = 255

    def background_rgba(self) -> np.ndarray:
        """The full-frame background (uint8 HxWx4) to clear to; a video gives its latest frame.

        The array is shared: read it, do not write into it.
        """
        if self._video is not None:
            return self._video.latest()
        assert self._bg is not None
        return self._bg

    def close(self) -> None:
        """Stop a background video thread and the rasteriser."""
        if self._video is not None:
            self._video.close()
            self._video = None
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
        if sc.ai_label.enabled:  # last, so nothing covers it; never deferred
            spr = self._get(("label", sc.ai_label.text), self._label_sprite, sync=True)
            x, y = self._anchor(sc.ai_label.position, spr, None)
            spr.blend(frame_rgba, x, y)
        return frame_rgba

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
    def _pill(self, text: str, size: float, fg: tuple[int, int, int],
              bg: tuple[int, int, int, int], bold: bool, prefix: tuple[str, tuple] | None = None
              ) -> np.ndarray:
        u = self.u * SS
        f = self.fonts.get(round(size * u), bold)
        pad_x, pad_y = round(14 * u), round(7 * u)
        asc, desc = f.getmetrics()
        tw = f.getlength(text)
        px = 0
        pf = None
        if prefix is not None:
            pf = self.fonts.get(round(size * 0.8 * u), True)
            px = int(pf.getlength(prefix[0]) + 2 * pad_x)
        w = int(tw + 2 * pad_x + px)
        h = int(asc + desc + 2 * pad_y)
        im = _rounded((w, h), h // 2, bg)
        d = ImageDraw.Draw(im)
        if prefix is not None and pf is not None:
            badge = _rounded((px, h), h // 2, prefix[1])
            im.alpha_composite(badge)
            d.text((pad_x, h / 2), prefix[0], font=pf, fill=(255, 255, 255), anchor="lm")
        d.text((px + pad_x, h / 2), text, font=f, fill=fg, anchor="lm")
        return _down(im)

    def _title_sprite(self, key: Any) -> Sprite:
        text = key[1][:40]
        return Sprite(self._pill(text, 22, (255, 255, 255), (0, 0, 0, 120), True,
                                 prefix=("● 直播中", (255, 59, 48, 255))))

    def _label_sprite(self, key: Any) -> Sprite:
        return Sprite(self._pill(key[1][:40], 18, (255, 255, 255), (20, 20, 20, 150), False))

    def _subtitle_sprite(self, key: Any) -> Sprite:
        text = key[1]
        u = self.u * SS
        max_w = min(self.width * 0.62, 820 * self.u) * SS
        f, lines = _fit_lines(text, self.fonts, round(30 * u), True, max_w, 2, round(22 * u))
        asc, desc = f.getmetrics()
        lh = asc + desc + round(4 * u)
        pad_x, pad_y = round(24 * u), round(12 * u)
        w = int(max(f.getlength(ln) for ln in lines) + 2 * pad_x)
        h = int(lh * len(lines) + 2 * pad_y - round(4 * u))
        im = _rounded((w, h), round(14 * u), (0, 0, 0, 150))
        d = ImageDraw.Draw(im)
        for i, ln in enumerate(lines):
            cx, y = w / 2, pad_y + i * lh
            # a thin dark outline keeps text legible where the bar is light
            d.text((cx, y), ln, font=f, fill=(255, 255, 255), anchor="ma",
                   stroke_width=max(1, round(1 * u)), stroke_fill=(0, 0, 0))
        return Sprite(_down(im))

    @property
    def _card_w(self) -> int:
        return round(300 * self.u * self.scene.product_card.scale)

    def card_rect(self, product: Product) -> tuple[int, int, int, int]:
        """Where the product card is drawn: (x, y, w, h) in frame pixels."""
        card = self._get(("card", product, self.scene.product_card.scale), self._card_sprite,
                         sync=True)
        x, y = self._anchor(self.scene.product_card, card.sprite, card.box)
        bx, by, bw, bh = card.box
        return x + bx, y + by, bw, bh

    def label_rect(self) -> tuple[int, int, int, int] | None:
        """Where the AI label is drawn (x, y, w, h), or None when the scene turns it off."""
        sc = self.scene
        if not sc.ai_label.enabled:
            return None
        spr = self._get(("label", sc.ai_label.text), self._label_sprite, sync=True)
        x, y = self._anchor(sc.ai_label.position, spr, None)
        return x + spr.ox, y + spr.oy, spr.w, spr.h

    def _card_sprite(self, key: Any) -> _Card:
        prod: Product = key[1]
        th = self.scene.theme
        u = self.u * self.scene.product_card.scale * SS
        W = round(300 * u)
        pad = round(16 * u)
        img_h = W - 2 * pad
        f_pt = self.fonts.get(round(16 * u), False)
        f_yen = self.fonts.get(round(22 * u), True)
        f_price = self.fonts.get(round(44 * u), True)
        f_orig = self.fonts.get(round(17 * u), False)
        f_tag = self.fonts.get(round(15 * u), True)
        name_lines = _fit_lines(prod.name, self.fonts, round(23 * u), True, W - 2 * pad, 2,
                                round(18 * u))
        pt_lines = _fit_lines(prod.points[0], self.fonts, round(16 * u), False, W - 2 * pad, 2,
                              round(14 * u))[1] if prod.points else []
        n_asc, n_desc = name_lines[0].getmetrics()
        nlh = n_asc + n_desc
        p_asc, p_desc = f_pt.getmetrics()
        plh = p_asc + p_desc
        price_h = round(58 * u)
        cd_h = round(40 * u)
        H = (pad + img_h + round(12 * u) + nlh * len(name_lines[1]) + round(6 * u)
             + plh * len(pt_lines) + round(8 * u) + price_h + cd_h + pad)
        card = _rounded((W, H), round(20 * u), (*th.card, 255))
        d = ImageDraw.Draw(card)
        # product image, letterboxed into a rounded square
        y = pad
        box = _rounded((img_h, img_h), round(14 * u), (244, 244, 244, 255))
        if prod.images:
            try:
                with Image.open(prod.images[0]) as pim:
                    pic = ImageOps.fit(pim.convert("RGBA"), (img_h, img_h), Image.LANCZOS)
                mask = _rounded((img_h, img_h), round(14 * u), (255, 255, 255, 255)).getchannel("A")
                box.paste(pic, (0, 0), mask)
            except OSError as exc:
                _log.warning("product %s image %s: %s", prod.id, prod.images[0], exc)
        card.alpha_composite(box, (pad, y))
        # a "直播价" tag on the image corner, as live rooms do
        tag = "直播价"
        tw = int(f_tag.getlength(tag) + 2 * round(10 * u))
        tgh = round(28 * u)
        tg = _rounded((tw, tgh), round(8 * u), (*th.accent, 255))
        ImageDraw.Draw(tg).text((tw / 2, tgh / 2), tag, font=f_tag, fill=(255, 255, 255),
                                anchor="mm")
        card.alpha_composite(tg, (pad + round(8 * u), y + round(8 * u)))
        y += img_h + round(12 * u)
        for ln in name_lines[1]:
            d.text((pad, y), ln, font=name_lines[0], fill=th.text)
            y += nlh
        y += round(6 * u)
        for ln in pt_lines:
            d.text((pad, y), ln, font=f_pt, fill=th.muted)
            y += plh
        y += round(8 * u)
        # price row: ¥ + big price in the accent colour, struck original price after it
        base = y + round(48 * u)
        d.text((pad, base), "¥", font=f_yen, fill=th.accent, anchor="ls")
        x = pad + f_yen.getlength("¥") + round(2 * u)
        d.text((x, base), prod.price, font=f_price, fill=th.accent, anchor="ls")
        x += f_price.getlength(prod.price) + round(10 * u)
        if prod.original_price is not None:
            orig = f"¥{prod.original_price}"
            d.text((x, base), orig, font=f_orig, fill=th.muted, anchor="ls")
            ow = f_orig.getlength(orig)
            sy = base - round(7 * u)
            d.line((x - round(1 * u), sy, x + ow + round(1 * u), sy), fill=th.muted,
                   width=max(1, round(2 * u)))
        if prod.stock is not None:
            s = f"仅剩 {prod.stock} 件"
            d.text((W - pad, base), s, font=f_pt, fill=th.accent2, anchor="rs")
        y += price_h  # the countdown strip goes here when the product has one
        out = _down(_shadowed(card, round(10 * u), round(4 * u), 90))
        pad_sh = round(10 * u) * 2 // SS
        return _Card(Sprite(out), (pad_sh, pad_sh, W // SS, H // SS),
                     (pad_sh + pad // SS, pad_sh + y // SS))

    def _countdown_sprite(self, key: Any) -> Sprite:
        left = key[1]
        th = self.scene.theme
        u = self.u * self.scene.product_card.scale * SS
        W = round(300 * u) - 2 * round(16 * u)
        h = round(34 * u)
        im = Image.new("RGBA", (W, h), (0, 0, 0, 0))
        grad = np.zeros((h, W, 4), np.uint8)
        t = np.linspace(0, 1, W, dtype=np.float32)[None, :, None]
        grad[..., :3] = (np.array(th.accent, np.float32) * (1 - t)
                         + np.array(th.accent2, np.float32) * t).astype(np.uint8)
        grad[..., 3] = 255
        mask = _rounded((W, h), h // 2, (255, 255, 255, 255)).getchannel("A")
        im.paste(Image.fromarray(grad, "RGBA"), (0, 0), mask)
        f = self.fonts.get(round(17 * u), True)
        mm, ss = divmod(int(left), 60)
        hh, mm = divmod(mm, 60)
        clock = f"{hh:d}:{mm:02d}:{ss:02d}" if hh else f"{mm:02d}:{ss:02d}"
        text = f"限时优惠 · 还剩 {clock}" if left > 0 else "限时优惠已结束"
        ImageDraw.Draw(im).text((W / 2, h / 2), text, font=f, fill=(255, 255, 255), anchor="mm")
        return Sprite(_down(im))



@dataclass(frozen=True, slots=True)
class _Card:
    sprite: Sprite
    box: tuple[int, int, int, int]      # the card's visible rect inside the sprite image
    countdown_at: tuple[int, int]       # where the countdown strip goes, same coordinates
