"""The /control protocol: auth, ops, errors; the websocket layers for /control and /chat."""

from __future__ import annotations

import asyncio
import json
import textwrap

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simhost import SimHost
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from vhuman.safety.moderation import Moderator
from vhuman.api.chat import ChatIntake, chat_handler
from vhuman.api.control import ControlSession, control_handler, origin_allowed
from vhuman.scenes.runner import ShowRunner
from vhuman.scenes.show_loader import load_show_text

TOKEN = "s3cret-token-0123456789"
SHOW = textwrap.dedent("""\
    title: 控制测试
    products:
      - {id: a, name: 龙井, price: 89}
    scenes:
      near: {camera: {zoom: 1.5}}
    segments:
      - steps: [第一句, 第二句, 第三句]
    chat:
      rules:
        - keywords: [多少钱]
          reply: "{product.name}{product.price}元"
      default_reply: 谢谢
    """)


def setup(shows_dir=None):
    host = SimHost()
    runner = ShowRunner(host, load_show_text(SHOW, "c.yaml"))
    mod = Moderator.default(emit=host.emit)
    host.lines.moderator = mod  # the studio's gate: every spoken line passes it
    sess = ControlSession(host, runner, token=TOKEN, moderator=mod, shows_dir=shows_dir)
    return host, runner, sess


def req(op: str, id_: str = "1", **fields) -> str:
    return json.dumps({"id": id_, "op": op, **fields}, ensure_ascii=False)


def authed(sess: ControlSession) -> ControlSession:
    assert sess.handle(json.dumps({"op": "auth", "token": TOKEN})) == [
        {"id": None, "ok": True, "op": "auth"}]
    return sess


def test_without_token_everything_is_refused() -> None:
    _, runner, sess = setup()
    (r,) = sess.handle(req("pause"))
    assert r["ok"] is False and r["error"]["code"] == "auth_required" and r["id"] == "1"
    assert not runner.paused
    (r,) = sess.handle(req("pause", token="wrong"))
    assert r["error"]["code"] == "auth_failed" and r["error"]["detail"]["attempts_left"] == 2
    assert not runner.paused and sess.close_reason is None


def test_three_wrong_tokens_close_the_session() -> None:
    _, _, sess = setup()
    for _ in range(3):
        sess.handle(req("auth", token="nope"))
    assert sess.close_reason


def test_token_in_the_first_request_authenticates_it() -> None:
    _, runner, sess = setup()
    (r,) = sess.handle(req("pause", token=TOKEN))
    assert r == {"id": "1", "ok": True} and runner.paused


def test_ops_act_on_the_runner_and_host() -> None:
    host, _, sess = setup()
    authed(sess)

    async def main() -> None:
        (r,) = sess.handle(req("say", text="欢迎新朋友"))
        assert r["ok"] and r["line_id"]
        for _ in range(3):
            await asyncio.sleep(0)
        assert host.overlay["subtitle"] == "欢迎新朋友"
        (r,) = sess.handle(req("cue", name="wink", intensity=0.5))
        assert r["ok"] and host.cues[-1] == ("wink", 0.5, None)
        (r,) = sess.handle(req("product", product="a", countdown_s=30))
        assert r["product"]["price"] == "89" and host.overlay["product"].id == "a"
        (r,) = sess.handle(req("scene", name="near"))
        assert r["ok"] and host.scenes[-1].camera_zoom == 1.5
        (r,) = sess.handle(req("status"))
        assert r["status"]["product"] == "a"
        for op in ("pause", "resume", "skip", "interrupt"):
            assert sess.handle(req(op))[0]["ok"]

    asyncio.run(main())
    assert host.spoken[0].text == "欢迎新朋友"


def test_say_with_an_absolute_term_is_refused_with_a_suggestion() -> None:
    host, _, sess = setup()
    authed(sess)
    (r,) = sess.handle(req("say", text="这是全网最低价"))
    assert r["ok"] is False and r["error"]["code"] == "moderation_blocked"
    assert r["error"]["detail"]["hits"][0]["term"] == "全网最低"
    assert "全网最低" not in r["error"]["detail"]["suggestion"]
    assert host.spoken == [] and host.names("moderation_hit")[0]["source"] == "say"


