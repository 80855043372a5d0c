"""Every route of a live server, attacked: each attack gets its documented answer, and a
well-behaved viewer and producer on the same server see nothing of it (docs/security.md).
"""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest
import websockets
from room import CHAT_TOKEN, CONTROL_TOKEN, Room, req
from websockets.asyncio.client import connect

from vhuman.api.auth import AuthThrottle

HOST = {"Host": "127.0.0.1"}
HTTP_ROUTES = ("/", "/health", "/metrics", "/static/viewer.js")
WS_ROUTES = ("/media", "/control", "/chat")

# every YAML field that names a file, as network input, with a hostile value in {}
SCENE_FILE_FIELDS = (
    "background: {{image: '{}'}}",
    "background: {{video: '{}'}}",
    "avatar: '{}'",
    "avatar: {{file: '{}'}}",
    "avatar: {{file: plain.yaml, overrides: '{}'}}",
)
SHOW_FILE_FIELDS = (
    "scene: '{}'",
    "scenes: {{x: '{}'}}",
    "scene: {{background: {{image: '{}'}}}}",
    "moderation: {{lists: ['{}']}}",
)
HOSTILE_PATHS = ("../../secret.yaml", "/etc/passwd", "~/.bashrc", "/proc/self/environ",
                 "../scenes/link.yaml", "../scenes/link.png", "..\\\\..\\\\secret.yaml")
SHOW_HEAD = "title: t\nproducts:\n  - {{id: a, name: 茶, price: 1, image: '{}'}}\n" \
            "segments:\n  - steps: [你好]\n"
SHOW_BASE = "title: t\nproducts:\n  - {id: a, name: 茶, price: 1}\nsegments:\n  - steps: [你好]\n"


def alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\ntitle: t\n"


async def ask(ws, message: str) -> dict:
    """Send and return the first reply (events are skipped)."""
    await ws.send(message)
    while True:
        r = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if "event" not in r:
            return r


async def viewer_intervals(url: str, stop: asyncio.Event, out: list[float],
                           hello: list[dict]) -> None:
    async with connect(url + "/media", max_size=None) as ws:
        hello.append(json.loads(await ws.recv()))
        while not stop.is_set():
            msg = await asyncio.wait_for(ws.recv(), 5)  # a stall or a close fails the test
            if isinstance(msg, bytes) and msg[3] == 1:  # a JPEG video frame
                out.append(time.monotonic())


def p99(times: list[float]) -> float:
    d = np.diff(np.array(times))
    return float(np.percentile(d, 99)) if len(d) else float("inf")


