"""Show scripts: the producer-facing YAML that a live-commerce host performs.

A show has products, segments of steps (lines to say, product cards to show, expression and
gesture cues, waits, nested loops, scene switches), a schedule, and chat rules with an FAQ
and a default reply. :func:`load_show` validates the whole file before anything goes on
air and raises :class:`~vhuman.scenes.yamlsrc.FileProblems` listing *every* problem as
``file:line: what — what to do``; moderation runs on every line the host could say.

Lines and replies are templates: ``{product.price}`` etc. are filled from the product on
screen (see :data:`VARIABLES`); ``{{`` and ``}}`` write literal braces. The format is
documented for producers in ``docs/show-format.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from vhuman.drivers.cues import CUE_NAMES
from vhuman.core.errors import ConfigError
from vhuman.safety.moderation import Moderator, describe_hits
from vhuman.scenes.scene import Scene, default_scene, parse_scene
from vhuman.scenes.yamlsrc import (
    FileProblems,
    LineDict,
    LineList,
    Problems,
    is_number,
    load_yaml,
    read_yaml_file,
    unknown_keys,
)

#: Template variables and what they are (docs/show-format.md lists the same).
VARIABLES: dict[str, str] = {
    "product.id": "the product's id",
    "product.name": "the product's name",
    "product.price": "the price, e.g. 89 or 89.9",
    "product.original_price": "the price before the discount",
    "product.discount": "original_price minus price",
    "product.stock": "units left",
    "product.point": "the first selling point",
    "product.points": "all selling points, joined with ，",
    "show.title": "the show's title",
    "user": "the chat user's name (chat replies only)",
}
_VAR = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class MissingValue(KeyError):
    """A template needs a value that is not there now (no product on screen, no user)."""


@dataclass(frozen=True, slots=True)
class Product:
    """One product on sale."""

    id: str
    name: str
    price: str
    original_price: str | None = None
    images: tuple[Path, ...] = ()
    points: tuple[str, ...] = ()
    stock: int | None = None
    line: int = 0

    @property
    def discount(self) -> str | None:
        if self.original_price is None:
            return None
        return _fmt_money(Decimal(self.original_price) - Decimal(self.price))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "price": self.price,
                "original_price": self.original_price, "points": list(self.points),
                "stock": self.stock, "images": [str(p) for p in self.images]}


@dataclass(frozen=True, slots=True)
class Say:
    """Say a line (a template). ``cue``/``gesture`` fire as the line starts."""

    text: str
    line: int = 0
    voice: str | None = None
    cue: str | None = None
    gesture: str | None = None


@dataclass(frozen=True, slots=True)
class Cue:
    """Trigger an expression or gesture by name."""

    name: str
    intensity: float = 1.0
    duration_s: float | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class ShowProduct:
    """Put a product's card on screen; ``{product.*}`` refers to it from here on."""

    product_id: str
    line: int = 0
    countdown_s: float | None = None


@dataclass(frozen=True, slots=True)
class HideProduct:
    """Take the product card off screen."""

    line: int = 0


@dataclass(frozen=True, slots=True)
class SwitchScene:
    """Switch to a scene (by name from ``scenes:``)."""

    name: str
    scene: Scene
    line: int = 0


@dataclass(frozen=True, slots=True)
class Wait:
    """Pause the script (the host idles) for some seconds."""

    seconds: float
    line: int = 0


@dataclass(frozen=True, slots=True)
class Loop:
    """Repeat ``steps`` ``times`` times."""

    times: int
    steps: tuple[Step, ...]
    line: int = 0


Step = Say | Cue | ShowProduct | HideProduct | SwitchScene | Wait | Loop


@dataclass(frozen=True, slots=True)
class Segment:
    """A named part of the show (opening, product A, ...)."""

    name: str
    steps: tuple[Step, ...]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Schedule:
    """When the show runs: start time, and loops until a time or a count (else forever)."""

    start: dt.datetime | None = None
    repeat_until: dt.datetime | None = None
    loops: int | None = None
    gap_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ChatRule:
    """Chat text matching a keyword or the regex gets one of ``replies`` (rotating)."""

    keywords: tuple[str, ...]
    regex: re.Pattern[str] | None
    replies: tuple[str, ...]
    urgent: bool = False
    name: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """A question viewers ask; matched on its keywords (or the question text itself)."""

    question: str
    keywords: tuple[str, ...]
    answer: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """Chat intake limits (token buckets and de-duplication)."""

    per_user_per_min: float = 6.0
    per_user_burst: int = 3
    total_per_min: float = 120.0
    total_burst: int = 20
    dedupe_s: float = 30.0
    max_len: int = 200


