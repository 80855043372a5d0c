"""Text for overlays: finding Noto Sans CJK, breaking lines, and drawing text sprites.

Line breaking follows Chinese typesetting: CJK breaks between any two characters, Latin
words stay whole, and closing punctuation never starts a line (kinsoku).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ImageDraw, ImageFont

from vhuman.core.errors import MissingDependencyError
from vhuman.scenes.overlays.sprites import SS, Sprite, downsampled, rounded

FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk",
             "/usr/share/fonts/google-noto-cjk", "/usr/local/share/fonts")
FONT_INSTALL = "sudo apt-get install fonts-noto-cjk   (Debian/Ubuntu)"

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
        """The font of ``size`` pixels (bold or regular), loaded once and cached."""
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


# -- line breaking ------------------------------------------------------------------------

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


def fit_lines(text: str, fonts: Fonts, size: int, bold: bool, max_w: float, max_lines: int,
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


# -- text sprites -------------------------------------------------------------------------

def pill(fonts: Fonts, u: float, text: str, size: float, fg: tuple[int, int, int],
         bg: tuple[int, int, int, int], bold: bool, prefix: tuple[str, tuple] | None = None
         ) -> np.ndarray:
    """Text on a rounded pill (the title, the AI label), with an optional coloured badge.

    Args:
        fonts: the faces.
        u: the layout unit (frame height / 720).
        text: one line of text.
        size: font size at 720p.
        fg: text colour.
        bg: pill colour with alpha.
        bold: bold face.
        prefix: a badge before the text: (text, RGBA colour).

    Returns:
        The final-size RGBA image.
    """
    u = u * SS
    f = fonts.get(round(size * u), bold)
    pad_x, pad_y = round(14 * u), round(7 * u)
    asc, desc = f.getmetrics()
    tw = f.getlength(text)
    px = 0
    pf = None
    if prefix is not None:
        pf = fonts.get(round(size * 0.8 * u), True)
        px = int(pf.getlength(prefix[0]) + 2 * pad_x)
    w = int(tw + 2 * pad_x + px)
    h = int(asc + desc + 2 * pad_y)
    im = rounded((w, h), h // 2, bg)
    d = ImageDraw.Draw(im)
    if prefix is not None and pf is not None:
        badge = rounded((px, h), h // 2, prefix[1])
        im.alpha_composite(badge)
        d.text((pad_x, h / 2), prefix[0], font=pf, fill=(255, 255, 255), anchor="lm")
    d.text((px + pad_x, h / 2), text, font=f, fill=fg, anchor="lm")
    return downsampled(im)


def subtitle_bar(fonts: Fonts, u: float, text: str, max_w: float) -> Sprite:
    """The subtitle: up to two wrapped, outlined lines on a dark rounded bar.

    Args:
        fonts: the faces.
        u: the layout unit (frame height / 720).
        text: the line being spoken.
        max_w: the widest the text may be, in frame pixels.
    """
    u = u * SS
    max_w = max_w * SS
    f, lines = fit_lines(text, fonts, round(30 * u), True, max_w, 2, round(22 * u))
    asc, desc = f.getmetrics()
    lh = asc + desc + round(4 * u)
    pad_x, pad_y = round(24 * u), round(12 * u)
    w = int(max(f.getlength(ln) for ln in lines) + 2 * pad_x)
    h = int(lh * len(lines) + 2 * pad_y - round(4 * u))
    im = rounded((w, h), round(14 * u), (0, 0, 0, 150))
    d = ImageDraw.Draw(im)
    for i, ln in enumerate(lines):
        cx, y = w / 2, pad_y + i * lh
        # a thin dark outline keeps text legible where the bar is light
        d.text((cx, y), ln, font=f, fill=(255, 255, 255), anchor="ma",
               stroke_width=max(1, round(1 * u)), stroke_fill=(0, 0, 0))
    return Sprite(downsampled(im))
