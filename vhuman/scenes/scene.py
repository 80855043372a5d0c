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
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vhuman.core.errors import BadText, ModerationBlocked
from vhuman.core.light import Light
from vhuman.safety.gate import screen
from vhuman.safety.label import (
    DEFAULT_EXTRA,
    DISCLOSURES,
    SEPARATOR,
    extra_problem,
    label_text,
    strip_disclosure,
)
from vhuman.safety.moderation import describe_hits
from vhuman.safety.paths import FileRoots, PathRefused
from vhuman.scenes.yamlsrc import (
    FILE_LIMITS,
    LineDict,
    Problems,
    YamlLimits,
    is_number,
    load_yaml,
    read_yaml_file,
    unknown_keys,
)

DEFAULT_AI_LABEL = DISCLOSURES["zh"] + SEPARATOR + DEFAULT_EXTRA["zh"]
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
    """A light as a scene file writes it (turned into a :class:`Light` at the edge):
    display RGB 0..1, intensity (1 = the standard key), direction the light travels."""

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
    """The always-on AI disclosure label: a fixed disclosure plus the words a scene adds.

    It cannot exist without its disclosure, off, or with words that claim the host is a
    real person: construction refuses them (``ValueError``), whoever constructs it.

    Attributes:
        extra: words shown after the disclosure (``None``: the language's default,
            「虚拟主播」 / "virtual host"; ``""``: none).
        language: the disclosure's language, ``zh`` or ``en`` (``None``: ``zh``, or the
            show's language when the scene belongs to a show).
        position: where it is drawn (always drawn; kept inside the frame).
    """

    extra: str | None = None
    language: str | None = None
    position: Placement = Placement(anchor="top-right")

    def __post_init__(self) -> None:
        if self.language is not None and self.language not in DISCLOSURES:
            raise ValueError(f"AI label language must be one of {', '.join(DISCLOSURES)}")
        if self.extra:
            why = extra_problem(self.extra)
            if why is not None:
                raise ValueError(f"AI label text refused: {why}")
        if not self.position.enabled:
            raise ValueError("the AI label cannot be turned off")

    @property
    def enabled(self) -> bool:
        """Always True: the label cannot be turned off."""
        return True

    @property
    def words(self) -> str:
        """The added words as drawn (the language's default when none were given)."""
        lang = self.language or "zh"
        return DEFAULT_EXTRA[lang] if self.extra is None else self.extra

    @property
    def text(self) -> str:
        """The label as drawn: disclosure, then the added words."""
        return label_text(self.language, self.words)


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


def screen_problem(text: str, line: int, where: str, probs: Problems, moderator: Any) -> bool:
    """Pass on-screen ``text`` through the gate; add a problem and return False if refused."""
    try:
        screen(text, moderator=moderator, source="scene", where=f"{probs.file}:{line}",
               what=where)
    except BadText as exc:
        probs.add(line, str(exc))
        return False
    except ModerationBlocked as exc:
        probs.add(line, f"{where} contains refused wording: {describe_hits(exc.hits)}",
                  "reword it: no absolute claims (Advertising Law art. 9), no abuse, and "
                  "nothing that says the AI host is a real person")
        return False
    return True


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
    s = replace(s, ai_label=_ai_label(data, probs, moderator))
    return s


def named_file(v: Any, line: int, where: str, base: Path, probs: Problems,
               roots: FileRoots | None) -> Path | None:
    """A file named in YAML, relative to ``base``; it must exist (and, for network input,
    lie inside ``roots``). Problems never echo a file's content or an outside path."""
    if not isinstance(v, str) or not v.strip():
        probs.add(line, f"{where} must be a file path")
        return None
    if roots is not None:
        try:
            p = roots.confine(v, base)
        except PathRefused as exc:
            probs.add(line, f"{where} {v[:80]!r} refused: {exc}", "", "forbidden_path")
            return None
        if not p.is_file():
            probs.add(line, f"{where} {v[:80]!r} not found", "paths are relative to this file")
            return None
        return p
    p = (base / v).expanduser().resolve()
    if not p.is_file():
        probs.add(line, f"{where} {v!r} not found (looked at {p})",
                  "paths are relative to this file")
        return None
    return p


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


_OFF_FIX = ("AI-generated video must carry a visible AI label (PRC Measures for Labelling "
            "AI-Generated Synthetic Content); remove this line — you may add words with "
            "ai_label: {text: ...}")


def _ai_label(data: LineDict, probs: Problems, moderator: Any) -> AiLabel:
    """The label's added words, language and position; any attempt to turn it off is a
    problem on its line."""
    label = AiLabel()
    if "ai_label_reason" in data:
        probs.add(data.key_line("ai_label_reason"),
                  "ai_label_reason is not accepted: the AI label cannot be turned off", _OFF_FIX)
    if "ai_label" not in data:
        return label
    v = data["ai_label"]
    line = data.key_line("ai_label")
    extra: Any = None
    text_line = line
    if v is False or v == "off" or v is None:
        probs.add(line, "the AI label cannot be turned off", _OFF_FIX)
        return label
    if v is True or v == "on":
        return label
    if isinstance(v, str):
        extra = v
    elif isinstance(v, LineDict):
        unknown_keys(v, ("text", "position", "language", "enabled"), "ai_label", probs)
        if "enabled" in v and v["enabled"] not in (True, "on"):
            probs.add(v.key_line("enabled"), "the AI label cannot be turned off", _OFF_FIX)
        if "text" in v:
            extra, text_line = v["text"], v.key_line("text")
            if not isinstance(extra, str) or not extra.strip():
                probs.add(text_line, "ai_label.text must be non-empty text",
                          f"the words added after the fixed disclosure, e.g. "
                          f"{DEFAULT_EXTRA['zh']!r}")
                extra = None
        if "language" in v:
            if v["language"] not in DISCLOSURES:
                probs.add(v.key_line("language"), "ai_label.language must be "
                          + " or ".join(DISCLOSURES),
                          f"it picks the disclosure: {', '.join(DISCLOSURES.values())}")
            else:
                label = replace(label, language=v["language"])
        if "position" in v:
            pos = _placement(v["position"], v.key_line("position"), "ai_label.position", probs,
                             label.position)
            if not pos.enabled:
                probs.add(v.key_line("position"), "the AI label cannot be turned off "
                          "(position: off)", "give a position, e.g. top-right")
            else:
                label = replace(label, position=pos)
    else:
        probs.add(line, "ai_label must be text or a mapping (text, position, language)")
        return label
    if extra is None:
        return label
    extra = strip_disclosure(extra)
    if not extra:
        return replace(label, extra="")
    why = extra_problem(extra)
    if why is not None:
        probs.add(text_line, f"ai_label.text refused: {why}",
                  "the label may only add words to the disclosure, never deny it")
        return label
    if not screen_problem(extra, text_line, "ai_label.text", probs, moderator):
        return label
    return replace(label, extra=extra)


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