@dataclass(frozen=True, slots=True)
class ChatConfig:
    """How the host answers chat."""

    rules: tuple[ChatRule, ...] = ()
    faq: tuple[FaqEntry, ...] = ()
    default_reply: tuple[str, ...] = ()
    limits: ChatLimits = ChatLimits()


@dataclass(frozen=True, slots=True)
class Show:
    """A validated show script."""

    title: str
    products: dict[str, Product]
    segments: tuple[Segment, ...]
    scene: Scene = field(default_factory=default_scene)
    scenes: dict[str, Scene] = field(default_factory=dict)
    schedule: Schedule = Schedule()
    chat: ChatConfig = ChatConfig()
    voice: str | None = None
    language: str = "zh"
    path: Path | None = None

    def product(self, pid: str) -> Product | None:
        return self.products.get(pid)

    def count_lines(self) -> int:
        def n(steps: tuple[Step, ...]) -> int:
            return sum(1 if isinstance(s, Say) else n(s.steps) * s.times if isinstance(s, Loop)
                       else 0 for s in steps)
        return sum(n(seg.steps) for seg in self.segments)


# ---------------------------------------------------------------------------------------
# templates

def template_fields(template: str) -> list[str]:
    """The variable names a template uses, in order."""
    return [m.group(1).strip() for m in _VAR.finditer(template) if m.group(1) is not None]


def render(template: str, *, product: Product | None = None, show_title: str = "",
           user: str | None = None) -> str:
    """Fill a template; raises :class:`MissingValue` when a needed value is absent."""

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "{{":
            return "{"
        if tok == "}}":
            return "}"
        name = m.group(1).strip()
        if name == "show.title":
            return show_title
        if name == "user":
            if user is None:
                raise MissingValue(name)
            return user
        if name.startswith("product."):
            if product is None:
                raise MissingValue(name)
            attr = name[len("product."):]
            value: Any
            if attr == "point":
                value = product.points[0] if product.points else None
            elif attr == "points":
                value = "，".join(product.points) if product.points else None
            elif attr in ("id", "name", "price", "original_price", "stock", "discount"):
                value = getattr(product, attr)
            else:
                raise MissingValue(name)
            if value is None:
                raise MissingValue(name)
            return str(value)
        raise MissingValue(name)

    return _VAR.sub(sub, template)


def _fmt_money(d: Decimal) -> str:
    q = d.quantize(Decimal("0.01")).normalize()
    s = format(q, "f")
    return s


def _money(v: Any) -> str | None:
    if is_number(v) or isinstance(v, str):
        try:
            d = Decimal(str(v).strip().lstrip("¥￥"))
        except InvalidOperation:
            return None
        if d.is_finite() and d >= 0:
            return _fmt_money(d)
    return None


# ---------------------------------------------------------------------------------------
# loading

SHOW_KEYS = ("title", "voice", "language", "scene", "scenes", "products", "segments",
             "schedule", "chat", "moderation")
SAY_KEYS = ("say", "voice", "cue", "gesture")
CUE_KEYS = ("cue", "intensity", "duration")


