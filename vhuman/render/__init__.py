"""Offscreen avatar rendering (moderngl over EGL): renderer, camera, studio lights."""

from vhuman.render.camera import Camera, Light, Lights
from vhuman.render.renderer import AA_MODES, FrameTimings, Renderer, create_context

__all__ = ["AA_MODES", "Camera", "FrameTimings", "Light", "Lights", "Renderer", "create_context"]
