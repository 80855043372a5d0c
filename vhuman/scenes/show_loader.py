"""Show files → :class:`~vhuman.scenes.show.Show`, validated before anything goes on air.

:func:`load_show` validates the whole file and raises
:class:`~vhuman.core.yamlsrc.FileProblems` listing *every* problem as
``file:line: what — what to do``; moderation runs on every line the host could say and
every text shown on screen (titles, product names and points, scene titles, label words).

Shows that arrive over the network are loaded with ``roots`` (every file they name —
scenes, images, word lists, avatars — must resolve inside those folders) and
``NETWORK_LIMITS`` (no YAML aliases, bounded size and depth).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from vhuman.core.errors import ConfigError
from vhuman.core.yamlsrc import (
    FILE_LIMITS,
    FileProblems,
    LineDict,
    LineList,
    Problems,
    YamlLimits,
    is_number,
    load_yaml,
    read_yaml_file,
    unknown_keys,
)
from vhuman.drivers.emotion import EMOTIONS
from vhuman.safety.moderation import Moderator
from vhuman.safety.paths import FileRoots
from vhuman.scenes.scene import Scene, default_scene, named_file, parse_scene
from vhuman.scenes.show import (
    ChatConfig,
    Cue,
    HideProduct,
    Loop,
    Product,
    Say,
    Schedule,
    Segment,
    Show,
    ShowProduct,
    Step,
    SwitchScene,
    Wait,
    format_money,
)
from vhuman.scenes.show_chat_loader import parse_chat
from vhuman.scenes.show_fields import ShowFields

SHOW_KEYS = ("title", "voice", "language", "scene", "scenes", "products", "segments",
             "schedule", "chat", "moderation")
SAY_KEYS = ("say", "voice", "cue", "gesture", "emotion")
CUE_KEYS = ("cue", "intensity", "duration")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class _Loader(ShowFields):
    """The show's own sections: products, segments and their steps, the schedule."""

    def __init__(self, file: Path, probs: Problems, moderator: Moderator | None,
                 roots: FileRoots | None = None, limits: YamlLimits = FILE_LIMITS) -> None:
        super().__init__(file, probs, moderator)
        self.roots = roots
        self.limits = limits
        self.products: dict[str, Product] = {}
        self.product_lines: dict[str, int] = {}
        self.scenes: dict[str, Scene] = {}

    def product(self, v: Any, line: int) -> Product | None:
        if not isinstance(v, LineDict):
            self.probs.add(line, "each product must be a mapping (id, name, price, ...)")
            return None
        unknown_keys(v, ("id", "name", "price", "original_price", "images", "image", "points",
                         "stock"), "product", self.probs)
        ok = True
        pid = v.get("id")
        if not isinstance(pid, (str, int)) or isinstance(pid, bool) or not _ID.match(str(pid)):
            self.probs.add(v.key_line("id"), "product needs an id: letters, digits, _ or -",
                           "e.g. id: tea01 (steps refer to it as '- product: tea01')")
            ok = False
        elif str(pid) in self.product_lines:
            self.probs.add(v.key_line("id"), f"product id {pid!r} is used twice",
                           f"first at line {self.product_lines[str(pid)]}; ids must be unique")
            ok = False
        else:
            self.product_lines[str(pid)] = v.key_line("id")
        name = v.get("name")
        if not isinstance(name, (str, int)) or not str(name).strip():
            self.probs.add(v.key_line("name"), "product needs a name", "e.g. name: 明前龙井 250g")
            ok = False
        else:
            self.shown(str(name), v.key_line("name"), "product name")
        price = _money(v.get("price"))
        if price is None:
            self.probs.add(v.key_line("price"), f"product price {v.get('price')!r} is not a "
                           "price", "write a number of yuan, e.g. price: 89 or 89.9")
            ok = False
        orig = None
        if v.get("original_price") is not None:
            orig = _money(v["original_price"])
            if orig is None:
                self.probs.add(v.key_line("original_price"), "original_price is not a price",
                               "write a number, e.g. original_price: 129")
            elif price is not None and Decimal(orig) < Decimal(price):
                self.probs.add(v.key_line("original_price"),
                               f"original_price {orig} is below the price {price}",
                               "the struck-through price must be the higher one")
                orig = None
        images: list[Path] = []
        for key in ("images", "image"):
            if key in v:
                for i, raw in enumerate(self.str_list(v[key], v.key_line(key), f"product.{key}")):
                    ln = v[key].item_line(i) if isinstance(v[key], LineList) else v.key_line(key)
                    p = named_file(raw, ln, "product image", self.base, self.probs, self.roots)
                    if p is not None:
                        images.append(p)
        points: tuple[str, ...] = ()
        if "points" in v:
            points = self.str_list(v["points"], v.key_line("points"), "product.points")
            lst = v["points"]
            for i, pt in enumerate(points):
                ln = lst.item_line(i) if isinstance(lst, LineList) else v.key_line("points")
                self.shown(pt, ln, "selling point")
        stock = None
        if v.get("stock") is not None:
            s = v["stock"]
            if not isinstance(s, int) or isinstance(s, bool) or s < 0:
                self.probs.add(v.key_line("stock"), "stock must be a whole number ≥ 0")
            else:
                stock = s
        if not ok:
            return None
        return Product(str(pid), str(name), price, orig, tuple(images), points, stock, v.line)

    def steps(self, v: Any, line: int, where: str, state: dict[str, Any]) -> tuple[Step, ...]:
        if not isinstance(v, LineList):
            self.probs.add(line, f"{where}: steps must be a list ('- say: ...' items)")
            return ()
        out: list[Step] = []
        for i, item in enumerate(v):
            st = self.step(item, v.item_line(i), where, state)
            if st is not None:
                out.append(st)
        return tuple(out)

    def step(self, item: Any, line: int, where: str, state: dict[str, Any]) -> Step | None:
        if isinstance(item, str):  # shorthand: a bare string is a line to say
            t = self.text(item, line, "line", needs_product=state["product"])
            return Say(t, line) if t is not None else None
        if not isinstance(item, LineDict):
            self.probs.add(line, f"{where}: a step must be text or a mapping",
                           "e.g. '- say: 大家好' or '- product: tea01'")
            return None
        actions = [k for k in ("say", "cue", "gesture", "product", "hide_product", "scene",
                               "wait", "loop") if k in item]
        if "say" in actions:
            actions = ["say"]  # cue/gesture next to say decorate the line
        if len(actions) != 1:
            self.probs.add(line, f"{where}: a step needs exactly one action, found "
                           f"{', '.join(actions) or 'none'} (keys: {', '.join(map(str, item))})",
                           "use one of say, cue, gesture, product, hide_product, scene, wait, "
                           "loop")
            return None
        act = actions[0]
        L = item.key_line
        if act == "say":
            unknown_keys(item, SAY_KEYS, "say step", self.probs)
            t = self.text(item["say"], L("say"), "line", needs_product=state["product"])
            cue = gesture = voice = None
            if "cue" in item:
                cue = self.cue_name(item["cue"], L("cue"))
            if "gesture" in item:
                gesture = self.cue_name(item["gesture"], L("gesture"))
            if "voice" in item:
                if not isinstance(item["voice"], str):
                    self.probs.add(L("voice"), "voice must be a voice name, e.g. cmn")
                else:
                    voice = item["voice"]
            emotion = item.get("emotion")
            if emotion is not None and emotion not in EMOTIONS:
                self.probs.add(L("emotion"), f"unknown emotion {emotion!r}",
                               f"valid: {', '.join(EMOTIONS)}")
                emotion = None
            return Say(t, L("say"), voice, cue, gesture, emotion) if t is not None else None
        if act in ("cue", "gesture"):
            unknown_keys(item, (act, "intensity", "duration"), f"{act} step", self.probs)
            name = self.cue_name(item[act], L(act))
            inten = 1.0
            dur = None
            if "intensity" in item:
                inten = self.number(item["intensity"], L("intensity"), "intensity", 0, 1) or 1.0
            if "duration" in item:
                dur = self.number(item["duration"], L("duration"), "duration (seconds)", 0.05, 60)
            return Cue(name, inten, dur, L(act)) if name is not None else None
        if act == "product":
            unknown_keys(item, ("product", "countdown"), "product step", self.probs)
            pid = item["product"]
            countdown = None
            if "countdown" in item:
                countdown = self.number(item["countdown"], L("countdown"),
                                        "countdown (seconds)", 1, 86400)
            if str(pid) not in self.products:
                self.probs.add(L("product"), f"no product with id {pid!r}",
                               f"defined ids: {', '.join(self.products) or 'none'}")
                return None
            state["product"] = True
            return ShowProduct(str(pid), L("product"), countdown)
        if act == "hide_product":
            state["product"] = False
            return HideProduct(L("hide_product"))
        if act == "scene":
            name = item["scene"]
            if not isinstance(name, str) or name not in self.scenes:
                self.probs.add(L("scene"), f"no scene named {name!r}",
                               f"define it under 'scenes:'; defined: "
                               f"{', '.join(self.scenes) or 'none'}")
                return None
            return SwitchScene(name, self.scenes[name], L("scene"))
        if act == "wait":
            unknown_keys(item, ("wait",), "wait step", self.probs)
            s = self.number(item["wait"], L("wait"), "wait (seconds)", 0, 3600)
            return Wait(s, L("wait")) if s is not None else None
        # loop
        unknown_keys(item, ("loop", "steps"), "loop step", self.probs)
        times = item["loop"]
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 1000:
            self.probs.add(L("loop"), "loop must be a repeat count 1..1000",
                           "e.g. '- loop: 3' with 'steps:' under it")
            times = 1
        if "steps" not in item:
            self.probs.add(L("loop"), "loop has no steps", "add 'steps:' with a list under it")
            return None
        inner = self.steps(item["steps"], L("steps"), "loop", state)
        if not inner:
            return None
        return Loop(times, inner, L("loop"))

    def schedule(self, v: Any, line: int) -> Schedule:
        if not isinstance(v, LineDict):
            self.probs.add(line, "schedule must be a mapping (start, repeat_until, loops)")
            return Schedule()
        unknown_keys(v, ("start", "repeat_until", "loops", "gap"), "schedule", self.probs)
        start = self.when(v["start"], v.key_line("start"), "schedule.start") \
            if "start" in v else None
        until = self.when(v["repeat_until"], v.key_line("repeat_until"),
                          "schedule.repeat_until") if "repeat_until" in v else None
        loops = None
        if "loops" in v:
            n = v["loops"]
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                self.probs.add(v.key_line("loops"), "schedule.loops must be a whole number ≥ 1")
            else:
                loops = n
        gap = 0.0
        if "gap" in v:
            gap = self.number(v["gap"], v.key_line("gap"), "schedule.gap (seconds)", 0, 3600) or 0
        if start and until and until <= start:
            self.probs.add(v.key_line("repeat_until"), "repeat_until is not after start",
                           "the show would never run")
        return Schedule(start, until, loops, gap)


