"""The product card: what is on sale, drawn the way live rooms show it.

A picture with a "直播价" tag, the name, the first selling point, the price in the accent
colour with the struck-through original price, stock left, and room for a countdown strip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from vhuman.scenes.overlays.sprites import SS, Sprite, downsampled, rounded, shadowed
from vhuman.scenes.overlays.text import Fonts, fit_lines
from vhuman.scenes.scene import Theme
from vhuman.scenes.show import Product

_log = logging.getLogger("vhuman.compositor")


@dataclass(frozen=True, slots=True)
class Card:
    """A rasterised product card and where its parts are."""

    sprite: Sprite
    box: tuple[int, int, int, int]      # the card's visible rect inside the sprite image
    countdown_at: tuple[int, int]       # where the countdown strip goes, same coordinates


def product_card(fonts: Fonts, theme: Theme, u: float, prod: Product) -> Card:
    """The card of the product on screen: picture, name, selling point, price, stock.

    Args:
        fonts: the faces.
        theme: the scene's colours.
        u: the layout unit (frame height / 720) times the scene's card scale.
        prod: the product.
    """
    th = theme
    u = u * SS
    W = round(300 * u)
    pad = round(16 * u)
    img_h = W - 2 * pad
    f_pt = fonts.get(round(16 * u), False)
    f_yen = fonts.get(round(22 * u), True)
    f_price = fonts.get(round(44 * u), True)
    f_orig = fonts.get(round(17 * u), False)
    f_tag = fonts.get(round(15 * u), True)
    name_lines = fit_lines(prod.name, fonts, round(23 * u), True, W - 2 * pad, 2,
                            round(18 * u))
    pt_lines = fit_lines(prod.points[0], fonts, round(16 * u), False, W - 2 * pad, 2,
                          round(14 * u))[1] if prod.points else []
    n_asc, n_desc = name_lines[0].getmetrics()
    nlh = n_asc + n_desc
    p_asc, p_desc = f_pt.getmetrics()
    plh = p_asc + p_desc
    price_h = round(58 * u)
    cd_h = round(40 * u)
    H = (pad + img_h + round(12 * u) + nlh * len(name_lines[1]) + round(6 * u)
         + plh * len(pt_lines) + round(8 * u) + price_h + cd_h + pad)
    card = rounded((W, H), round(20 * u), (*th.card, 255))
    d = ImageDraw.Draw(card)
    # product image, letterboxed into a rounded square
    y = pad
    box = rounded((img_h, img_h), round(14 * u), (244, 244, 244, 255))
    if prod.images:
        try:
            with Image.open(prod.images[0]) as pim:
                pic = ImageOps.fit(pim.convert("RGBA"), (img_h, img_h), Image.LANCZOS)
            mask = rounded((img_h, img_h), round(14 * u), (255, 255, 255, 255)).getchannel("A")
            box.paste(pic, (0, 0), mask)
        except OSError as exc:
            _log.warning("product %s image %s: %s", prod.id, prod.images[0], exc)
    card.alpha_composite(box, (pad, y))
    # a "直播价" tag on the image corner, as live rooms do
    tag = "直播价"
    tw = int(f_tag.getlength(tag) + 2 * round(10 * u))
    tgh = round(28 * u)
    tg = rounded((tw, tgh), round(8 * u), (*th.accent, 255))
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
    out = downsampled(shadowed(card, round(10 * u), round(4 * u), 90))
    pad_sh = round(10 * u) * 2 // SS
    return Card(Sprite(out), (pad_sh, pad_sh, W // SS, H // SS),
                 (pad_sh + pad // SS, pad_sh + y // SS))


def countdown_strip(fonts: Fonts, theme: Theme, u: float, left: int) -> Sprite:
    """The "limited offer" strip under the price, with ``left`` whole seconds to go.

    Args:
        fonts: the faces.
        theme: the scene's colours (the strip fades from accent to accent2).
        u: the layout unit (frame height / 720) times the scene's card scale.
        left: seconds left; 0 says the offer has ended.
    """
    th = theme
    u = u * SS
    W = round(300 * u) - 2 * round(16 * u)
    h = round(34 * u)
    im = Image.new("RGBA", (W, h), (0, 0, 0, 0))
    grad = np.zeros((h, W, 4), np.uint8)
    t = np.linspace(0, 1, W, dtype=np.float32)[None, :, None]
    grad[..., :3] = (np.array(th.accent, np.float32) * (1 - t)
                     + np.array(th.accent2, np.float32) * t).astype(np.uint8)
    grad[..., 3] = 255
    mask = rounded((W, h), h // 2, (255, 255, 255, 255)).getchannel("A")
    im.paste(Image.fromarray(grad, "RGBA"), (0, 0), mask)
    f = fonts.get(round(17 * u), True)
    mm, ss = divmod(int(left), 60)
    hh, mm = divmod(mm, 60)
    clock = f"{hh:d}:{mm:02d}:{ss:02d}" if hh else f"{mm:02d}:{ss:02d}"
    text = f"限时优惠 · 还剩 {clock}" if left > 0 else "限时优惠已结束"
    ImageDraw.Draw(im).text((W / 2, h / 2), text, font=f, fill=(255, 255, 255), anchor="mm")
    return Sprite(downsampled(im))
