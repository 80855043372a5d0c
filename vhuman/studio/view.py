"""A scene as the engine's view: camera framing, studio lights, clear colour."""

from __future__ import annotations

from vhuman.core.light import srgb_to_linear
from vhuman.render.camera import Camera, Lights
from vhuman.scenes.scene import Scene

#: What the renderer clears to under an image or video background (blended after).
TRANSPARENT = (0.0, 0.0, 0.0, 0.0)


def scene_lights(scene: Scene) -> Lights:
    """The studio rig with the scene's key and fill where it sets them (rim, ambient stay)."""
    rig = Lights()
    return Lights(key=scene.key_light or rig.key, fill=scene.fill_light or rig.fill,
                  rim=rig.rim, sky=rig.sky, ground=rig.ground, exposure=rig.exposure)


def scene_camera(scene: Scene, avatar, aspect: float) -> Camera:
    """Where the avatar stands and how close the camera is (the face on the upper third)."""
    return Camera.head_and_shoulders(avatar, aspect, zoom=scene.camera_zoom * scene.avatar_scale,
                                     offset_x=scene.avatar_x)


def scene_background(scene: Scene) -> tuple[float, float, float, float]:
    """The clear colour: the scene's solid colour, or transparent under an image/video."""
    bg = scene.background
    if bg.kind == "color":
        return tuple(srgb_to_linear(c / 255.0) for c in bg.color) + (1.0,)
    return TRANSPARENT
