"""Scene files: the look of a live room.

A scene says what is behind the host (a colour, an image or a looping video), where the
avatar stands and how close the camera is, the key and fill lights, where each overlay goes
(product card, subtitles, room title) and the AI label. Everything has a default, so an
empty file is a valid scene. The format is documented in ``docs/show-format.md``.

The AI label 「AI 生成 · 虚拟主播」 is on unless the file says ``ai_label: off`` *and*
gives ``ai_label_reason`` (or ``ai_label: {enabled: false, reason: ...}``); turning it
off without a reason is a validation error, and a scene loaded with it off is logged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vhuman.core.light import Light
from vhuman.scenes.yamlsrc import (
    LineDict,
    Problems,
    is_number,
    load_yaml,
    read_yaml_file,
    unknown_keys,
)

DEFAULT_AI_LABEL = "AI 生成 · 虚拟主播"
ANCHORS = ("top-left", "top", "top-right", "left", "center", "right",
           "bottom-left", "bottom", "bottom-right")
_log = logging.getLogger("vhuman.scenes")

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an overlay goes: a named anchor, or the fractional (x, y) of its top-left."""

    enabled: bool = True
    anchor: str = "top-left"
    xy: tuple[float, float] | None = None
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class _FileLight:
    """A light as a scene file writes it (turned into a :class:`Light` at the edge).

    Display RGB 0..1, intensity (1 = the standard key), direction the light travels.
    """

    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    direction: tuple[float, float, float] = (-0.4, -0.5, -1.0)

    def light(self) -> Light:
        return Light.from_scene(travels=self.direction, display_color=self.color,
                                relative=self.intensity)


#: What a scene gets for the fields it leaves out of ``lights.key`` / ``lights.fill``.
DEFAULT_KEY = _FileLight()
DEFAULT_FILL = _FileLight(color=(0.85, 0.9, 1.0), intensity=0.45, direction=(0.6, -0.2, -1.0))


@dataclass(frozen=True, slots=True)
class Background:
    """``kind`` is ``color``, ``image`` or ``video``; ``path`` is set for the last two."""

    kind: str = "color"
    color: RGB = (236, 228, 220)
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class AiLabel:
    """The always-on AI disclosure label."""

    enabled: bool = True
    text: str = DEFAULT_AI_LABEL
    position: Placement = Placement(anchor="top-right")
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Theme:
    """Colours of the overlays."""

    accent: RGB = (255, 59, 48)        # price, countdown: the red/orange of live-commerce
    accent2: RGB = (255, 128, 0)
    card: RGB = (255, 255, 255)
    text: RGB = (34, 34, 34)
    muted: RGB = (140, 140, 140)


@dataclass(frozen=True, slots=True)
class Scene:
    """A parsed scene file (all fields have defaults)."""

    name: str = "default"
    title: str | None = None
    background: Background = Background()
    avatar_x: float = 0.0          # horizontal offset, fraction of frame width (-0.5..0.5)
    avatar_scale: float = 1.0
    avatar_file: Path | None = None        # avatar.file: the host's .glb/.gltf/.vrm
    avatar_overrides: Path | None = None   # avatar.overrides: its override file
    camera_zoom: float = 1.0
    key_light: Light | None = None    # None: the renderer's own studio rig
    fill_light: Light | None = None
    product_card: Placement = Placement(anchor="right")
    subtitles: Placement = Placement(anchor="bottom")
    title_overlay: Placement = Placement(anchor="top-left")
    ai_label: AiLabel = AiLabel()
    theme: Theme = Theme()
    path: Path | None = field(default=None, compare=False)


def default_scene() -> Scene:
    """The scene used when a show names none."""
    return Scene()


def parse_color(v: Any) -> RGB | None:
    """``"#rrggbb"``, ``"#rgb"`` or ``[r, g, b]`` (0..255) → tuple, else None."""
    if isinstance(v, str):
        m = re.fullmatch(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})", v.strip())
        if not m:
            return None
        h = m.group(1)
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if isinstance(v, list) and len(v) == 3 and all(is_number(c) and 0 <= c <= 255 for c in v):
        return (int(v[0]), int(v[1]), int(v[2]))
    return None


