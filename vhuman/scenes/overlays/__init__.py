"""Overlay pixels: what is drawn over the host in every frame, and the background behind it.

- :mod:`~vhuman.scenes.overlays.state` — :class:`OverlayState`, what the overlays show now.
- :mod:`~vhuman.scenes.overlays.compositor` — :class:`Compositor`: lays out the title, the
  product card, the subtitle and the AI label, and blends them into each frame.
- :mod:`~vhuman.scenes.overlays.card` — the product card and its countdown strip.
- :mod:`~vhuman.scenes.overlays.text` — CJK fonts, line breaking, text sprites.
- :mod:`~vhuman.scenes.overlays.sprites` — the sprite type and its alpha blending.
- :mod:`~vhuman.scenes.overlays.background` — colour, image or looping-video background.
"""