def test_bad_requests_get_clear_codes() -> None:
    _, _, sess = setup()
    authed(sess)
    cases = [
        ("{", "bad_json"),
        ("[]", "bad_message"),
        (json.dumps({"id": "1"}), "missing_field"),
        (req("dance"), "unknown_op"),
        (req("say"), "missing_field"),
        (req("say", text=5), "bad_field"),
        (req("say", text="x" * 600), "bad_field"),
        (req("cue", name="grin"), "bad_field"),
        (req("cue", name="smile", intensity=3), "bad_field"),
        (req("product", product="zz"), "not_found"),
        (req("scene", name="zz"), "not_found"),
        (req("scene"), "missing_field"),
        (req("load_show"), "missing_field"),
        (req("load_show", path="../../etc/passwd"), "forbidden_path"),
        (req("load_show", yaml="title: x\n"), "invalid_show"),
        (req("say", text="hi", interrupt="yes"), "bad_field"),
        (json.dumps({"id": [1], "op": "status"}), "bad_field"),
        ("x" * 17000, "too_large"),
    ]
    for raw, code in cases:
        (r,) = sess.handle(raw)
        assert r["ok"] is False and r["error"]["code"] == code, (raw[:50], r)
        assert r["error"]["message"]
    (r,) = sess.handle(b"\x00")
    assert r["error"]["code"] == "bad_message"


def test_load_show_reports_problems_with_lines(tmp_path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "title: x\nproducts: []\nsegments:\n  - steps:\n    - 我们是最好的\n", encoding="utf-8")
    (tmp_path / "ok.yaml").write_text(SHOW.replace("控制测试", "新节目"), encoding="utf-8")
    _, runner, sess = setup(shows_dir=tmp_path)
    authed(sess)
    (r,) = sess.handle(req("load_show", path="bad.yaml"))
    assert r["error"]["code"] == "invalid_show"
    (p,) = r["error"]["detail"]["problems"]
    assert p["line"] == 5 and "最好" in p["message"]
    (r,) = sess.handle(req("load_show", path="ok.yaml"))
    assert r["ok"] and r["title"] == "新节目" and runner.show.title == "新节目"


def test_origin_rules() -> None:
    assert origin_allowed(None, "h:1", ())  # non-browser client
    assert origin_allowed("http://h:1", "h:1", ())  # same origin (the viewer page)
    assert not origin_allowed("http://evil.example", "h:1", ())
    assert origin_allowed("https://studio.example", "h:1", ("https://studio.example",))
    assert origin_allowed("http://any", "h:1", ("*",))


# -- property-based: nothing a client sends breaks the protocol or the show ---------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=12)
control_msgs = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=50),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"op": st.sampled_from(["say", "cue", "scene", "product", "load_show", "pause", "resume",
                                "skip", "status", "interrupt", "auth", "nope"])},
        optional={"id": json_values, "text": json_values, "name": json_values,
                  "product": json_values, "path": json_values, "yaml": json_values,
                  "intensity": json_values, "duration_s": json_values,
                  "interrupt": json_values, "token": json_values}).map(json.dumps),
)


def check_control(message) -> None:
    sess = SHARED[2]
    replies = sess.handle(message)
    assert len(replies) == 1
    r = replies[0]
    json.dumps(r)  # always serialisable
    assert r["ok"] in (True, False)
    if not r["ok"]:
        assert r["error"]["code"] != "internal", r
        assert r["error"]["message"]


chat_msgs = st.one_of(
    st.text(max_size=300), st.binary(max_size=50), json_values.map(json.dumps),
    st.fixed_dictionaries({}, optional={"user": json_values | st.text(max_size=80),
                                        "text": json_values | st.text(max_size=300),
                                        "ts": json_values}).map(json.dumps))


def check_chat(message) -> None:
    intake = CHAT
    d = intake.accept(message, 0)
    w = d.to_wire()
    json.dumps(w)
    assert d.action in ("error", "drop", "reply")
    if d.action == "error":
        assert w["ok"] is False and w["error"]["code"] and w["error"]["message"]


# hypothesis spends ~15-30 ms generating each example on these shared cores, so the full
# 1,000-message runs are marked slow and a 100-message run always goes with the fast suite.
_fuzz = {"deadline": None, "suppress_health_check": list(HealthCheck)}


