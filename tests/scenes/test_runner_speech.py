"""The runner on the real speech queue (espeak Mandarin), pumped on the simulated clock."""

from __future__ import annotations

import asyncio
import textwrap

import pytest
from simhost import SpeakerHost

from vhuman.scenes.runner import Reply, ShowRunner
from vhuman.scenes.show_loader import load_show_text

SHOW = textwrap.dedent("""\
    title: 语音测试
    products:
      - {id: a, name: 龙井, price: 89}
    segments:
      - steps:
          - 大家好
          - product: a
          - say: "{product.name}只要{product.price}元"
    schedule: {loops: 1}
    """)


@pytest.fixture
def host():
    try:
        h = SpeakerHost("cmn")
    except Exception as exc:  # noqa: BLE001 - any failure to start espeak means: skip
        pytest.skip(f"espeak speech queue unavailable: {exc}")
    yield h
    h.close()


def test_lines_play_for_their_audio_length_and_replies_interleave(host) -> None:
    runner = ShowRunner(host, load_show_text(SHOW, "s.yaml"))
    asked = []

    def on_event(event, fields) -> None:
        if event == "line_started" and not asked:
            asked.append(1)
            runner.enqueue_reply(Reply("八十九元", user="小王"))

    host.subscribe(on_event)

    async def main() -> None:
        host.start()
        task = asyncio.create_task(runner.run())
        while runner.state != "finished":
            await asyncio.sleep(0.001)
        runner.stop()
        await task

    asyncio.run(asyncio.wait_for(main(), 60))
    texts = [s.text for s in host.spoken]
    assert texts == ["大家好", "八十九元", "龙井只要89元"]
    for s in host.spoken:
        assert not s.interrupted and s.end_ns > s.start_ns
    # each line lasted as long as its audio: lines never overlap, audio was produced
    for a, b in zip(host.spoken, host.spoken[1:]):
        assert b.start_ns >= a.end_ns
    assert host.audio_ns >= sum(s.end_ns - s.start_ns for s in host.spoken) * 0.9
    assert runner.status()["lines_spoken"] == 2 and runner.status()["replies_spoken"] == 1
