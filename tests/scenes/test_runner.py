"""The show runner on the simulated clock: order, products, loops, schedule, chat, control."""

from __future__ import annotations

import asyncio
import datetime as dt
import textwrap

import pytest
from simhost import SimHost

from vhuman.core.clock import NS_PER_S
from vhuman.scenes.runner import Reply, ShowHost, ShowRunner
from vhuman.scenes.show_loader import load_show_text

SHOW = textwrap.dedent("""\
    title: 测试直播
    products:
      - {id: a, name: 甲, price: 10, original_price: 20}
      - {id: b, name: 乙, price: 30}
    segments:
      - name: 一
        steps:
          - 开场白
          - product: a
          - say: "{product.name}{product.price}元"
            cue: smile
          - wait: 2
      - name: 二
        steps:
          - product: b
            countdown: 60
          - loop: 2
            steps:
              - say: "{product.name}只要{product.price}"
          - 结束语
    chat:
      rules:
        - keywords: [多少钱]
          reply: "{product.name}现在{product.price}元"
        - keywords: [讲讲]
          reply: 马上讲
          urgent: true
    """)

ONE_PASS = ["开场白", "甲10元", "乙只要30", "乙只要30", "结束语"]


def run(coro_fn, timeout: float = 20.0):
    return asyncio.run(asyncio.wait_for(coro_fn(), timeout))


async def play(runner: ShowRunner, until) -> None:
    """Run ``runner`` until ``until()`` is true (checked between event-loop turns)."""
    task = asyncio.create_task(runner.run())
    try:
        for _ in range(200_000):
            if until():
                return
            await asyncio.sleep(0)
        raise AssertionError(f"condition never met; status {runner.status()}")
    finally:
        runner.stop()
        await task


def show_with(schedule: str = "  loops: 1\n") -> object:
    return load_show_text(SHOW + "schedule:\n" + schedule, "t.yaml")


def test_simhost_satisfies_the_protocol() -> None:
    assert isinstance(SimHost(), ShowHost)


def test_lines_in_order_with_products_cues_and_waits() -> None:
    host = SimHost()
    runner = ShowRunner(host, show_with())

    async def main() -> None:
        await play(runner, lambda: runner.state == "finished")

    run(main)
    assert host.texts() == ONE_PASS
    # the product card changed to a before its first line and to b before b's lines
    prods = [(o["product"].id if o["product"] else None, o["t_ns"]) for o in host.overlay_log
             if "product" in o]
    assert [p for p, _ in prods] == [None, "a", "b"]
    t_a = prods[1][1]
    t_b = prods[2][1]
    starts = {s.text: s.start_ns for s in host.spoken}
    assert t_a <= starts["甲10元"] < t_b <= starts["乙只要30"]
    # the 2 s wait sits between 甲's line end and product b
    end_a = next(s.end_ns for s in host.spoken if s.text == "甲10元")
    assert t_b - end_a == 2 * NS_PER_S
    assert host.cues == [("smile", 1.0, None)]
    # countdown set with the product, 60 s ahead
    cd = next(o for o in host.overlay_log if o.get("countdown_end_ns"))
    assert cd["countdown_end_ns"] - cd["t_ns"] == 60 * NS_PER_S
    assert host.names("show_finished") and runner.status()["lines_spoken"] == 5


def test_subtitles_follow_the_spoken_line() -> None:
    host = SimHost()
    runner = ShowRunner(host, show_with())
    seen: list[tuple[str, str | None]] = []
    host.on_line_started = lambda sp: seen.append((sp.text, host.overlay.get("subtitle")))

    run(lambda: play(runner, lambda: runner.state == "finished"))
    assert seen == [(t, t) for t in ONE_PASS]
    assert host.overlay["subtitle"] is None  # cleared after the last line


def test_show_loops_a_fixed_number_of_times() -> None:
    host = SimHost()
    runner = ShowRunner(host, show_with("  loops: 3\n  gap: 5\n"))
    run(lambda: play(runner, lambda: runner.state == "finished"))
    assert host.texts() == ONE_PASS * 3
    assert [f["loop"] for f in host.names("show_loop_done")] == [1, 2, 3]
    # the gap: 5 s between the last line of a loop and the first line of the next
    firsts = [s for s in host.spoken if s.text == "开场白"]
    lasts = [s for s in host.spoken if s.text == "结束语"]
    assert firsts[1].start_ns - lasts[0].end_ns == 5 * NS_PER_S


def test_schedule_waits_for_start_and_stops_repeating_at_the_end_time() -> None:
    epoch = int(dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC).timestamp()) * NS_PER_S
    # starts 10 minutes after stream time 0 (19:10 Beijing = 11:10 UTC), stops after 11:12
    sched = "  start: 2026-11-23T19:10:00+08:00\n  repeat_until: 2026-11-23T19:12:00+08:00\n"
    host = SimHost()
    runner = ShowRunner(host, show_with(sched), epoch_ns=epoch)
    run(lambda: play(runner, lambda: runner.state == "finished"))
    assert host.names("show_waiting")
    assert host.spoken[0].start_ns == 600 * NS_PER_S
    # one pass lasts 3+6+2+... seconds; the show repeats whole passes until 11:12 UTC
    loops = len(host.names("show_loop_done"))
    last_loop_start = [s.start_ns for s in host.spoken if s.text == "开场白"][-1]
    assert loops >= 2 and last_loop_start < 720 * NS_PER_S <= host.spoken[-1].end_ns + \
        (host.spoken[-1].end_ns - last_loop_start)
    assert host.texts() == ONE_PASS * loops