@settings(max_examples=100, **_fuzz)
@given(control_msgs)
def test_100_malformed_control_messages(message) -> None:
    check_control(message)


@pytest.mark.slow
@settings(max_examples=1000, **_fuzz)
@given(control_msgs)
def test_1000_malformed_control_messages(message) -> None:
    check_control(message)


@settings(max_examples=100, **_fuzz)
@given(chat_msgs)
def test_100_malformed_chat_messages(message) -> None:
    check_chat(message)


@pytest.mark.slow
@settings(max_examples=1000, **_fuzz)
@given(chat_msgs)
def test_1000_malformed_chat_messages(message) -> None:
    check_chat(message)


def _shared():
    host, runner, sess = setup()
    authed(sess)
    return host, runner, sess


SHARED = _shared()
CHAT = ChatIntake(SHARED[1], Moderator.default())


def test_show_keeps_running_through_a_flood_of_bad_messages() -> None:
    """Runner playing; 300 malformed control + chat messages in between lines."""
    host = SimHost()
    show = load_show_text(SHOW + "schedule: {loops: 2}\n", "c.yaml")
    runner = ShowRunner(host, show)
    sess = authed(ControlSession(host, runner, token=TOKEN, moderator=Moderator.default()))
    intake = ChatIntake(runner, Moderator.default())
    junk = ["{", "[]", '{"op":"say"}', '{"op":"cue","name":1}', '{"op":"load_show","path":1}',
            b"\xff", '{"op":"product","product":"zz"}', '{"user":1}', "null", '"x"']

    async def main() -> None:
        task = asyncio.create_task(runner.run())
        n = 0
        for _ in range(100_000):
            if runner.state == "finished":
                break
            if n < 300:
                m = junk[n % len(junk)]
                assert sess.handle(m)[0]["ok"] is False
                assert intake.accept(m, host.clock.now_ns()).action == "error"
                n += 1
            await asyncio.sleep(0)
        runner.stop()
        await task

    asyncio.run(asyncio.wait_for(main(), 30))
    assert host.texts() == ["第一句", "第二句", "第三句"] * 2


# -- the websocket layers -------------------------------------------------------------------

async def _serve(handler):
    server = await serve(handler, "127.0.0.1", 0)
    port = next(iter(server.sockets)).getsockname()[1]
    return server, f"ws://127.0.0.1:{port}/"


def test_control_over_websocket_auth_events_and_reconnect() -> None:
    host = SimHost()
    runner = ShowRunner(host, load_show_text(SHOW, "c.yaml"))

    async def main() -> None:
        handler = control_handler(host, runner, TOKEN, moderator=Moderator.default())
        server, url = await _serve(handler)
        try:
            async with connect(url) as ws:
                await ws.send(req("pause"))
                r = json.loads(await ws.recv())
                assert r["error"]["code"] == "auth_required"
                await ws.send(json.dumps({"op": "auth", "token": TOKEN}))
                assert json.loads(await ws.recv())["ok"]
                await ws.send(req("product", "2", product="a"))
                got = [json.loads(await ws.recv()) for _ in range(2)]
                assert {"id": "2"}.items() <= next(g for g in got if "id" in g).items()
                ev = next(g for g in got if "event" in g)
                assert ev == {"event": "product_changed", "product": "a", "name": "龙井",
                              "price": "89"}
                await ws.send("{oops")
                assert json.loads(await ws.recv())["error"]["code"] == "bad_json"
                await ws.send(req("pause", "3"))
                assert json.loads(await ws.recv())["ok"]  # connection survived the bad one
            # state lives in the runner: a new connection sees it paused with product a
            async with connect(url) as ws:
                await ws.send(req("status", "4", token=TOKEN))
                st_ = json.loads(await ws.recv())["status"]
                assert st_["paused"] is True and st_["product"] == "a"
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(asyncio.wait_for(main(), 20))


