"""The LLM tier against a real OpenAI-compatible server process (llama-cpp-python) on loopback.

The models are tiny GGUFs made by the test (see ``tinyllm.py``): scripted ones say a known
answer — clean, with a wrong price, with banned wording, off topic — and a random one says
nonsense. What is checked is what a viewer would hear: grounded prices, nothing blocked
ever spoken, a safe line instead of a refusal, silence or the rule answer on a timeout,
the cache, and streaming sentence by sentence.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from tinyllm import LlamaServer, llama_server_available, write_random, write_scripted

from vhuman.api.chat import ChatIntake
from vhuman.api.grounding import facts_text
from vhuman.api.replies import Line, ReplyEngine
from vhuman.chat.llm import LlmClient, LlmConfig
from vhuman.safety.moderation import Moderator
from vhuman.scenes.show import Product, Show
from vhuman.scenes.show_loader import load_show_text

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not llama_server_available(),
                                 reason="llama-cpp-python[server] is not installed "
                                        "(pip install -e '.[dev]')")]

SHOW = textwrap.dedent("""\
    title: 冬季好物
    products:
      - {id: tea, name: 明前龙井, price: 89, original_price: 129, stock: 500,
         points: [今年春茶, 独立小袋]}
    segments:
      - steps: [你好]
    chat:
      rules:
        - {keywords: [发货], reply: 下单后四十八小时内发货。}
    """)
DEFAULT = "  default_reply: 谢谢{user}的留言，喜欢就点小黄车。\n"

MODELS = {
    "clean": ["[emotion:excited]", "这款", "{name}", "今天只要", "{price}", "元。", "喝起来",
              "很清爽", "！"],
    "wrongprice": ["[emotion:warm]", "现在只要", "19", "元哦。"],
    "banned": ["[emotion:excited]", "这是", "全网最低", "价！"],
    "offtopic": ["[emotion:sincere]", "这款茶能", "治疗", "失眠。"],
    "second_bad": ["[emotion:warm]", "这款茶很香。", "销量第一", "！"],
    "tagline": ["[emotion:surprised]", "\n", "哇，", "{name}", "是今年春茶！"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    d: Path = tmp_path_factory.mktemp("llm")
    paths = {name: write_scripted(d / f"{name}.gguf", chain) for name, chain in MODELS.items()}
    paths["random"] = write_random(d / "random.gguf",
                                   ["茶", "好喝", "最好", "元", "。", "！", "便宜", "的", "9",
                                    "治疗", "{price}", "{bogus}", "[emotion:warm]"])
    with LlamaServer(paths, d) as srv:
        yield srv


@dataclass
class Ctx:
    show: Show
    current_product: Product | None


def engine(url: str, model: str, *, default: bool = True, product: bool = True,
           first_s: float = 20.0, events: list | None = None) -> tuple[ReplyEngine, ChatIntake]:
    show = load_show_text(SHOW + (DEFAULT if default else ""), "llm.yaml")
    ctx = Ctx(show, show.products["tea"] if product else None)
    sink = events if events is not None else []
    mod = Moderator.default(emit=lambda e, **f: sink.append((e, f)))
    client = LlmClient(LlmConfig(url=url, model=model, first_sentence_s=first_s, total_s=30))
    return ReplyEngine(ctx, mod, llm=client), ChatIntake(ctx, mod)


async def answer(eng: ReplyEngine, intake: ChatIntake, text: str, user: str = "小王",
                 now_ns: int = 0) -> list[Line]:
    d = intake.accept(json.dumps({"user": user, "text": text}, ensure_ascii=False), now_ns)
    return [line async for line in eng.reply(d)]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_grounded_answer_streams_sentence_by_sentence_with_feeling(server) -> None:
    async def main() -> None:
        eng, intake = engine(server.url, "clean")
        # the raw stream really is incremental: many deltas, placeholders still in them
        deltas = [d async for d in eng.llm.stream([{"role": "user", "content": "hi"}])]
        assert len(deltas) >= 5 and "{price}" in "".join(deltas)
        lines = await answer(eng, intake, "这茶怎么样")
        assert [(ln.text, ln.emotion, ln.tier) for ln in lines] == [
            ("这款明前龙井今天只要89元。", "excited", "llm"),   # the price is the show's
            ("喝起来很清爽！", "excited", "llm")]
        assert all("[" not in ln.text for ln in lines)
        # a rule still answers first, without asking the model
        before = eng.llm.requests
        assert [ln.tier for ln in await answer(eng, intake, "什么时候发货", user="小李")] \
            == ["rules"]
        assert eng.llm.requests == before
        await eng.llm.aclose()

    run(main())


def test_cache_answers_the_same_question_without_the_model(server) -> None:
    async def main() -> None:
        eng, intake = engine(server.url, "clean")
        t0 = time.monotonic()
        first = await answer(eng, intake, "这茶怎么样", user="A")
        t1 = time.monotonic()
        again = await answer(eng, intake, "这茶 怎么样？", user="B")  # same, normalised
        t2 = time.monotonic()
        assert [ln.text for ln in again] == [ln.text for ln in first]
        assert {ln.tier for ln in again} == {"cache"} and eng.llm.requests == 1
        assert t2 - t1 < (t1 - t0)
        assert eng.stats.cache_hits == 1
        await eng.llm.aclose()

    run(main())


def test_wrong_price_from_the_model_is_replaced_by_the_show(server) -> None:
    async def main() -> None:
        eng, intake = engine(server.url, "wrongprice")
        lines = await answer(eng, intake, "现在什么价")
        assert [(ln.text, ln.emotion) for ln in lines] == [("现在只要89元哦。", "warm")]
        await eng.llm.aclose()
        # without a product on screen the price cannot be checked: not spoken, safe line
        eng, intake = engine(server.url, "wrongprice", product=False)
        lines = await answer(eng, intake, "现在什么价")
        assert [ln.tier for ln in lines] == ["fallback"] and "19" not in lines[0].text
        await eng.llm.aclose()

    run(main())


@pytest.mark.parametrize("model, category", [("banned", "ad_law_absolute"),
                                             ("offtopic", "off_topic")])
def test_blocked_answer_is_never_spoken(server, model: str, category: str) -> None:
    async def main() -> None:
        events: list = []
        eng, intake = engine(server.url, model, events=events)
        lines = await answer(eng, intake, "这茶怎么样")
        assert [(ln.text, ln.tier) for ln in lines] == [
            ("谢谢小王的留言，喜欢就点小黄车。", "fallback")]  # the show's default reply
        hits = [f for e, f in events if e == "moderation_hit" and f["source"] == "llm_reply"]
        assert hits and category in hits[0]["categories"]
        await eng.llm.aclose()
        # no default reply in the show: a safe thank-you, never a refusal
        eng, intake = engine(server.url, model, default=False)
        [line] = await answer(eng, intake, "这茶怎么样")
        assert line.tier == "fallback" and "明前龙井" in line.text
        assert not re.search(r"无法|不能回答|can't answer|cannot answer", line.text)
        await eng.llm.aclose()

    run(main())


def test_a_blocked_second_sentence_is_dropped(server) -> None:
    async def main() -> None:
        eng, intake = engine(server.url, "second_bad")
        lines = await answer(eng, intake, "香不香")
        assert [ln.text for ln in lines] == ["这款茶很香。"]
        assert eng.stats.blocked == 1
        await eng.llm.aclose()

    run(main())


def test_a_tag_on_its_own_line_colours_the_answer(server) -> None:
    async def main() -> None:
        eng, intake = engine(server.url, "tagline")
        lines = await answer(eng, intake, "是新茶吗")
        assert [(ln.text, ln.emotion) for ln in lines] == [("哇，明前龙井是今年春茶！",
                                                            "surprised")]
        await eng.llm.aclose()

    run(main())


def test_random_weights_whatever_comes_back_is_checked(server) -> None:
    async def main() -> None:
        events: list = []
        eng, intake = engine(server.url, "random", events=events)
        mod = Moderator.default()
        facts = facts_text(eng.context.show, eng.context.current_product)
        allowed_numbers = set(re.findall(r"\d+", facts)) | {"89", "129", "500", "40"}
        spoken: list[Line] = []
        for i, q in enumerate(["好喝吗", "便宜吗", "怎么泡", "送人行吗", "能放多久"]):
            spoken += await answer(eng, intake, q, user="甲乙丙丁戊"[i], now_ns=i * 10**9)
        assert spoken, "every question gets an answer or a safe line"
        for ln in spoken:
            assert not mod.scan(ln.text), ln.text
            assert "{" not in ln.text and "[" not in ln.text
            assert set(re.findall(r"\d+", ln.text)) <= allowed_numbers, ln.text
        assert eng.stats.blocked + eng.stats.ungrounded + eng.stats.llm >= 1
        await eng.llm.aclose()

    run(main())


def test_timeout_rule_answer_or_silence_wins() -> None:
    """A hung endpoint (accepts, never answers): default reply on time, else silence."""
    async def main() -> None:
        async def hang(reader, writer) -> None:
            await reader.read(65536)
            await asyncio.sleep(30)

        srv = await asyncio.start_server(hang, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/v1"
        try:
            eng, intake = engine(url, "x", first_s=0.3)
            t0 = time.monotonic()
            lines = await answer(eng, intake, "这茶怎么样")
            took = time.monotonic() - t0
            assert [ln.tier for ln in lines] == ["fallback"] and 0.25 < took < 1.5
            assert lines[0].rule == "timeout" and eng.stats.timeouts == 1
            await eng.llm.aclose()
            eng, intake = engine(url, "x", first_s=0.3, default=False)
            assert await answer(eng, intake, "这茶怎么样") == []   # silence
            await eng.llm.aclose()
        finally:
            srv.close()

    run(main())


def test_endpoint_down_gives_a_safe_line() -> None:
    async def main() -> None:
        from tinyllm import free_port

        eng, intake = engine(f"http://127.0.0.1:{free_port()}/v1", "x", default=False)
        [line] = await answer(eng, intake, "这茶怎么样")
        assert line.tier == "fallback" and line.rule == "llm_error" and eng.stats.errors == 1
        await eng.llm.aclose()

    run(main())