def test_chat_reply_comes_before_the_next_line_and_the_show_resumes() -> None:
    host = SimHost()
    runner = ShowRunner(host, show_with())

    def on_start(sp) -> None:  # a viewer asks while 开场白 is being said
        if sp.text == "开场白":
            runner.enqueue_reply(Reply("甲现在10元", user="小王", question="多少钱"))

    host.on_line_started = on_start
    run(lambda: play(runner, lambda: runner.state == "finished"))
    assert host.texts() == ["开场白", "甲现在10元"] + ONE_PASS[1:]
    (ans,) = host.names("chat_answered")
    assert ans["user"] == "小王" and ans["reply"] == "甲现在10元"
    assert runner.status()["replies_spoken"] == 1


def test_urgent_reply_interrupts_mid_line_and_the_line_is_said_again() -> None:
    host = SimHost()
    runner = ShowRunner(host, show_with())
    asked = []

    def on_start(sp) -> None:
        if sp.text == "甲10元" and not asked:
            asked.append(1)
            runner.enqueue_reply(Reply("马上讲", urgent=True))

    host.on_line_started = on_start
    run(lambda: play(runner, lambda: runner.state == "finished"))
    said = [(s.text, s.interrupted) for s in host.spoken]
    assert said[:4] == [("开场白", False), ("甲10元", True), ("马上讲", False), ("甲10元", False)]
    assert host.texts() == ["开场白", "马上讲"] + ONE_PASS[1:]


def test_pause_resume_and_skip() -> None:
    host = SimHost()
    runner = ShowRunner(host, show_with())
    log: list[str] = []

    def on_start(sp) -> None:
        log.append(sp.text)
        if sp.text == "开场白":
            runner.pause()
        if sp.text == "乙只要30" and log.count("乙只要30") == 1:
            runner.skip()  # cut this line: the loop goes on with its next pass

    host.on_line_started = on_start

    async def main() -> None:
        task = asyncio.create_task(runner.run())
        for _ in range(2000):
            await asyncio.sleep(0)
        # paused after 开场白: nothing else was said, and status says so
        assert log == ["开场白"]
        st = runner.status()
        assert st["state"] == "paused" and st["paused"]
        runner.resume()
        for _ in range(100_000):
            if runner.state == "finished":
                break
            await asyncio.sleep(0)
        runner.stop()
        await task

    run(main)
    said = [(s.text, s.interrupted) for s in host.spoken]
    assert said == [("开场白", False), ("甲10元", False), ("乙只要30", True), ("乙只要30", False),
                    ("结束语", False)]
    assert host.names("show_paused") and host.names("show_resumed") and host.names("step_skipped")


def test_load_replaces_the_show_and_status_is_json() -> None:
    import json

    host = SimHost()
    runner = ShowRunner(host)
    other = load_show_text("title: 二号\nproducts: [{id: x, name: X, price: 1}]\nsegments:\n"
                           "  - steps: [新节目]\nschedule: {loops: 1}\n", "o.yaml")

    async def main() -> None:
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0)
        assert runner.status()["state"] == "idle"
        runner.load(other)
        for _ in range(10_000):
            if runner.state == "finished":
                break
            await asyncio.sleep(0)
        json.dumps(runner.status())
        runner.stop()
        await task

    run(main)
    assert host.texts() == ["新节目"]
    assert host.names("show_loaded")[0]["title"] == "二号"


def test_set_product_and_say_now() -> None:
    host = SimHost()
    runner = ShowRunner(host, show_with())

    async def main() -> None:
        prod = runner.set_product("b", countdown_s=10)
        assert prod.name == "乙" and host.overlay["product"].id == "b"
        with pytest.raises(Exception, match="no product 'zz'"):
            runner.set_product("zz")
        line = runner.say_now("插播一句")
        await asyncio.sleep(0)
        assert line.line_id.startswith("line-") and line.kind == "say"

    run(main)
    assert host.spoken[0].text == "插播一句"


def test_a_host_that_fails_every_line_does_not_stop_or_starve_the_show() -> None:
    class FailingHost(SimHost):
        def say(self, text, *, voice=None, interrupt=False, kind="say", source=""):
            line = super().say(text, voice=voice, interrupt=interrupt, kind=kind,
                               source=source)
            self._queue.clear()
            self.lines.on_speech_event("line_error", line_id=line.line_id,
                                       message="tts down")
            return line

    host = FailingHost()
    runner = ShowRunner(host, show_with("  loops: 2\n"))
    run(lambda: play(runner, lambda: runner.state == "finished"))
    errors = host.names("runner_error")
    assert [e["code"] for e in errors] == ["no_line_spoken", "no_line_spoken"]
    assert runner.status()["lines_failed"] == 10 and runner.status()["lines_spoken"] == 0
    # it backed off 5 s of stream time after each failed pass
    assert host.clock.now_ns() >= 10 * NS_PER_S