def _placement(v: Any, line: int, where: str, probs: Problems, default: Placement) -> Placement:
    """Parse ``right`` | ``[0.7, 0.2]`` | ``{position: right, enabled: false, scale: 1.2}``."""
    if v is None:
        return default
    if v is False or v == "off":
        return replace(default, enabled=False)
    if isinstance(v, str):
        if v not in ANCHORS:
            probs.add(line, f"{where}: unknown position {v!r}",
                      f"use one of {', '.join(ANCHORS)} or [x, y] fractions of the frame")
            return default
        return replace(default, anchor=v, xy=None)
    if isinstance(v, list):
        if len(v) == 2 and all(is_number(c) and 0 <= c <= 1 for c in v):
            return replace(default, xy=(float(v[0]), float(v[1])))
        probs.add(line, f"{where}: position {v!r} is not [x, y] with 0..1 fractions",
                  "e.g. [0.7, 0.2] puts the top-left corner 70% across, 20% down")
        return default
    if isinstance(v, LineDict):
        unknown_keys(v, ("position", "enabled", "scale"), where, probs)
        p = default
        if "position" in v:
            p = _placement(v["position"], v.key_line("position"), where, probs, p)
        if "enabled" in v:
            if not isinstance(v["enabled"], bool):
                probs.add(v.key_line("enabled"), f"{where}.enabled must be true or false")
            else:
                p = replace(p, enabled=v["enabled"])
        if "scale" in v:
            s = v["scale"]
            if not is_number(s) or not 0.25 <= s <= 4:
                probs.add(v.key_line("scale"), f"{where}.scale must be a number 0.25..4")
            else:
                p = replace(p, scale=float(s))
        return p
    probs.add(line, f"{where}: expected a position name, [x, y] or a mapping")
    return default


def _vec3(v: Any, line: int, where: str, probs: Problems, lo: float, hi: float
          ) -> tuple[float, float, float] | None:
    if isinstance(v, list) and len(v) == 3 and all(is_number(c) and lo <= c <= hi for c in v):
        return (float(v[0]), float(v[1]), float(v[2]))
    probs.add(line, f"{where} must be three numbers in {lo}..{hi}", "e.g. [-0.4, -0.5, -1]")
    return None


def _light(v: Any, line: int, where: str, probs: Problems, default: _FileLight) -> Light:
    if not isinstance(v, LineDict):
        probs.add(line, f"{where} must be a mapping with color, intensity, direction")
        return default.light()
    unknown_keys(v, ("color", "intensity", "direction"), where, probs)
    out = default
    if "color" in v:
        c = parse_color(v["color"])
        if c is None:
            probs.add(v.key_line("color"), f"{where}.color {v['color']!r} is not a colour",
                      'write "#ffeedd" or [255, 238, 221]')
        else:
            out = replace(out, color=tuple(x / 255 for x in c))
    if "intensity" in v:
        i = v["intensity"]
        if not is_number(i) or not 0 <= i <= 10:
            probs.add(v.key_line("intensity"), f"{where}.intensity must be a number 0..10")
        else:
            out = replace(out, intensity=float(i))
    if "direction" in v:
        d = _vec3(v["direction"], v.key_line("direction"), f"{where}.direction", probs, -1e3, 1e3)
        if d is not None:
            if d == (0.0, 0.0, 0.0):
                probs.add(v.key_line("direction"), f"{where}.direction cannot be [0, 0, 0]")
            else:
                out = replace(out, direction=d)
    return out.light()


SCENE_KEYS = ("name", "title", "background", "avatar", "camera", "lights", "overlays",
              "ai_label", "ai_label_reason", "theme")


