"""The hub: sources → intake → replies → runner; thank-yous; webhook; /health and /metrics."""

from __future__ import annotations

import asyncio
import json
import textwrap
import urllib.error
import urllib.request

import pytest
from simhost import SimHost
from vhuman.core.yamlsrc import Problems, load_yaml
from websockets.asyncio.server import serve

from vhuman.api.chat import ChatIntake
from vhuman.api.chat_hub import ChatHub
from vhuman.api.replies import ReplyEngine
from vhuman.chat import bilibili_wire as wire
from vhuman.chat.bilibili import BilibiliSource
from vhuman.chat.config import create_source, parse_chat_extras, parse_chat_spec
from vhuman.chat.feeling import split_tags
from vhuman.chat.push import PushSource
from vhuman.chat.source import wait_for
from vhuman.chat.thanks import Thanks, ThanksConfig
from vhuman.chat.webhook import WebhookSource, parse_head
from vhuman.core.errors import ConfigError
from vhuman.plugins import chat_registry
from vhuman.safety.moderation import Moderator
from vhuman.scenes.runner import ShowRunner
from vhuman.scenes.show_loader import load_show_text
from vhuman.stream.server import MediaServer

SHOW = textwrap.dedent("""\
    title: 测试直播
    products:
      - {id: tea, name: 龙井, price: 89, original_price: 129}
    segments:
      - steps:
          - product: tea
          - wait: 0.5
    schedule: {loops: 1}
    chat:
      rules:
        - keywords: [多少钱]
          reply: "{product.name}现在只要{product.price}元"
      faq:
        - {q: 可以退货吗, keywords: [退货], a: 放心，支持七天无理由退换。}
      default_reply: 谢谢{user}的留言
    """)
SECRET = "s3cret-s3cret-s3cret"


def make_hub(**thanks_kw):
    host = SimHost()
    mod = Moderator.default()
    runner = ShowRunner(host, load_show_text(SHOW, "h.yaml"))
    intake = ChatIntake(runner, mod)
    thanks = Thanks(ThanksConfig(**thanks_kw), mod) if thanks_kw else None
    hub = ChatHub(runner, intake, ReplyEngine(runner, mod), thanks=thanks,
                  emit=lambda e, **f: host.events.append((e, f)))
    return hub, runner, host


async def until(pred, within=10.0) -> None:
    assert await wait_for(pred, within), "condition never met"


def spoken_clean(host: SimHost) -> list[tuple[str, str | None]]:
    return [split_tags(t) for t in host.texts()]


def test_rules_answer_with_feeling_and_nothing_for_dropped_messages() -> None:
    async def main() -> None:
        hub, runner, host = make_hub()
        push = PushSource()
        hub.add_source(push)
        await hub.start()
        task = asyncio.create_task(runner.run())
        try:
            await until(lambda: runner.current_product is not None)
            push.push({"user": "小王", "text": "这个多少钱"})
            push.push({"user": "小李", "text": "能退货吗"})
            push.push({"user": "小张", "text": "主播好"})
            push.push({"user": "坏人", "text": "你这个傻逼"})      # moderated: no answer
            push.push({"user": 5, "text": "x"})                     # not a message: refused
            await until(lambda: len(host.texts()) >= 3)
            await asyncio.sleep(0.05)
        finally:
            runner.stop()
            await hub.stop()
            await task
        assert spoken_clean(host) == [("龙井现在只要89元", "excited"),
                                      ("放心，支持七天无理由退换。", "sincere"),
                                      ("谢谢小张的留言", "warm")]
        h = hub.health()
        assert h["chat_sources_connected"] == 1 and h["chat_source_websocket_up"] == 1.0
        assert h["chat"]["intake"]["dropped"] == {"moderation_blocked": 1}
        assert h["chat"]["replies"]["rules"] == 2 and h["chat"]["replies"]["fallback"] == 1

    asyncio.run(asyncio.wait_for(main(), 30))


def test_thanks_are_grouped_and_rate_limited() -> None:
    mod = Moderator.default()
    t = Thanks(ThanksConfig(min_gap_s=10, max_names=2), mod)
    for i, name in enumerate(["A", "B", "C"]):
        t.offer({"kind": "gift", "user": name, "gift": "小心心"}, i)
    t.offer({"kind": "gift", "user": "A", "gift": "小心心"}, 3)  # A again: thanked once
    assert t.due(3) == "谢谢A、B等3位朋友送的小心心！"
    t.offer({"kind": "follow", "user": "D"}, 4)
    assert t.due(5) is None            # 10 s between thank-you lines
    assert t.due(13) == "欢迎D关注直播间！"
    t.offer({"kind": "follow", "user": "傻逼"}, 30)
    assert t.due(30) == "欢迎大家关注直播间！"  # a blocked name is never spoken