async def attack(room: Room, log: dict[str, object]) -> None:
    """Every hostile request; ``log`` collects what each got."""
    url = room.ws
    # -- foreign Host (DNS rebinding) on every route, HTTP and websocket ------------------
    for path in HTTP_ROUTES:
        log[f"host {path}"] = await asyncio.to_thread(
            room.raw_status, path, {"Host": "evil.example:8765"})
        log[f"ok {path}"] = await asyncio.to_thread(room.raw_status, path, HOST)
    for path in WS_ROUTES:
        log[f"host ws {path}"] = await asyncio.to_thread(
            room.raw_status, path, {"Host": "rebind.attacker.example"}, True)
        log[f"origin ws {path}"] = await asyncio.to_thread(
            room.raw_status, path, {**HOST, "Origin": "https://evil.example"}, True)
    log["no host"] = await asyncio.to_thread(room.raw_status, "/health", {})

    # -- /control: tokens, sizes, text, paths, aliases -----------------------------------
    async with connect(url + "/control") as ws:
        log["control no token"] = (await ask(ws, req("status")))["error"]["code"]
        log["control chat token"] = (await ask(ws, req("auth", token=CHAT_TOKEN)))["error"][
            "code"]
        log["control auth"] = (await ask(ws, req("auth", token=CONTROL_TOKEN)))["ok"]
        big = req("say", text="好" * (700 * 1024))  # ~2 MB of UTF-8
        log["control 2MB"] = (await ask(ws, big))["error"]["code"]
        log["control surrogate"] = (await ask(ws, '{"id":"s","op":"say","text":"hi \\ud800"}'))[
            "error"]["code"]
        log["control bell"] = (await ask(ws, req("say", text="hi\x07")))["error"]["code"]
        log["control bidi"] = (await ask(ws, req("say", text="abc\u202edef")))["error"]["code"]
        log["control binary"] = (await ask(ws, b"\x00\x01"))["error"]["code"]
        for raw in HOSTILE_PATHS:
            log[f"scene path {raw}"] = (await ask(ws, req("scene", path=raw)))["error"]["code"]
            log[f"show path {raw}"] = (await ask(ws, req("load_show", path=raw)))["error"][
                "code"]
            for field in SCENE_FILE_FIELDS:
                y = field.format(raw)
                r = await ask(ws, req("scene", yaml=y))
                log[f"scene yaml {y}"] = r["error"]["code"]
                log[f"leak scene {y}"] = "TOPSECRET" in json.dumps(r) or "root:" in json.dumps(r)
            for field in SHOW_FILE_FIELDS:
                y = SHOW_BASE + field.format(raw) + "\n"
                r = await ask(ws, req("load_show", yaml=y))
                log[f"show yaml {field} {raw}"] = r["error"]["code"]
                log[f"leak show {field} {raw}"] = "TOPSECRET" in json.dumps(r)
            y = SHOW_HEAD.format(raw)
            log[f"show yaml image {raw}"] = (await ask(ws, req("load_show", yaml=y)))["error"][
                "code"]
        t0 = time.monotonic()
        log["alias bomb show"] = (await ask(ws, req("load_show", yaml=alias_bomb())))["error"][
            "code"]
        log["alias bomb scene"] = (await ask(ws, req("scene", yaml=alias_bomb(4))))["error"][
            "code"]
        log["alias seconds"] = time.monotonic() - t0
        deep = "a: " + "[" * 200 + "]" * 200 + "\n"
        log["deep yaml"] = (await ask(ws, req("scene", yaml=deep)))["error"]["code"]
        log["label off"] = await ask(ws, req("scene", yaml="title: x\nai_label: off\n"))
        log["label claim"] = (await ask(ws, req(
            "scene", yaml="ai_label: {text: real human host}\n")))["error"]["code"]
        log["title claim"] = (await ask(ws, req("scene", yaml="title: 真人主播在线\n")))["error"][
            "code"]
        log["title absolute"] = (await ask(ws, req("scene", yaml="title: 全网最低\n")))["error"][
            "code"]
        log["still usable"] = (await ask(ws, req("status")))["ok"]
        await ws.send("x" * (5 * 1024 * 1024))  # beyond the wire limit: closed with 1009
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as exc:
            log["control 5MB close"] = exc.rcvd.code if exc.rcvd else None

    # -- invalid UTF-8 in a text frame: the connection closes with 1007 -----------------
    async with connect(url + "/control") as ws:
        await ws.send(b"{\"op\": \"\xff\xfe\"}", text=True)
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as exc:
            log["control bad utf8"] = exc.rcvd.code if exc.rcvd else None

    # -- /chat: its own token; text and names that are not text -------------------------
    async with connect(url + "/chat") as ws:
        log["chat no token"] = (await ask(ws, json.dumps({"user": "a", "text": "hi"})))[
            "error"]["code"]
        log["chat control token"] = (await ask(ws, req("auth", token=CONTROL_TOKEN)))["error"][
            "code"]
        log["chat auth"] = (await ask(ws, req("auth", token=CHAT_TOKEN)))["ok"]
        log["chat 2MB"] = (await ask(ws, json.dumps({"user": "a", "text": "x" * 2_000_000})))[
            "error"]["code"]
        log["chat surrogate"] = (await ask(ws, '{"user":"\\ud800","text":"hi"}'))["error"][
            "code"]
        log["chat bidi name"] = (await ask(ws, json.dumps({"user": "\u202eevil",
                                                           "text": "hi"})))["error"]["code"]
        r = await ask(ws, json.dumps({"user": "b", "text": "你是真人吗"}))
        log.setdefault("chat question", r["code"])  # later rounds are duplicates

    # -- /media: a viewer that talks too much is closed (1009), others go on ------------
    async with connect(url + "/media", max_size=None) as ws:
        await ws.recv()  # hello
        await ws.send(b"x" * 10)
        await ws.send(b"x" * (200 * 1024))
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as exc:
            log["media chatter close"] = exc.rcvd.code if exc.rcvd else None