def parse_scene(data: Any, file: str | Path, probs: Problems, base_dir: Path | None = None
                ) -> Scene:
    """Validate a parsed scene mapping, adding every problem to ``probs``."""
    base = base_dir if base_dir is not None else Path(file).parent
    if data is None:
        return Scene(path=Path(file))
    if not isinstance(data, LineDict):
        probs.add(getattr(data, "line", 1), "a scene file must be a mapping of keys",
                  "start with e.g. 'title: 春季新品直播间'")
        return Scene(path=Path(file))
    unknown_keys(data, SCENE_KEYS, "scene", probs)
    s = Scene(path=Path(file))
    L = data.key_line
    for key in ("name", "title"):
        if key in data:
            if not isinstance(data[key], (str, int, float)) or isinstance(data[key], bool):
                probs.add(L(key), f"{key} must be text")
            else:
                s = replace(s, **{key: str(data[key])})
    if "background" in data:
        s = replace(s, background=_background(data["background"], L("background"), base, probs))
    if "avatar" in data:
        a = data["avatar"]
        if isinstance(a, str):  # avatar: host.glb
            s = replace(s, avatar_file=_avatar_path(a, L("avatar"), "avatar", base, probs))
        elif not isinstance(a, LineDict):
            probs.add(L("avatar"), "avatar must be a file path or a mapping with file, "
                      "overrides, x and scale")
        else:
            unknown_keys(a, ("file", "overrides", "x", "scale"), "avatar", probs)
            for key, attr in (("file", "avatar_file"), ("overrides", "avatar_overrides")):
                if key in a:
                    s = replace(s, **{attr: _avatar_path(a[key], a.key_line(key),
                                                         f"avatar.{key}", base, probs)})
            if s.avatar_overrides is not None and s.avatar_file is None:
                probs.add(a.key_line("overrides"), "avatar.overrides needs avatar.file",
                          "overrides belong to an avatar file; add file: your_host.glb")
            if "x" in a:
                if not is_number(a["x"]) or not -0.5 <= a["x"] <= 0.5:
                    probs.add(a.key_line("x"), "avatar.x must be a number -0.5..0.5",
                              "it shifts the host sideways by that fraction of the frame width")
                else:
                    s = replace(s, avatar_x=float(a["x"]))
            if "scale" in a:
                if not is_number(a["scale"]) or not 0.2 <= a["scale"] <= 5:
                    probs.add(a.key_line("scale"), "avatar.scale must be a number 0.2..5")
                else:
                    s = replace(s, avatar_scale=float(a["scale"]))
    if "camera" in data:
        c = data["camera"]
        if not isinstance(c, LineDict):
            probs.add(L("camera"), "camera must be a mapping, e.g. {zoom: 1.2}")
        else:
            unknown_keys(c, ("zoom",), "camera", probs)
            if "zoom" in c:
                if not is_number(c["zoom"]) or not 0.25 <= c["zoom"] <= 8:
                    probs.add(c.key_line("zoom"), "camera.zoom must be a number 0.25..8",
                              "1 frames head and shoulders; 1.5 is closer")
                else:
                    s = replace(s, camera_zoom=float(c["zoom"]))
    if "lights" in data:
        li = data["lights"]
        if not isinstance(li, LineDict):
            probs.add(L("lights"), "lights must be a mapping with key and fill")
        else:
            unknown_keys(li, ("key", "fill"), "lights", probs)
            if "key" in li:
                s = replace(s, key_light=_light(li["key"], li.key_line("key"), "lights.key",
                                                probs, DEFAULT_KEY))
            if "fill" in li:
                s = replace(s, fill_light=_light(li["fill"], li.key_line("fill"), "lights.fill",
                                                 probs, DEFAULT_FILL))
    if "overlays" in data:
        ov = data["overlays"]
        if not isinstance(ov, LineDict):
            probs.add(L("overlays"), "overlays must be a mapping: product_card, subtitles, title")
        else:
            unknown_keys(ov, ("product_card", "subtitles", "title"), "overlays", probs)
            for key, attr in (("product_card", "product_card"), ("subtitles", "subtitles"),
                              ("title", "title_overlay")):
                if key in ov:
                    s = replace(s, **{attr: _placement(ov[key], ov.key_line(key),
                                                       f"overlays.{key}", probs,
                                                       getattr(s, attr))})
    if "theme" in data:
        th = data["theme"]
        if not isinstance(th, LineDict):
            probs.add(L("theme"), "theme must be a mapping of colours")
        else:
            names = ("accent", "accent2", "card", "text", "muted")
            unknown_keys(th, names, "theme", probs)
            t = s.theme
            for k in names:
                if k in th:
                    c = parse_color(th[k])
                    if c is None:
                        probs.add(th.key_line(k), f"theme.{k} {th[k]!r} is not a colour",
                                  'write "#ff3b30" or [255, 59, 48]')
                    else:
                        t = replace(t, **{k: c})
            s = replace(s, theme=t)
    s = replace(s, ai_label=_ai_label(data, probs))
    if not s.ai_label.enabled:
        _log.warning("%s: AI label turned off; reason: %s", file, s.ai_label.reason)
    return s


def _avatar_path(v: Any, line: int, where: str, base: Path, probs: Problems) -> Path | None:
    """A file named in the scene, relative to the scene file; it must exist."""
    if not isinstance(v, str) or not v.strip():
        probs.add(line, f"{where} must be a file path")
        return None
    p = (base / v).expanduser().resolve()
    if not p.is_file():
        probs.add(line, f"{where} {v!r} not found (looked at {p})",
                  "paths are relative to this file")
        return None
    return p