def test_webhook_secret_limits_and_messages() -> None:
    async def main() -> None:
        src = WebhookSource(secret=SECRET, port=0, max_body=2048)
        await src.start()
        await until(lambda: src.bound_port is not None)
        url = f"http://127.0.0.1:{src.bound_port}/chat"

        def post(body: bytes, secret: str | None = SECRET, path: str = "/chat") -> tuple:
            req = urllib.request.Request(url.replace("/chat", path), data=body, method="POST")
            if secret is not None:
                req.add_header("X-Vhuman-Secret", secret)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        ok = json.dumps([{"user": "小王", "text": "多少钱"},
                         {"user": "A", "kind": "gift", "gift": "辣条", "count": 2}]).encode()
        results = await asyncio.gather(
            asyncio.to_thread(post, ok),
            asyncio.to_thread(post, ok, "wrong-secret-wrong"),
            asyncio.to_thread(post, ok, None),
            asyncio.to_thread(post, b"x" * 4096),
            asyncio.to_thread(post, b"{not json"),
            asyncio.to_thread(post, ok, SECRET, "/nope"),
            asyncio.to_thread(post, json.dumps({"user": "u", "text": "\ud800"}).encode()),
        )
        got = [m async for m in _drain(src)]
        await src.stop()
        codes = [r[0] for r in results]
        assert codes == [202, 401, 401, 413, 400, 404, 400]
        assert results[0][1] == {"ok": True, "accepted": 2}
        assert [(m["kind"], m["user"]) for m in got] == [("chat", "小王"), ("gift", "A")]
        assert src.refused == 6 and src.health()["state"] == "connected"

    asyncio.run(asyncio.wait_for(main(), 30))


async def _drain(src):
    while src._queue:
        yield src._queue.popleft()


def test_webhook_head_parser_bounds() -> None:
    from vhuman.chat.webhook import HttpError

    with pytest.raises(HttpError) as e:
        parse_head(b"POST /chat HTTP/1.1\r\n" + b"X-A: b\r\n" * 60)
    assert e.value.status == 431
    with pytest.raises(HttpError):
        parse_head(b"garbage")
    h = parse_head(b"POST /chat?x=1 HTTP/1.1\r\nContent-Length: 3")
    assert h.path == "/chat" and h.headers["content-length"] == "3"
    with pytest.raises(ConfigError, match="16 characters"):
        WebhookSource(secret="short")


def test_specs_and_show_keys() -> None:
    assert parse_chat_spec("bilibili:room=5,key=env:K") == ("bilibili", {"room": "5",
                                                                         "key": "env:K"})
    with pytest.raises(ConfigError, match="no option 'colour'.*valid options: room"):
        create_source("bilibili", {"room": "5", "colour": "red"}, registry=chat_registry())
    with pytest.raises(ConfigError, match="unknown chat source 'nope'"):
        create_source("nope", {}, registry=chat_registry())
    src = create_source("bilibili", {"room": "5"}, registry=chat_registry(),
                        down_after_s=12)
    assert isinstance(src, BilibiliSource) and src.down_after_s == 12
    data = load_yaml(textwrap.dedent("""\
        sources:
          - websocket
          - bilibili: {room: 21452505}
          - 5
        persona: 温柔的主播
        llm: {url: http://127.0.0.1:8080/v1, model: tiny, key: sk-plain}
        thanks: {gift: "谢谢{names}{oops}", follow: "最好的{names}", min_gap_s: 5}
        """), "s.yaml")
    probs = Problems("s.yaml")
    extras = parse_chat_extras(data, probs, Moderator.default())
    assert extras.sources == (("websocket", {}), ("bilibili", {"room": "21452505"}))
    assert extras.persona == "温柔的主播" and extras.thanks.min_gap_s == 5
    msgs = [(p.line, p.message) for p in probs.items]
    assert any(ln == 4 and "name or a name" in m for ln, m in msgs)
    assert any(ln == 6 and "env:NAME" in m for ln, m in msgs)      # no keys in show files
    assert any(ln == 7 and "oops" in m for ln, m in msgs)
    assert any(ln == 7 and "thanks.follow contains banned" in m for ln, m in msgs)


