"""Draws the demo's product pictures with Pillow (run once; the PNGs are committed).

python examples/products/make_images.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SIZE = 320
OUT = Path(__file__).parent


def _canvas(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    img = Image.new("RGB", (SIZE, SIZE))
    d = ImageDraw.Draw(img)
    for y in range(SIZE):
        t = y / (SIZE - 1)
        d.line([(0, y), (SIZE, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    return img


def _shadow(img: Image.Image, box: tuple[int, int, int, int]) -> None:
    sh = Image.new("L", img.size, 0)
    ImageDraw.Draw(sh).ellipse(box, fill=110)
    sh = sh.filter(ImageFilter.GaussianBlur(10))
    img.paste((60, 50, 40), mask=sh)


def tea() -> Image.Image:
    """A 320x320 picture of a tin of tea."""
    img = _canvas((236, 244, 230), (205, 222, 196))
    _shadow(img, (80, 262, 240, 292))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((95, 70, 225, 275), 18, fill=(46, 110, 70))       # tin
    d.rounded_rectangle((88, 55, 232, 88), 10, fill=(30, 80, 50))          # lid
    d.rectangle((95, 130, 225, 210), fill=(240, 230, 200))                 # label
    for i, x in enumerate((125, 160, 195)):                                # tea leaves
        d.ellipse((x - 14, 150 + (i % 2) * 8, x + 14, 185 + (i % 2) * 8), fill=(90, 150, 70))
        d.line((x, 152 + (i % 2) * 8, x, 183 + (i % 2) * 8), fill=(60, 110, 50), width=2)
    d.rectangle((95, 225, 225, 232), fill=(200, 160, 60))
    return img


def scarf() -> Image.Image:
    """A 320x320 picture of a folded red scarf."""
    img = _canvas((250, 236, 236), (236, 210, 214))
    _shadow(img, (50, 250, 270, 285))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((60, 90, 260, 265), 40, fill=(196, 60, 70))        # folded scarf
    for y in range(100, 260, 22):
        d.line((70, y, 250, y), fill=(226, 120, 120), width=6)
    for x in range(80, 250, 34):
        d.line((x, 95, x, 260), fill=(160, 40, 55), width=3)
    d.polygon([(200, 190), (262, 300), (226, 305)], fill=(180, 50, 62))    # hanging end
    for x in range(206, 262, 8):
        d.line((x, 300, x + 2, 318), fill=(180, 50, 62), width=3)
    return img


def mug() -> Image.Image:
    """A 320x320 picture of a mug of coffee."""
    img = _canvas((234, 240, 250), (206, 216, 236))
    _shadow(img, (70, 255, 230, 288))
    d = ImageDraw.Draw(img)
    d.ellipse((210, 130, 280, 220), outline=(240, 240, 245), width=16)    # handle
    d.rounded_rectangle((70, 95, 230, 275), 22, fill=(245, 245, 248))     # body
    d.ellipse((70, 80, 230, 115), fill=(250, 250, 252))                   # rim
    d.ellipse((80, 86, 220, 110), fill=(120, 72, 40))                     # coffee
    d.rounded_rectangle((100, 160, 200, 200), 10, fill=(70, 110, 200))    # band
    for k in range(3):                                                   # steam
        x = 115 + 35 * k
        d.arc((x - 10, 30, x + 10, 70), 90, 270, fill=(200, 200, 210), width=4)
        d.arc((x - 10, 50, x + 10, 90), 270, 90, fill=(200, 200, 210), width=4)
    return img


if __name__ == "__main__":
    for name, fn in (("tea", tea), ("scarf", scarf), ("mug", mug)):
        fn().save(OUT / f"{name}.png", optimize=True)
