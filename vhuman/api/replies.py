"""The reply engine: the show's rules first, then an LLM held to the show's facts.

For one chat message the intake (:class:`vhuman.api.chat.ChatIntake`: limits, dedupe,
moderation of the viewer's text, the show's rules and FAQ) has already decided. Then:

1. **rules** — a rule or FAQ answer is spoken as it is;
2. **llm** — when no rule matched and an LLM is configured: the answer streams in, and
   each sentence is spoken as soon as it is complete (two sentences at most). Each one is
   grounded (:mod:`vhuman.api.grounding`: placeholders filled from the show, numbers
   checked) and moderated with the same lists as scripted text plus the off-topic list.
   Answers are cached per (product, question), so the same question costs nothing;
3. **fallback** — no complete first sentence within ``first_sentence_s``, an endpoint
   error, or a first sentence that is blocked or cannot be grounded: the show's default
   reply, or a safe thank-you template — never a refusal, and never the blocked text.
   A later sentence that fails is simply not spoken.

Every line carries an emotion (the LLM's tag, else read from the words).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from vhuman.api.grounding import build_messages, facts_text, ground
from vhuman.chat.feeling import line_emotion, split_tags, tag
from vhuman.chat.llm import LlmClient, LlmError
from vhuman.safety.moderation import LISTS_DIR, Moderator, load_word_list, normalize
from vhuman.scenes.show import Product, Show
from vhuman.scenes.templates import MissingValue, render

_log = logging.getLogger("vhuman.api.replies")

MAX_SENTENCES = 2
MAX_SENTENCE_CHARS = 160
OFF_TOPIC_LIST = LISTS_DIR / "off_topic.txt"

#: Safe lines when an answer cannot be spoken: thanks and an invitation, never a refusal.
SAFE = {
    "zh": ("谢谢{user}的提问，{product.name}的详细介绍可以看看下方小黄车哦。",
           "谢谢{user}的留言，欢迎继续问我今天商品的问题哦。"),
    "en": ("Thanks {user}! You'll find all the details of the {product.name} right below.",
           "Thanks for your message, {user}! Ask me anything about today's products."),
}

_END = re.compile(r"[。！？；!?;]|[.](?=\s)|\n")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a reply, ready for the runner.

    Attributes:
        text: what is spoken (no tags, placeholders filled).
        emotion: the feeling it is spoken with.
        tier: ``rules``, ``llm``, ``cache`` or ``fallback``.
        rule: the rule/FAQ name, or why the fallback was used.
    """

    text: str
    emotion: str
    tier: str
    rule: str | None = None

    def tagged(self) -> str:
        """The text with its emotion tag (what the runner queues; stripped before TTS)."""
        return tag(self.text, self.emotion)


class SentenceSplitter:
    """Cuts streamed text into sentences as soon as each one ends."""

    def __init__(self) -> None:
        self._buf = ""

    def feed(self, delta: str) -> list[str]:
        """Add streamed text; return the sentences it completed."""
        self._buf += delta
        out: list[str] = []
        while True:
            m = _END.search(self._buf)
            # a sentence is complete when its end mark is followed by something
            if m is None or m.end() >= len(self._buf):
                break
            sent, self._buf = self._buf[:m.end()].strip(), self._buf[m.end():]
            if sent.strip(" \n.。!！?？;；"):
                out.append(sent)
        return out

    def close(self) -> list[str]:
        """The unfinished rest at the end of the stream, if it holds words."""
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest.strip(" \n.。!！?？;；") else []


@dataclass(slots=True)
class ReplyStats:
    """Counters per tier and outcome, and the LLM's recent first-sentence times (ms)."""

    rules: int = 0
    llm: int = 0
    cache_hits: int = 0
    fallback: int = 0
    blocked: int = 0
    ungrounded: int = 0
    timeouts: int = 0
    errors: int = 0
    first_ms: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=200))