@pytest.mark.slow
def test_health_and_metrics_follow_a_bilibili_outage() -> None:
    """A real /health and /metrics: the source goes connected → down → connected."""
    async def main() -> None:
        allow = {"ok": True}

        async def handler(ws) -> None:
            await ws.recv()
            await ws.send(wire.encode_packet(wire.OP_AUTH_REPLY, json.dumps(
                {"code": 0 if allow["ok"] else -101}).encode()))
            async for _ in ws:
                pass

        hub, _runner, host = make_hub()
        server = MediaServer("127.0.0.1", 0, width=64, height=64, fps=30, codec="jpeg")
        server.set_health_provider(hub.health)
        async with serve(handler, "127.0.0.1", 0) as bili:
            port = bili.sockets[0].getsockname()[1]
            src = BilibiliSource(room=1, url=f"ws://127.0.0.1:{port}", heartbeat_s=0.1,
                                 backoff_min_s=0.05, backoff_max_s=0.1, down_after_s=0.3)
            hub.add_source(src)
            await server.start()
            await hub.start()

            def health() -> dict:  # called in a thread: the server runs on this loop
                try:
                    r = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health")
                except urllib.error.HTTPError as e:  # 503 is fine: we want the document
                    r = e
                return json.loads(r.read())

            try:
                await until(lambda: src.state == "connected")
                assert (await asyncio.to_thread(health))["chat"]["sources"]["bilibili"][
                    "state"] == "connected"
                allow["ok"] = False           # the platform starts refusing us
                for c in list(bili.connections):
                    await c.close()
                await until(lambda: src.state == "down", 5)
                doc = await asyncio.to_thread(health)
                assert doc["chat"]["sources"]["bilibili"]["state"] == "down"
                assert doc["chat_sources_down"] == 1
                metrics = await asyncio.to_thread(
                    lambda: urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics")
                    .read().decode())
                assert "vhuman_health_chat_source_bilibili_up 0" in metrics
                allow["ok"] = True
                await until(lambda: src.state == "connected", 5)
                assert (await asyncio.to_thread(health))["chat_source_bilibili_up"] == 1
            finally:
                await hub.stop()
                await server.stop()
        events = [e for e, _ in host.events]
        assert "chat_source_down" in events and "chat_source_up" in events

    asyncio.run(asyncio.wait_for(main(), 40))


def test_build_hub_from_cli_and_show_keys() -> None:
    from vhuman.api.chat_hub import build_hub
    from vhuman.chat.config import ChatExtras
    from vhuman.chat.llm import LlmConfig

    host = SimHost()
    mod = Moderator.default()
    runner = ShowRunner(host, load_show_text(SHOW, "h.yaml"))
    extras = ChatExtras(sources=(("bilibili", {"room": "7"}), ("webhook", {"secret": SECRET,
                                                                          "port": "0"})),
                        down_after_s=9, persona="茶叶主播",
                        llm=LlmConfig(url="http://127.0.0.1:9/v1", model="m"))
    hub = build_hub(runner, ChatIntake(runner, mod), mod, extras=extras,
                    specs=[("bilibili", {"room": "8"})])
    assert sorted(hub.sources) == ["bilibili", "webhook"]     # --chat wins over the show
    assert hub.sources["bilibili"].room == 8 and hub.sources["bilibili"].down_after_s == 9
    assert hub.engine.llm.config.model == "m" and hub.engine.persona == "茶叶主播"
    hub.configure(ChatExtras())                                # a show without an LLM
    assert hub.engine.llm is None and sorted(hub.sources) == ["bilibili", "webhook"]


def test_accept_for_the_chat_route_says_an_llm_answer_is_coming() -> None:
    """What /chat answers when the LLM tier takes a question (here: its endpoint is down)."""
    from tinyllm import free_port

    from vhuman.chat.llm import LlmClient, LlmConfig

    async def main() -> None:
        hub, runner, host = make_hub()
        hub.engine.llm = LlmClient(LlmConfig(url=f"http://127.0.0.1:{free_port()}/v1"))
        task = asyncio.create_task(runner.run())
        try:
            await until(lambda: runner.current_product is not None)
            d = hub.accept(json.dumps({"user": "小王", "text": "主播好"}, ensure_ascii=False))
            assert d.to_wire() == {"ok": True, "action": "reply", "code": "llm_pending"}
            rule = hub.accept(json.dumps({"user": "小李", "text": "多少钱"}, ensure_ascii=False))
            assert rule.rule == "多少钱" and rule.reply == "龙井现在只要89元"
            await until(lambda: len(host.texts()) >= 2)
        finally:
            runner.stop()
            await hub.stop()
            await task
            await hub.engine.llm.aclose()
        said = sorted(split_tags(t)[0] for t in host.texts())
        assert said == ["谢谢小王的留言", "龙井现在只要89元"]   # the endpoint failed: default

    asyncio.run(asyncio.wait_for(main(), 30))


def test_gifts_from_a_source_become_one_thank_you_line() -> None:
    async def main() -> None:
        hub, runner, host = make_hub(min_gap_s=60)
        push = PushSource()
        hub.add_source(push)
        await hub.start()
        task = asyncio.create_task(runner.run())
        try:
            for user in ("A", "B", "C", "D"):
                push.push({"user": user, "kind": "gift", "gift": "小心心", "count": 1})
            push.push({"user": "E", "kind": "follow"})
            await until(lambda: host.texts(), 5)
            await asyncio.sleep(1.5)     # the follow waits for the 60 s gap: not spoken yet
        finally:
            runner.stop()
            await hub.stop()
            await task
        assert spoken_clean(host) == [("谢谢A、B、C等4位朋友送的小心心！", "warm")]

    asyncio.run(asyncio.wait_for(main(), 30))
