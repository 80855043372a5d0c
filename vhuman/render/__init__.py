"""Offscreen avatar rendering (moderngl over EGL): renderer, camera, studio lights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vhuman.render.camera import Camera, Light, Lights
from vhuman.render.renderer import AA_MODES, FrameTimings, Renderer, create_context

__all__ = ["AA_MODES", "Camera", "FrameTimings", "Light", "Lights", "Renderer",
           "create_context", "renderer_factory"]


def renderer_factory(avatar: Any, width: int, height: int,
                     **options: Any) -> Callable[[Any], Renderer]:
    """``make(view)`` for the engine.

    It builds a :class:`Renderer` with the view's camera, lights and background (any
    object with those attributes; ``None`` = default).
    """

    def make(view: Any) -> Renderer:
        kwargs = dict(options)
        if getattr(view, "background", None) is not None:
            kwargs["background"] = view.background
        return Renderer(avatar, width, height, camera=getattr(view, "camera", None),
                        lights=getattr(view, "lights", None), **kwargs)

    return make