MAX_PRICE = Decimal(10) ** 12


def _money(v: Any) -> str | None:
    if is_number(v) or isinstance(v, str):
        try:
            d = Decimal(str(v).strip().lstrip("¥￥"))
        except InvalidOperation:
            return None
        if d.is_finite() and 0 <= d < MAX_PRICE:  # beyond: not a price (and quantize fails)
            return format_money(d)
    return None


def parse_show(data: Any, file: str | Path, *, moderator: Moderator | None = None,
               base_dir: Path | None = None, roots: FileRoots | None = None,
               limits: YamlLimits = FILE_LIMITS) -> Show:
    """Validate parsed show data; raises FileProblems with every problem found.

    Args:
        data: the parsed YAML.
        file: the show file (problems name it).
        moderator: word lists for every spoken and shown text.
        base_dir: what relative file names are relative to (default: the file's folder).
        roots: confine every named file to these folders (network input).
        limits: bounds for the scene files the show names.
    """
    file = Path(file)
    probs = Problems(file.name if roots is not None else file)
    if not isinstance(data, LineDict):
        probs.add(getattr(data, "line", 1), "a show file must be a mapping of keys",
                  "start with 'title:', 'products:' and 'segments:'")
        probs.raise_if_any()
    ld = _Loader(file, probs, moderator, roots, limits)
    if base_dir is not None:
        ld.base = base_dir
    L = data.key_line
    unknown_keys(data, SHOW_KEYS, "show", probs)

    if "moderation" in data and moderator is not None:
        m = data["moderation"]
        if not isinstance(m, LineDict) or not isinstance(m.get("lists"), LineList):
            probs.add(L("moderation"), "moderation must be {lists: [file, ...]}")
        else:
            from vhuman.safety.moderation import load_word_list
            extra = []
            for i, raw in enumerate(m["lists"]):
                ln = m["lists"].item_line(i)
                p = named_file(str(raw), ln, "moderation list", ld.base, probs, ld.roots)
                if p is None:
                    continue
                try:
                    extra.append(load_word_list(p))
                except ConfigError as exc:  # report it with this file's line
                    probs.add(ln, str(exc) if roots is None else
                              "the moderation list is not a valid UTF-8 list file")
            if extra:
                ld.moderator = Moderator(list(moderator.lists) + extra, audit=moderator.audit,
                                         emit=moderator.emit)

    title = data.get("title")
    if not isinstance(title, (str, int)) or not str(title).strip():
        probs.add(L("title"), "the show needs a title", "e.g. title: 春季新品直播间")
        title = ""
    else:
        ld.text(str(title), L("title"), "title", spoken=False)
        ld.shown(str(title), L("title"), "title")

    scene = default_scene()
    if "scene" in data:
        scene = _scene_ref(ld, data["scene"], L("scene"))
    scenes: dict[str, Scene] = {}
    if "scenes" in data:
        sc = data["scenes"]
        if not isinstance(sc, LineDict):
            probs.add(L("scenes"), "scenes must map names to scene files",
                      "e.g. scenes: {close_up: ../scenes/close_up.yaml}")
        else:
            for name in sc:
                scenes[str(name)] = _scene_ref(ld, sc[name], sc.key_line(name))
    ld.scenes = scenes

    if "products" not in data:
        probs.add(1, "the show has no products", "add a 'products:' list (see docs)")
    elif not isinstance(data["products"], LineList):
        probs.add(L("products"), "products must be a list ('- id: ...' items)")
    else:
        lst = data["products"]
        for i, p in enumerate(lst):
            prod = ld.product(p, lst.item_line(i))
            if prod is not None:
                ld.products[prod.id] = prod

    segments: list[Segment] = []
    state: dict[str, Any] = {"product": False}
    if "segments" not in data:
        probs.add(1, "the show has no segments", "add 'segments:' with the lines to say")
    elif not isinstance(data["segments"], LineList) or not data["segments"]:
        probs.add(L("segments"), "segments must be a non-empty list")
    else:
        lst = data["segments"]
        for i, seg in enumerate(lst):
            ln = lst.item_line(i)
            if not isinstance(seg, LineDict):
                probs.add(ln, "a segment must be a mapping with name and steps")
                continue
            unknown_keys(seg, ("name", "steps"), "segment", probs)
            name = str(seg.get("name") or f"segment {i + 1}")
            if "steps" not in seg:
                probs.add(ln, f"segment {name!r} has no steps", "add 'steps:' with a list")
                continue
            steps = ld.steps(seg["steps"], seg.key_line("steps"), f"segment {name!r}", state)
            segments.append(Segment(name, steps, ln))

    schedule = ld.schedule(data["schedule"], L("schedule")) if "schedule" in data \
        else Schedule()
    chat = parse_chat(ld, data["chat"], L("chat")) if "chat" in data else ChatConfig()

    voice = data.get("voice")
    if voice is not None and not isinstance(voice, str):
        probs.add(L("voice"), "voice must be a voice name, e.g. cmn")
        voice = None
    lang = data.get("language", "zh")
    if not isinstance(lang, str):
        probs.add(L("language"), "language must be a code such as zh or en")
        lang = "zh"
    probs.raise_if_any()
    scene = _label_language(scene, lang)
    scenes = {k: _label_language(v, lang) for k, v in scenes.items()}
    return Show(str(title), ld.products, tuple(segments), scene, scenes, schedule, chat,
                voice, lang, file)