def test_every_route_under_attack_and_a_viewer_unaffected(tmp_path) -> None:
    log: dict[str, object] = {}
    calm: list[float] = []
    hot: list[float] = []
    hello: list[dict] = []
    events: list[dict] = []

    async def main() -> None:
        async with Room(tmp_path) as room:
            url = room.ws
            # a well-behaved producer, listening to events the whole time
            async with connect(url + "/control") as producer:
                assert (await ask(producer, req("auth", token=CONTROL_TOKEN)))["ok"]

                async def listen() -> None:
                    async for m in producer:
                        events.append(json.loads(m))

                listener = asyncio.create_task(listen())
                stop = asyncio.Event()
                frames: list[float] = []
                viewer = asyncio.create_task(viewer_intervals(url, stop, frames, hello))
                await asyncio.sleep(2.5)
                calm.extend(frames)
                n0 = len(frames)
                t_end = time.monotonic() + 2.0  # long enough to measure the viewer under it
                while time.monotonic() < t_end:
                    await attack(room, log)
                # one client's surrogate in an event reaches the others scrubbed, not fatal
                room.host.emit("note", text="bad \ud800 string")
                await asyncio.sleep(0.5)
                stop.set()
                await viewer
                hot.extend(frames[n0:])
                await producer.send(req("status", "after"))
                for _ in range(100):
                    if any(e.get("id") == "after" for e in events):
                        break
                    await asyncio.sleep(0.05)
                listener.cancel()

    asyncio.run(asyncio.wait_for(main(), 120))

    for path in HTTP_ROUTES:
        assert log[f"host {path}"] == 421 and log[f"ok {path}"] == 200, path
    for path in WS_ROUTES:
        assert log[f"host ws {path}"] == 421, path
        assert log[f"origin ws {path}"] == 403, path
    assert log["no host"] == 421
    assert log["control no token"] == "auth_required"
    assert log["control chat token"] == "auth_failed"  # the chat token cannot steer
    assert log["control auth"] is True
    assert log["control 2MB"] == "too_large"
    for k in ("control surrogate", "control bell", "control bidi"):
        assert log[k] == "bad_text", k
    assert log["control binary"] == "bad_message"
    path_keys = [k for k in log if k.startswith(("scene path", "show path", "scene yaml",
                                                "show yaml"))]
    assert len(path_keys) >= 7 * (2 + len(SCENE_FILE_FIELDS) + len(SHOW_FILE_FIELDS) + 1)
    bad = {k: log[k] for k in path_keys if log[k] != "forbidden_path"}
    assert not bad, bad
    assert not any(v for k, v in log.items() if k.startswith("leak")), "file content leaked"
    assert log["alias bomb show"] == "yaml_refused" and log["alias bomb scene"] == "yaml_refused"
    assert log["alias seconds"] < 2.0
    assert log["deep yaml"] == "yaml_refused"
    off = log["label off"]
    assert off["error"]["code"] == "invalid_scene"
    assert off["error"]["detail"]["problems"][0]["line"] == 2
    assert "cannot be turned off" in off["error"]["detail"]["problems"][0]["message"]
    for k in ("label claim", "title claim", "title absolute"):
        assert log[k] == "invalid_scene", k
    assert log["still usable"] is True
    assert log["control 5MB close"] == 1009
    assert log["control bad utf8"] == 1007
    assert log["chat no token"] == "auth_required"
    assert log["chat control token"] == "auth_failed"  # the control token cannot chat
    assert log["chat auth"] is True
    assert log["chat 2MB"] == "too_large"
    assert log["chat surrogate"] == "bad_text" and log["chat bidi name"] == "bad_text"
    assert log["chat question"] == "ok"  # viewers may ask; only the host may not claim
    assert log["media chatter close"] == 1009

    # the label leads the /media hello
    assert hello[0]["label"].startswith("AI 生成")
    # the producer saw the scrubbed event and kept its connection
    note = next(e for e in events if e.get("event") == "note")
    assert note["text"] == "bad \ufffd string"
    assert next(e for e in events if e.get("id") == "after")["ok"]
    # the viewer's stream went on: frame interval p99 under attack vs calm
    p_calm, p_hot = p99(calm), p99(hot)
    print(f"frame interval p99: calm {p_calm * 1000:.1f} ms, under attack {p_hot * 1000:.1f} ms"
          f" ({len(calm)} / {len(hot)} frames)")
    assert len(hot) > 40
    assert p_hot < max(2.5 * p_calm, p_calm + 0.1), (p_calm, p_hot)


def test_health_hides_paths_and_the_throttle_holds_across_connections(tmp_path) -> None:
    now = [0.0]
    throttle = AuthThrottle(burst=5, per_s=0.5, clock=lambda: now[0])

    async def main() -> dict:
        out: dict = {}
        async with Room(tmp_path, throttle=throttle) as room:
            import urllib.request

            def health() -> str:
                with urllib.request.urlopen(f"http://127.0.0.1:{room.server.port}/health") as r:
                    return r.read().decode()

            out["health"] = await asyncio.to_thread(health)
            codes = []
            for i in range(8):  # wrong tokens from fresh connections, control and chat
                path = "/control" if i % 2 else "/chat"
                async with connect(room.ws + path) as ws:
                    codes.append((await ask(ws, req("auth", token=f"wrong-{i}-xxxxxxxxxxxx")))[
                        "error"]["code"])
            out["codes"] = codes
            async with connect(room.ws + "/control") as ws:  # even the right token waits
                out["right while throttled"] = (await ask(ws, req("auth", token=CONTROL_TOKEN)))[
                    "error"]["code"]
            now[0] += 10.0  # the bucket refills with time
            async with connect(room.ws + "/control") as ws:
                out["right later"] = (await ask(ws, req("auth", token=CONTROL_TOKEN)))["ok"]
        return out

    out = asyncio.run(asyncio.wait_for(main(), 60))
    assert "/home/producer" not in out["health"] and "/var/x" not in out["health"]
    assert "show.mp4" in out["health"]
    assert out["codes"] == ["auth_failed"] * 5 + ["auth_throttled"] * 3
    assert out["right while throttled"] == "auth_throttled"
    assert out["right later"] is True
    assert throttle.failures == 5


@pytest.mark.parametrize("token", ["a", "short-token", "x" * 15])
def test_weak_tokens_are_refused(token, tmp_path) -> None:
    from vhuman.api.chat import chat_handler
    from vhuman.api.control import control_handler
    from vhuman.core.errors import ConfigError

    room = Room(tmp_path)
    with pytest.raises(ConfigError, match="at least 16"):
        control_handler(room.host, room.runner, token)
    with pytest.raises(ConfigError, match="at least 16"):
        chat_handler(None, room.runner, token=token)
