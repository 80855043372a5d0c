"""Scene files: the look of a live room.

A scene says what is behind the host (a colour, an image or a looping video), where the
avatar stands and how close the camera is, the key and fill lights, where each overlay goes
(product card, subtitles, room title) and the AI label. Everything has a default, so an
empty file is a valid scene. The format is documented in ``docs/show-format.md``.

The AI label is law (:mod:`vhuman.safety.label`): it always shows the fixed disclosure
「AI 生成」 / "AI generated" (``ai_label.language``), and a scene may only add words after
it (``ai_label: {text: 虚拟主播}``). A file that tries to turn it off (``ai_label: off``,
``enabled: false``, ``position: off``, ``ai_label_reason``) is refused with its line, and
label words or a title that claim the host is a real person are refused too.

Scenes that arrive over the network are parsed with ``roots``: every file they name
(background, avatar, overrides) must resolve inside those folders (:mod:`vhuman.safety.paths`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vhuman.core.light import Light
from vhuman.core.yamlsrc import (
    FILE_LIMITS,
    LineDict,
    Problems,
    YamlLimits,
    is_number,
    load_yaml,
    read_yaml_file,
    unknown_keys,
)
from vhuman.safety.paths import FileRoots
from vhuman.scenes.scene_parts import (  # noqa: F401 - re-exported for the loaders
    ANCHORS,
    DEFAULT_AI_LABEL,
    RGB,
    AiLabel,
    Placement,
    named_file,
    parse_ai_label,
    parse_color,
    parse_placement,
    screen_problem,
)

_log = logging.getLogger("vhuman.scenes")


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
    camera_framing: str = "half"   # "half" (waist up) or "bust" (head and shoulders)
    key_light: Light | None = None    # None: the renderer's own studio rig
    fill_light: Light | None = None
    product_card: Placement = Placement(anchor="right")  # noqa: RUF009 - frozen
    subtitles: Placement = Placement(anchor="bottom")  # noqa: RUF009 - frozen
    title_overlay: Placement = Placement(anchor="top-left")  # noqa: RUF009 - frozen
    ai_label: AiLabel = AiLabel()  # noqa: RUF009 - frozen
    theme: Theme = Theme()
    path: Path | None = field(default=None, compare=False)


def default_scene() -> Scene:
    """The scene used when a show names none."""
    return Scene()


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


def parse_scene(data: Any, file: str | Path, probs: Problems, base_dir: Path | None = None,
                *, moderator: Any = None, roots: FileRoots | None = None) -> Scene:
    """Validate a parsed scene mapping, adding every problem to ``probs``.

    Args:
        data: the parsed YAML.
        file: the scene file (problems name it).
        probs: where problems go.
        base_dir: what relative file names are relative to (default: the file's folder).
        moderator: word lists for the title and label words (real-person claims and
            control characters are refused without one too).
        roots: confine every named file to these folders (network input).
    """
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
            elif key == "name" or screen_problem(str(data[key]), L(key), key, probs,
                                                 moderator):
                s = replace(s, **{key: str(data[key])})
    if "background" in data:
        s = replace(s, background=_background(data["background"], L("background"), base, probs,
                                                      roots))
    if "avatar" in data:
        a = data["avatar"]
        if isinstance(a, str):  # avatar: host.glb
            s = replace(s, avatar_file=_avatar_path(a, L("avatar"), "avatar", base, probs, roots))
        elif not isinstance(a, LineDict):
            probs.add(L("avatar"), "avatar must be a file path or a mapping with file, "
                      "overrides, x and scale")
        else:
            unknown_keys(a, ("file", "overrides", "x", "scale"), "avatar", probs)
            for key, attr in (("file", "avatar_file"), ("overrides", "avatar_overrides")):
                if key in a:
                    s = replace(s, **{attr: _avatar_path(a[key], a.key_line(key),
                                                         f"avatar.{key}", base, probs, roots)})
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
            unknown_keys(c, ("zoom", "framing"), "camera", probs)
            if "framing" in c:
                if c["framing"] not in ("half", "bust"):
                    probs.add(c.key_line("framing"), "camera.framing must be half or bust",
                              "half shows head to waist with the hands; bust is closer")
                else:
                    s = replace(s, camera_framing=str(c["framing"]))
            if "zoom" in c:
                if not is_number(c["zoom"]) or not 0.25 <= c["zoom"] <= 8:
                    probs.add(c.key_line("zoom"), "camera.zoom must be a number 0.25..8",
                              "1 is the framing's own size; 1.5 is closer")
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
                    s = replace(s, **{attr: parse_placement(ov[key], ov.key_line(key),
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
    s = replace(s, ai_label=parse_ai_label(data, probs, moderator))
    return s


def _avatar_path(v: Any, line: int, where: str, base: Path, probs: Problems,
                 roots: FileRoots | None) -> Path | None:
    """A file named in the scene, relative to the scene file; it must exist."""
    return named_file(v, line, where, base, probs, roots)


def _background(v: Any, line: int, base: Path, probs: Problems,
                roots: FileRoots | None) -> Background:
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
    p = named_file(v[kind], v.key_line(kind), f"background {kind}", base, probs, roots)
    if p is None:
        return Background()
    return Background(kind, Background().color, p)


def load_scene(path: str | Path, *, moderator: Any = None, roots: FileRoots | None = None,
               limits: YamlLimits = FILE_LIMITS) -> Scene:
    """Load and validate a scene file; raises FileProblems listing every problem."""
    p = Path(path)
    data = read_yaml_file(p, limits)
    probs = Problems(p.name if roots is not None else p)
    scene = parse_scene(data, p, probs, moderator=moderator, roots=roots)
    probs.raise_if_any()
    return scene


def load_scene_text(text: str, file: str = "<scene>", base_dir: Path | None = None, *,
                    moderator: Any = None, roots: FileRoots | None = None,
                    limits: YamlLimits = FILE_LIMITS) -> Scene:
    """Parse a scene from YAML text (for tests and the control API)."""
    data = load_yaml(text, file, limits)
    probs = Problems(file)
    scene = parse_scene(data, file, probs, base_dir or Path.cwd(), moderator=moderator,
                        roots=roots)
    probs.raise_if_any()
    return scene