def _label_language(scene: Scene, lang: str) -> Scene:
    """A scene that does not pick its label's language takes the show's (zh or en)."""
    from dataclasses import replace

    from vhuman.safety.label import DISCLOSURES

    if scene.ai_label.language is not None or lang not in DISCLOSURES:
        return scene
    return replace(scene, ai_label=replace(scene.ai_label, language=lang))


def _scene_ref(ld: _Loader, v: Any, line: int) -> Scene:
    """A scene given as a file path (relative to the show) or inline as a mapping."""
    if isinstance(v, LineDict):
        return parse_scene(v, ld.file, ld.probs, ld.base, moderator=ld.moderator,
                           roots=ld.roots)
    if not isinstance(v, str):
        ld.probs.add(line, "scene must be a scene file path or an inline scene mapping")
        return default_scene()
    p = named_file(v, line, "scene", ld.base, ld.probs, ld.roots)
    if p is None:
        return default_scene()
    try:
        data = read_yaml_file(p, ld.limits)
    except FileProblems as exc:
        ld.probs.items.extend(exc.problems)
        return default_scene()
    except ConfigError as exc:
        ld.probs.add(line, f"scene {v!r}: {exc}" if ld.roots is None else
                     f"scene {v[:80]!r} could not be read (not a regular UTF-8 file within "
                     "the size limit)", "paths are relative to the show file")
        return default_scene()
    sub = Problems(p if ld.roots is None else p.name)
    scene = parse_scene(data, p, sub, moderator=ld.moderator, roots=ld.roots)
    ld.probs.items.extend(sub.items)
    return scene