def _background(v: Any, line: int, base: Path, probs: Problems) -> Background:
    if isinstance(v, str) and parse_color(v) is not None:
        return Background("color", parse_color(v))
    if isinstance(v, list):
        c = parse_color(v)
        if c is None:
            probs.add(line, "background colour must be [r, g, b] with 0..255 each")
            return Background()
        return Background("color", c)
    if not isinstance(v, LineDict):
        probs.add(line, "background must be a colour or a mapping with color, image or video",
                  'e.g. background: "#f4ede4" or background: {image: studio.jpg}')
        return Background()
    unknown_keys(v, ("color", "image", "video"), "background", probs)
    kinds = [k for k in ("color", "image", "video") if k in v]
    if len(kinds) != 1:
        probs.add(line, "background needs exactly one of color, image, video",
                  f"found: {', '.join(kinds) or 'none'}")
        return Background()
    kind = kinds[0]
    if kind == "color":
        c = parse_color(v["color"])
        if c is None:
            probs.add(v.key_line("color"), f"background color {v['color']!r} is not a colour",
                      'write "#f4ede4" or [244, 237, 228]')
            return Background()
        return Background("color", c)
    raw = v[kind]
    if not isinstance(raw, str) or not raw:
        probs.add(v.key_line(kind), f"background {kind} must be a file path")
        return Background()
    p = (base / raw).resolve()
    if not p.is_file():
        probs.add(v.key_line(kind), f"background {kind} {raw!r} not found (looked at {p})",
                  "paths are relative to this file")
        return Background()
    return Background(kind, Background().color, p)


def _ai_label(data: LineDict, probs: Problems) -> AiLabel:
    label = AiLabel()
    v = data.get("ai_label", None)
    line = data.key_line("ai_label")
    reason = data.get("ai_label_reason")
    if v is None and "ai_label" not in data:
        if reason is not None:
            probs.add(data.key_line("ai_label_reason"),
                      "ai_label_reason given but the label is not turned off",
                      "remove ai_label_reason, or add 'ai_label: off'")
        return label
    enabled = True
    if v is False or v == "off":
        enabled = False
    elif v is True or v == "on":
        enabled = True
    elif isinstance(v, str):
        label = replace(label, text=v)
    elif isinstance(v, LineDict):
        unknown_keys(v, ("enabled", "text", "position", "reason"), "ai_label", probs)
        if "enabled" in v:
            if v["enabled"] in (False, "off"):
                enabled = False
            elif v["enabled"] not in (True, "on"):
                probs.add(v.key_line("enabled"), "ai_label.enabled must be on or off")
        if "text" in v:
            if not isinstance(v["text"], str) or not v["text"].strip():
                probs.add(v.key_line("text"), "ai_label.text must be non-empty text",
                          f"the default is {DEFAULT_AI_LABEL!r}")
            else:
                label = replace(label, text=v["text"])
        if "position" in v:
            label = replace(label, position=_placement(
                v["position"], v.key_line("position"), "ai_label.position", probs,
                label.position))
        if "reason" in v:
            if reason is not None:
                probs.add(v.key_line("reason"), "reason given twice (ai_label.reason and "
                          "ai_label_reason)", "keep one")
            reason = v["reason"]
    else:
        probs.add(line, "ai_label must be text, off, or a mapping (text, position, enabled)")
    if not enabled:
        if not isinstance(reason, str) or not reason.strip():
            probs.add(line, "the AI label is turned off without a reason",
                      "viewers must be told the host is AI-generated; keep the label on, or "
                      "add ai_label_reason: \"...\" (e.g. disclosed by the platform's own "
                      "badge) — the reason is logged")
            return label
        return replace(label, enabled=False, reason=reason.strip())
    return label


def load_scene(path: str | Path) -> Scene:
    """Load and validate a scene file; raises FileProblems listing every problem."""
    p = Path(path)
    data = read_yaml_file(p)
    probs = Problems(p)
    scene = parse_scene(data, p, probs)
    probs.raise_if_any()
    return scene


def load_scene_text(text: str, file: str = "<scene>", base_dir: Path | None = None) -> Scene:
    """Parse a scene from YAML text (for tests and the control API)."""
    data = load_yaml(text, file)
    probs = Problems(file)
    scene = parse_scene(data, file, probs, base_dir or Path.cwd())
    probs.raise_if_any()
    return scene