def test_control_wrong_token_three_times_closes_and_bad_origin_is_refused() -> None:
    host = SimHost()
    runner = ShowRunner(host)

    async def main() -> None:
        server, url = await _serve(control_handler(host, runner, TOKEN, ("https://ok.example",)))
        try:
            async with connect(url) as ws:
                for _ in range(3):
                    await ws.send(req("auth", token="bad"))
                    assert json.loads(await ws.recv())["error"]["code"] == "auth_failed"
                with pytest.raises(websockets.ConnectionClosed) as info:
                    await ws.recv()
                assert info.value.rcvd.code == 1008
            async with connect(url, origin="https://evil.example") as ws:
                r = json.loads(await ws.recv())
                assert r["error"]["code"] == "origin_forbidden"
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
            async with connect(url, origin="https://ok.example") as ws:
                await ws.send(req("status", token=TOKEN))
                assert json.loads(await ws.recv())["ok"]
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(asyncio.wait_for(main(), 20))


def test_chat_over_websocket_gets_a_spoken_answer() -> None:
    host = SimHost()
    show = load_show_text(SHOW + "schedule: {loops: 1}\n", "c.yaml")
    runner = ShowRunner(host, show)

    async def main() -> None:
        intake = ChatIntake(runner, Moderator.default(emit=host.emit))
        server, url = await _serve(chat_handler(intake, runner))
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0)
        runner.set_product("a")  # the producer puts the card up while the show runs
        try:
            async with connect(url) as ws:
                await ws.send(json.dumps({"user": "小王", "text": "多少钱", "ts": 1}))
                r = json.loads(await ws.recv())
                assert r == {"ok": True, "action": "reply", "code": "ok", "reply": "龙井89元",
                             "rule": "多少钱"}
                await ws.send(json.dumps({"user": "小王", "text": "傻逼"}))
                r = json.loads(await ws.recv())
                assert r["action"] == "drop" and r["code"] == "moderation_blocked"
                await ws.send("garbage")
                assert json.loads(await ws.recv())["error"]["code"] == "bad_json"
            for _ in range(100_000):
                if runner.state == "finished":
                    break
                await asyncio.sleep(0)
        finally:
            runner.stop()
            await task
            server.close()
            await server.wait_closed()

    asyncio.run(asyncio.wait_for(main(), 20))
    assert "龙井89元" in host.texts()
    assert host.names("chat_answered")[0]["user"] == "小王"
    assert host.names("moderation_hit")[0]["source"] == "chat"


def test_chat_token_when_configured() -> None:
    host = SimHost()
    runner = ShowRunner(host, load_show_text(SHOW, "c.yaml"))

    async def main() -> None:
        intake = ChatIntake(runner, Moderator.default())
        server, url = await _serve(chat_handler(intake, runner, token="chat-token-0123456789"))
        try:
            async with connect(url) as ws:
                await ws.send(json.dumps({"user": "a", "text": "多少钱"}))
                assert json.loads(await ws.recv())["error"]["code"] == "auth_required"
                await ws.send(json.dumps({"op": "auth", "token": "chat-token-0123456789"}))
                assert json.loads(await ws.recv())["ok"]
                await ws.send(json.dumps({"user": "a", "text": "你好"}))
                assert json.loads(await ws.recv())["action"] == "reply"
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(asyncio.wait_for(main(), 20))


def test_routes_on_the_real_media_server() -> None:
    """/control and /chat mounted on vhuman.stream.server.MediaServer, as the engine does."""
    from vhuman.stream.server import MediaServer

    host = SimHost()
    runner = ShowRunner(host, load_show_text(SHOW, "c.yaml"))

    async def main() -> None:
        server = MediaServer("127.0.0.1", 0, width=64, height=64, fps=30, codec="jpeg")
        server.add_websocket_route("/control", control_handler(host, runner, TOKEN))
        server.add_websocket_route(
            "/chat", chat_handler(ChatIntake(runner, Moderator.default()), runner))
        await server.start()
        try:
            base = f"ws://127.0.0.1:{server.port}"
            # a browser on the viewer page is same-origin and may connect
            async with connect(base + "/control", origin=f"http://127.0.0.1:{server.port}") as ws:
                await ws.send(req("status", token=TOKEN))
                assert json.loads(await ws.recv())["status"]["state"] == "idle"
            # a page elsewhere is refused at the handshake (docs/security.md)
            with pytest.raises(websockets.InvalidStatus) as info:
                async with connect(base + "/control", origin="http://elsewhere.example"):
                    pass
            assert info.value.response.status_code == 403
            async with connect(base + "/chat") as ws:
                await ws.send(json.dumps({"user": "a", "text": "你好"}))
                assert json.loads(await ws.recv())["rule"] == "default"
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 30))
