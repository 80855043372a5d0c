"""The chat-source example in docs/plugins.md runs as written; plugins list shows sources."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from vhuman.chat.source import wait_for
from vhuman.plugins import CHAT_GROUP, list_plugins

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def test_plugins_list_shows_the_builtin_chat_sources() -> None:
    rows = {r.name: r for r in list_plugins((CHAT_GROUP,))}
    assert {"websocket", "webhook", "bilibili"} <= set(rows)
    assert rows["bilibili"].status == "loaded" and rows["bilibili"].origin == "builtin"
    assert rows["bilibili"].target == "vhuman.chat.bilibili:BilibiliSource"


def test_the_doc_example_source_reads_and_reconnects() -> None:
    block = next(b for b in re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), re.DOTALL)
                 if "class LineChat" in b)
    ns: dict = {"__name__": "docs_linechat"}
    exec(compile(block, "plugins.md:linechat", "exec"), ns)  # noqa: S102 - the doc example

    async def main() -> None:
        conns = 0

        async def feed(reader, writer) -> None:
            nonlocal conns
            conns += 1
            lines = [{"nick": "a", "body": "你好"}, "not json", {"nick": "b", "body": "价格"}] \
                if conns == 1 else [{"nick": "c", "body": "又来了"}]
            for obj in lines:
                writer.write((obj if isinstance(obj, str) else json.dumps(obj)).encode() + b"\n")
            await writer.drain()
            writer.close()            # the feed drops; the source must come back

        server = await asyncio.start_server(feed, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        src = ns["LineChat"](port=str(port))
        got: list[tuple[str, str]] = []
        events: list[str] = []
        await src.start(lambda e, **f: events.append(f.get("state", e)))

        async def read() -> None:
            async for m in src.messages():
                got.append((m["user"], m["text"]))

        task = asyncio.create_task(read())
        assert await wait_for(lambda: len(got) >= 3, 10)
        await src.stop()
        await task
        server.close()
        assert got[:3] == [("a", "你好"), ("b", "价格"), ("c", "又来了")]
        assert events[:3] == ["connected", "reconnecting", "connected"]

    asyncio.run(asyncio.wait_for(main(), 20))