class _Loader:
    def __init__(self, file: Path, probs: Problems, moderator: Moderator | None) -> None:
        self.file = file
        self.base = file.parent
        self.probs = probs
        self.moderator = moderator
        self.products: dict[str, Product] = {}
        self.product_lines: dict[str, int] = {}
        self.scenes: dict[str, Scene] = {}
        self.show_title = ""

    # -- helpers -------------------------------------------------------------------------
    def text(self, v: Any, line: int, where: str, *, needs_product: bool | None = None,
             allow_user: bool = False, spoken: bool = True) -> str | None:
        """Validate a template: type, variables, and moderation of the spoken text."""
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str) or not v.strip():
            self.probs.add(line, f"{where} must be non-empty text")
            return None
        for name in template_fields(v):
            if name == "user" and not allow_user:
                self.probs.add(line, f"{where}: {{user}} only works in chat replies",
                               "remove it or write the text out")
            elif name not in VARIABLES:
                self.probs.add(line, f"{where}: unknown variable {{{name}}}",
                               f"valid: {', '.join('{' + k + '}' for k in VARIABLES)}")
            elif name.startswith("product.") and needs_product is False:
                self.probs.add(line, f"{where} uses {{{name}}} but no product is on screen "
                               "at this point", "add a '- product: <id>' step before it")
        stray = _VAR.sub("", v)
        if "{" in stray or "}" in stray:
            self.probs.add(line, f"{where}: unbalanced brace", "write {{ or }} for a literal brace")
        if spoken:
            self.moderate(v, line, where)
        return v

    def moderate(self, text: str, line: int, where: str) -> None:
        if self.moderator is None:
            return
        hits = self.moderator.check(text, source="script", where=f"{self.file}:{line}")
        if hits:
            self.probs.add(line, f"{where} contains banned wording: {describe_hits(hits)}",
                           "reword it (absolute claims break the Advertising Law art. 9 and "
                           "get live rooms penalised)")

    def number(self, v: Any, line: int, where: str, lo: float, hi: float) -> float | None:
        if isinstance(v, str) and v.strip().endswith("s"):
            try:
                v = float(v.strip()[:-1])
            except ValueError:
                pass
        if not is_number(v) or not lo <= v <= hi:
            self.probs.add(line, f"{where} must be a number {lo:g}..{hi:g}", f"got {v!r}")
            return None
        return float(v)

    def str_list(self, v: Any, line: int, where: str) -> tuple[str, ...]:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, (str, int)) and
                                               not isinstance(x, bool) for x in v):
            self.probs.add(line, f"{where} must be text or a list of texts")
            return ()
        return tuple(str(x) for x in v if str(x).strip())

    # -- sections ------------------------------------------------------------------------
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
            self.moderate(str(name), v.key_line("name"), "product name")
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
                    p = (self.base / raw).resolve()
                    ln = v[key].item_line(i) if isinstance(v[key], LineList) else v.key_line(key)
                    if not p.is_file():
                        self.probs.add(ln, f"product image {raw!r} not found (looked at {p})",
                                       "paths are relative to the show file")
                    else:
                        images.append(p)
        points: tuple[str, ...] = ()
        if "points" in v:
            points = self.str_list(v["points"], v.key_line("points"), "product.points")
            lst = v["points"]
            for i, pt in enumerate(points):
                ln = lst.item_line(i) if isinstance(lst, LineList) else v.key_line("points")
                self.moderate(pt, ln, "selling point")
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
            return Say(t, L("say"), voice, cue, gesture) if t is not None else None
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

    def cue_name(self, v: Any, line: int) -> str | None:
        if not isinstance(v, str) or v not in CUE_NAMES:
            self.probs.add(line, f"unknown cue {v!r}", f"valid cues: {', '.join(CUE_NAMES)}")
            return None
        return v

    def when(self, v: Any, line: int, where: str) -> dt.datetime | None:
        if isinstance(v, dt.datetime):
            t = v
        elif isinstance(v, str):
            try:
                t = dt.datetime.fromisoformat(v.strip())
            except ValueError:
                self.probs.add(line, f"{where} {v!r} is not a date-time",
                               "write e.g. 2026-11-23T20:00:00+08:00")
                return None
        else:
            self.probs.add(line, f"{where} must be a date-time",
                           "write e.g. 2026-11-23T20:00:00+08:00")
            return None
        if t.tzinfo is None:
            self.probs.add(line, f"{where} has no time zone", "add one, e.g. +08:00 for Beijing")
            return None
        return t

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

    def chat(self, v: Any, line: int) -> ChatConfig:
        if not isinstance(v, LineDict):
            self.probs.add(line, "chat must be a mapping (rules, faq, default_reply, limits)")
            return ChatConfig()
        unknown_keys(v, ("rules", "faq", "default_reply", "limits"), "chat", self.probs)
        rules: list[ChatRule] = []
        if "rules" in v:
            lst = v["rules"]
            if not isinstance(lst, LineList):
                self.probs.add(v.key_line("rules"), "chat.rules must be a list")
            else:
                for i, r in enumerate(lst):
                    rule = self.rule(r, lst.item_line(i))
                    if rule is not None:
                        rules.append(rule)
        faq: list[FaqEntry] = []
        if "faq" in v:
            lst = v["faq"]
            if not isinstance(lst, LineList):
                self.probs.add(v.key_line("faq"), "chat.faq must be a list of {q, a}")
            else:
                for i, f in enumerate(lst):
                    e = self.faq(f, lst.item_line(i))
                    if e is not None:
                        faq.append(e)
        default: tuple[str, ...] = ()
        if "default_reply" in v:
            lst = v["default_reply"]
            vals = self.str_list(lst, v.key_line("default_reply"), "chat.default_reply")
            out = []
            for i, t in enumerate(vals):
                ln = lst.item_line(i) if isinstance(lst, LineList) else v.key_line("default_reply")
                if self.text(t, ln, "default_reply", allow_user=True) is not None:
                    out.append(t)
            default = tuple(out)
        limits = ChatLimits()
        if "limits" in v:
            lim = v["limits"]
            if not isinstance(lim, LineDict):
                self.probs.add(v.key_line("limits"), "chat.limits must be a mapping")
            else:
                names = ("per_user_per_min", "per_user_burst", "total_per_min", "total_burst",
                         "dedupe_s", "max_len")
                unknown_keys(lim, names, "chat.limits", self.probs)
                vals2 = {}
                for k in names:
                    if k in lim:
                        x = self.number(lim[k], lim.key_line(k), f"chat.limits.{k}", 0.01, 1e5)
                        if x is not None:
                            vals2[k] = int(x) if k in ("per_user_burst", "total_burst",
                                                       "max_len") else x
                limits = ChatLimits(**{**_limits_dict(limits), **vals2})
        return ChatConfig(tuple(rules), tuple(faq), default, limits)

    def rule(self, r: Any, line: int) -> ChatRule | None:
        if not isinstance(r, LineDict):
            self.probs.add(line, "a chat rule must be a mapping (keywords or regex, reply)")
            return None
        unknown_keys(r, ("name", "keywords", "keyword", "regex", "reply", "replies", "urgent"),
                     "chat rule", self.probs)
        kws: tuple[str, ...] = ()
        for k in ("keywords", "keyword"):
            if k in r:
                kws += self.str_list(r[k], r.key_line(k), f"chat rule {k}")
        rx = None
        if "regex" in r:
            if not isinstance(r["regex"], str):
                self.probs.add(r.key_line("regex"), "regex must be text")
            else:
                try:
                    rx = re.compile(r["regex"], re.IGNORECASE)
                except re.error as exc:
                    self.probs.add(r.key_line("regex"), f"regex does not compile: {exc}",
                                   "quote it in single quotes; escape ( ) [ ] with \\")
        if not kws and rx is None and "regex" not in r:
            self.probs.add(line, "chat rule has neither keywords nor regex",
                           "add e.g. keywords: [多少钱, 价格]")
        replies: list[str] = []
        for k in ("reply", "replies"):
            if k in r:
                lst = r[k]
                for i, t in enumerate(self.str_list(lst, r.key_line(k), f"chat rule {k}")):
                    ln = lst.item_line(i) if isinstance(lst, LineList) else r.key_line(k)
                    if self.text(t, ln, "reply", allow_user=True) is not None:
                        replies.append(t)
        if "reply" not in r and "replies" not in r:
            self.probs.add(line, "chat rule has no reply", "add reply: ... (or replies: [...])")
        urgent = r.get("urgent", False)
        if not isinstance(urgent, bool):
            self.probs.add(r.key_line("urgent"), "urgent must be true or false")
            urgent = False
        if not replies:
            return None
        name = str(r.get("name", kws[0] if kws else (r.get("regex") or f"rule@{line}")))
        return ChatRule(kws, rx, tuple(replies), urgent, name, line)

    def faq(self, f: Any, line: int) -> FaqEntry | None:
        if not isinstance(f, LineDict):
            self.probs.add(line, "an FAQ entry must be a mapping with q and a")
            return None
        unknown_keys(f, ("q", "a", "keywords"), "faq entry", self.probs)
        q = f.get("q")
        if not isinstance(q, str) or not q.strip():
            self.probs.add(f.key_line("q"), "FAQ entry needs q: the question")
            return None
        if "a" not in f:
            self.probs.add(line, "FAQ entry needs a: the answer")
            return None
        a = self.text(f["a"], f.key_line("a"), "FAQ answer", allow_user=True)
        kws = self.str_list(f["keywords"], f.key_line("keywords"), "faq keywords") \
            if "keywords" in f else ()
        if a is None:
            return None
        return FaqEntry(q.strip(), kws, a, line)


