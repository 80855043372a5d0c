"""The show model: what a validated show script is, as frozen values.

A show has products, segments of steps (lines to say, product cards to show, expression and
gesture cues, waits, nested loops, scene switches), a schedule, and chat rules with an FAQ
and a default reply. :func:`vhuman.scenes.show_loader.load_show` builds one from YAML;
lines and replies are templates filled by :mod:`vhuman.scenes.templates`. The format is
documented for producers in ``docs/show-format.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from vhuman.chat.config import ChatExtras
from vhuman.scenes.scene import Scene, default_scene


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
        """Original price minus price, formatted; None without an original price."""
        if self.original_price is None:
            return None
        return format_money(Decimal(self.original_price) - Decimal(self.price))

    def to_dict(self) -> dict[str, Any]:
        """The product as JSON-ready values (image paths as strings)."""
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
    emotion: str | None = None


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
class ReplyPolicy:
    """How the script and the room share the floor (``chat.replies``).

    Attributes:
        max_between_lines: chat replies spoken at most between two script lines (during a
            ``wait:`` step the room may use the whole pause, within the budget).
        per_minute: replies spoken at most in any minute of stream time (urgent ones
            included); more wait in the queue.
        stale_s: a reply not spoken this long after the question is dropped.
        product_priority: a reply naming the product on screen goes before older ones.
    """

    max_between_lines: int = 1
    per_minute: int = 6
    stale_s: float = 60.0
    product_priority: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.max_between_lines <= 100:
            raise ValueError("max_between_lines must be 0..100")
        if not 0 <= self.per_minute <= 600:
            raise ValueError("per_minute must be 0..600")
        if not 1 <= self.stale_s <= 3600:
            raise ValueError("stale_s must be 1..3600 seconds")


@dataclass(frozen=True, slots=True)
class ChatConfig:
    """How the host answers chat."""

    rules: tuple[ChatRule, ...] = ()
    faq: tuple[FaqEntry, ...] = ()
    default_reply: tuple[str, ...] = ()
    limits: ChatLimits = ChatLimits()
    extras: ChatExtras = field(default_factory=ChatExtras)
    replies: ReplyPolicy = ReplyPolicy()


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
        """The product with id ``pid``, or None."""
        return self.products.get(pid)

    def count_lines(self) -> int:
        """How many lines the show speaks in one pass (loops counted in full)."""
        def n(steps: tuple[Step, ...]) -> int:
            return sum(1 if isinstance(s, Say) else n(s.steps) * s.times if isinstance(s, Loop)
                       else 0 for s in steps)
        return sum(n(seg.steps) for seg in self.segments)


def format_money(d: Decimal) -> str:
    """A money amount as producers write it: at most two decimals, no trailing zeros."""
    q = d.quantize(Decimal("0.01")).normalize()
    return format(q, "f")