def load_show(path: str | Path, *, moderator: Moderator | None = None,
              roots: FileRoots | None = None, limits: YamlLimits = FILE_LIMITS) -> Show:
    """Load and validate a show file.

    Args:
        path: the YAML file.
        moderator: checks every line the host could say (default: the shipped lists).
            Pass ``Moderator()`` (no lists) to turn moderation off for a test.
        roots: confine every file the show names to these folders (network input).
        limits: YAML bounds (the show and the scene files it names).

    Raises:
        FileProblems: listing every problem with file:line and what to do.
    """
    p = Path(path)
    data = read_yaml_file(p, limits)
    return parse_show(data, p, moderator=moderator if moderator is not None
                      else Moderator.default(), roots=roots, limits=limits)


def load_show_text(text: str, file: str = "<show>", *, base_dir: Path | None = None,
                   moderator: Moderator | None = None, roots: FileRoots | None = None,
                   limits: YamlLimits = FILE_LIMITS) -> Show:
    """Load a show from YAML text (control API ``load_show`` with inline YAML, tests)."""
    data = load_yaml(text, file, limits)
    return parse_show(data, file, moderator=moderator if moderator is not None
                      else Moderator.default(), base_dir=base_dir or Path.cwd(),
                      roots=roots, limits=limits)