def _limits_dict(lim: ChatLimits) -> dict[str, Any]:
    return {k: getattr(lim, k) for k in ChatLimits.__slots__}


def parse_show(data: Any, file: str | Path, *, moderator: Moderator | None = None,
               base_dir: Path | None = None) -> Show:
    """Validate parsed show data; raises FileProblems with every problem found."""
    file = Path(file)
    probs = Problems(file)
    if not isinstance(data, LineDict):
        probs.add(getattr(data, "line", 1), "a show file must be a mapping of keys",
                  "start with 'title:', 'products:' and 'segments:'")
        probs.raise_if_any()
    ld = _Loader(file, probs, moderator)
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
                try:
                    extra.append(load_word_list(ld.base / str(raw)))
                except ConfigError as exc:  # report it with this file's line
                    probs.add(m["lists"].item_line(i), str(exc))
            if extra:
                ld.moderator = Moderator(list(moderator.lists) + extra, audit=moderator.audit,
                                         emit=moderator.emit)

    title = data.get("title")
    if not isinstance(title, (str, int)) or not str(title).strip():
        probs.add(L("title"), "the show needs a title", "e.g. title: 春季新品直播间")
        title = ""
    else:
        ld.text(str(title), L("title"), "title")
    ld.show_title = str(title)

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
    chat = ld.chat(data["chat"], L("chat")) if "chat" in data else ChatConfig()

    voice = data.get("voice")
    if voice is not None and not isinstance(voice, str):
        probs.add(L("voice"), "voice must be a voice name, e.g. cmn")
        voice = None
    lang = data.get("language", "zh")
    if not isinstance(lang, str):
        probs.add(L("language"), "language must be a code such as zh or en")
        lang = "zh"
    probs.raise_if_any()
    return Show(str(title), ld.products, tuple(segments), scene, scenes, schedule, chat,
                voice, lang, file)