class ReplyEngine:
    """Answers chat in tiers (see the module docstring).

    Args:
        context: gives ``show`` and ``current_product`` (the runner).
        moderator: the show's moderator (the same lists as scripted text).
        llm: the LLM tier, or None for rules only.
        persona: who the host is, for the LLM.
        cache_size, cache_ttl_s: the answer cache.
    """

    def __init__(self, context: Any, moderator: Moderator, *, llm: LlmClient | None = None,
                 persona: str = "", cache_size: int = 256, cache_ttl_s: float = 600.0) -> None:
        self.context = context
        self.moderator = moderator
        extra = [load_word_list(OFF_TOPIC_LIST)] if OFF_TOPIC_LIST.exists() else []
        self.answer_moderator = Moderator(list(moderator.lists) + extra, audit=moderator.audit,
                                          emit=moderator.emit)
        self.llm = llm
        self.persona = persona
        self.cache_size = cache_size
        self.cache_ttl_s = cache_ttl_s
        self._cache: collections.OrderedDict[tuple[str, str], tuple[float, tuple[str, ...]]] = \
            collections.OrderedDict()
        self.stats = ReplyStats()

    # -- public --------------------------------------------------------------------------
    async def reply(self, decision: Any, *, allow_llm: bool = True) -> AsyncIterator[Line]:
        """Lines answering one intake decision (none when the message gets no answer).

        ``allow_llm=False`` answers from the rules and the default reply only (the hub
        uses it when too many LLM answers are already in flight).
        """
        rule = decision.rule
        if decision.action == "reply" and rule != "default":
            self.stats.rules += 1
            text, emotion = line_emotion(decision.reply or "")
            yield Line(text, emotion, "rules", rule)
            return
        if decision.action != "reply" and decision.code != "no_match":
            return  # rate-limited, duplicate, moderated: no answer at all
        default = decision.reply if decision.action == "reply" else None
        if self.llm is None or not allow_llm:
            if default:
                yield self._fallback_line(default, "default")
            return
        async for line in self._llm_tier(decision.user or "", decision.text or "", default):
            yield line

    def health(self) -> dict[str, Any]:
        """The counters for /health (``chat.replies``)."""
        s = self.stats
        lat = sorted(s.first_ms)
        return {"rules": s.rules, "llm": s.llm, "cache_hits": s.cache_hits,
                "fallback": s.fallback, "blocked": s.blocked, "ungrounded": s.ungrounded,
                "timeouts": s.timeouts, "errors": s.errors,
                "llm_first_sentence_ms_p50": round(lat[len(lat) // 2], 1) if lat else None}

    # -- tiers ---------------------------------------------------------------------------
    def _fallback_line(self, text: str, why: str) -> Line:
        self.stats.fallback += 1
        clean, emotion = line_emotion(text)
        return Line(clean, emotion, "fallback", why)

    def _safe(self, user: str, default: str | None, why: str) -> Line | None:
        if default:
            return self._fallback_line(default, why)
        show: Show | None = self.context.show
        product: Product | None = self.context.current_product
        lang = "en" if show is not None and show.language.startswith("en") else "zh"
        for template in SAFE[lang]:
            try:
                text = render(template, product=product, user=user[:20] or "朋友")
            except MissingValue:
                continue
            if not self.answer_moderator.scan(text):
                return self._fallback_line(text, why)
        return None

    def _key(self, question: str) -> tuple[str, str]:
        product = self.context.current_product
        # case, width, spaces and punctuation do not make a new question
        return (product.id if product is not None else "",
                re.sub(r"[\W_]+", "", normalize(question))[:200])

    def _cached(self, key: tuple[str, str]) -> tuple[str, ...] | None:
        hit = self._cache.get(key)
        if hit is None:
            return None
        if time.monotonic() - hit[0] > self.cache_ttl_s:
            self._cache.pop(key, None)
            return None
        self._cache.move_to_end(key)
        return hit[1]

    def _check(self, raw: str, user: str, first_emotion: str | None) -> Line | str:
        """A raw model sentence → a spoken Line, or the reason it is not spoken."""
        show: Show = self.context.show
        product = self.context.current_product
        text, emotion = line_emotion(raw)
        text = text[:MAX_SENTENCE_CHARS]
        grounded = ground(text, show, product, facts_text(show, product)) if text else None
        if not grounded:
            self.stats.ungrounded += 1
            return "ungrounded"
        hits = self.answer_moderator.check(grounded, source="llm_reply", where=user, user=user)
        if hits:
            self.stats.blocked += 1
            return "blocked:" + ",".join(sorted({h.category for h in hits}))
        if first_emotion is not None and split_tags(raw)[1] is None:
            emotion = first_emotion  # the first sentence's tag carries through the answer
        return Line(grounded, emotion, "llm")

    async def _llm_tier(self, user: str, question: str,
                        default: str | None) -> AsyncIterator[Line]:
        show = self.context.show
        if show is None:
            return
        key = self._key(question)
        cached = self._cached(key)
        if cached is not None:
            self.stats.cache_hits += 1
            first: str | None = None
            for i, raw in enumerate(cached):
                got = self._check(raw, user, first)
                if isinstance(got, str):
                    if i == 0:
                        safe = self._safe(user, default, got)
                        if safe is not None:
                            yield safe
                    return
                first = first or got.emotion
                yield Line(got.text, got.emotion, "cache")
            return
        assert self.llm is not None
        messages = build_messages(show, self.context.current_product, question,
                                  persona=self.persona, user=user[:20])
        cfg = self.llm.config
        t0 = time.monotonic()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        task = asyncio.create_task(self._pump(messages, queue))
        spoken: list[str] = []
        first_emotion: str | None = None
        complete = False
        try:
            while len(spoken) < MAX_SENTENCES:
                limit = (cfg.first_sentence_s if not spoken else cfg.total_s) - \
                    (time.monotonic() - t0)
                try:
                    kind, value = await asyncio.wait_for(queue.get(), max(0.0, limit))
                except TimeoutError:
                    self.stats.timeouts += 1
                    if not spoken and default:
                        yield self._fallback_line(default, "timeout")  # else: silence
                    return
                if kind == "error":
                    self.stats.errors += 1
                    _log.warning("LLM tier failed: %s", value)
                    if not spoken:
                        safe = self._safe(user, default, "llm_error")
                        if safe is not None:
                            yield safe
                    return
                if kind == "end":
                    complete = True
                    return
                clean, emo = split_tags(value)
                if not clean:  # a tag on a line of its own: it colours what follows
                    first_emotion = first_emotion or emo
                    continue
                got = self._check(value, user, first_emotion)
                if isinstance(got, str):
                    if not spoken:
                        safe = self._safe(user, default, got)
                        if safe is not None:
                            yield safe
                    return  # nothing after a failed sentence is spoken
                if not spoken:
                    self.stats.llm += 1
                    self.stats.first_ms.append((time.monotonic() - t0) * 1000)
                first_emotion = first_emotion or got.emotion
                spoken.append(value)
                yield got
            complete = True
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if complete and spoken:
                self._cache[key] = (time.monotonic(), tuple(spoken))
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)

    async def _pump(self, messages: list[dict[str, str]],
                    queue: asyncio.Queue[tuple[str, Any]]) -> None:
        """Stream the answer and put whole sentences on ``queue``."""
        assert self.llm is not None
        splitter = SentenceSplitter()
        try:
            async for delta in self.llm.stream(messages):
                for s in splitter.feed(delta):
                    await queue.put(("sentence", s))
            for s in splitter.close():
                await queue.put(("sentence", s))
            await queue.put(("end", None))
        except LlmError as exc:
            await queue.put(("error", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a broken endpoint must not end the show
            await queue.put(("error", f"{type(exc).__name__}: {exc}"))