def _scene_ref(ld: _Loader, v: Any, line: int) -> Scene:
    """A scene given as a file path (relative to the show) or inline as a mapping."""
    if isinstance(v, LineDict):
        return parse_scene(v, ld.file, ld.probs, ld.base)
    if not isinstance(v, str):
        ld.probs.add(line, "scene must be a scene file path or an inline scene mapping")
        return default_scene()
    p = (ld.base / v).resolve()
    try:
        data = read_yaml_file(p)
    except FileProblems as exc:
        ld.probs.items.extend(exc.problems)
        return default_scene()
    except ConfigError as exc:
        ld.probs.add(line, f"scene {v!r}: {exc}", "paths are relative to the show file")
        return default_scene()
    sub = Problems(p)
    scene = parse_scene(data, p, sub)
    ld.probs.items.extend(sub.items)
    return scene


def load_show(path: str | Path, *, moderator: Moderator | None = None) -> Show:
    """Load and validate a show file.

    Args:
        path: the YAML file.
        moderator: checks every line the host could say (default: the shipped lists).
            Pass ``Moderator()`` (no lists) to turn moderation off for a test.

    Raises:
        FileProblems: listing every problem with file:line and what to do.
    """
    p = Path(path)
    data = read_yaml_file(p)
    return parse_show(data, p, moderator=moderator if moderator is not None
                      else Moderator.default())


def load_show_text(text: str, file: str = "<show>", *, base_dir: Path | None = None,
                   moderator: Moderator | None = None) -> Show:
    """Load a show from YAML text (control API ``load_show`` with inline YAML, tests)."""
    data = load_yaml(text, file)
    return parse_show(data, file, moderator=moderator if moderator is not None
                      else Moderator.default(), base_dir=base_dir or Path.cwd())
