"""Script and room share the floor: the reply policy under steady chat (simulated clock)."""

from __future__ import annotations

import asyncio
import itertools
import textwrap

import pytest
from simhost import SimHost

from vhuman.core.clock import NS_PER_S
from vhuman.core.errors import ConfigError
from vhuman.scenes.runner import Reply, ShowRunner
from vhuman.scenes.show import ReplyPolicy
from vhuman.scenes.show_loader import load_show_text

SHOW = textwrap.dedent("""\
    title: 带货
    products:
      - {id: a, name: 甲, price: 10}
      - {id: b, name: 乙, price: 30}
    segments:
      - name: 一
        steps:
          - product: a
          - 第一句介绍一下甲
          - 第二句甲很好用
          - wait: 4
          - product: b
          - 第三句介绍一下乙
          - 第四句乙很便宜
    chat:
      replies: {max_between_lines: 1, per_minute: 8, stale_s: 30}
    """)


def _run_with_chat(show_text: str, seconds: float, per_s: float = 1.0):
    """Run the show for ``seconds`` of stream time while viewers ask ``per_s`` questions
    a second (many users, half about the other product), fed at their ask times."""
    host = SimHost()
    runner = ShowRunner(host, load_show_text(show_text, "t.yaml"))
    asked = [0]
    script_starts: list[int] = []
    max_queue = [0]

    def on_start(sp) -> None:
        now = host.clock.now_ns()
        while asked[0] * NS_PER_S / per_s <= now:  # every question asked by now
            i = asked[0]
            asked[0] += 1
            about = "乙" if i % 2 else "甲"
            runner.enqueue_reply(Reply(f"回答{i}号{about}的问题", user=f"u{i % 97}",
                                       question=f"{about}怎么样", queued_ns=int(i * NS_PER_S / per_s)))
        max_queue[0] = max(max_queue[0], runner.status()["replies_queued"])
        if sp.text.startswith("第"):
            script_starts.append(now)

    host.on_line_started = on_start

    async def main() -> None:
        task = asyncio.create_task(runner.run())
        while host.clock.now_ns() < seconds * NS_PER_S:
            await asyncio.sleep(0)
        runner.stop()
        await task

    asyncio.run(asyncio.wait_for(main(), 60))
    return host, runner, script_starts, max_queue[0]


def test_steady_chat_one_question_a_second_keeps_the_script_moving() -> None:
    minutes = 10
    host, runner, starts, max_queue = _run_with_chat(SHOW, minutes * 60)
    st = runner.status()
    # Script lines last ~1.6 s and replies ~1.6 s; one reply at most between two lines and
    # 8 a minute: the script advances at least every ~2 lines' time (never 110 s on one).
    gaps = [(b - a) / NS_PER_S for a, b in itertools.pairwise(starts)]
    assert len(starts) > minutes * 60 / 8, st
    assert max(gaps) < 10, f"the script stalled {max(gaps):.1f} s between two lines"
    # the room is answered, within the budget, and never builds an unbounded queue
    assert minutes * 6 <= st["replies_spoken"] <= minutes * 8 + 8, st
    assert st["replies_dropped"] > 0 and max_queue <= 20
    dropped = host.names("chat_dropped")
    assert {d["reason"] for d in dropped} <= {"stale", "reply_queue_full"}
    # producers see the queue and the policy on /health
    rs = st["replies"]
    assert rs["policy"] == {"max_between_lines": 1, "per_minute": 8, "stale_s": 30.0,
                            "product_priority": True}
    assert rs["queued"] == st["replies_queued"] and rs["budget_left"] >= 0


def test_a_reply_about_the_product_on_screen_goes_first() -> None:
    host, _, _, _ = _run_with_chat(SHOW, 60)
    answered = [a["question"] for a in host.names("chat_answered")]
    # while 甲 is on screen (the first lines) questions about 甲 are answered first
    assert answered[0] == "甲怎么样"


def test_without_a_policy_limit_the_room_would_hold_the_script() -> None:
    """The same load with a policy that lets the room talk freely: the script stalls —
    what the default policy prevents (this is the test able to fail above)."""
    free = SHOW.replace("{max_between_lines: 1, per_minute: 8, stale_s: 30}",
                        "{max_between_lines: 100, per_minute: 600, stale_s: 3600}")
    _, _, starts, _ = _run_with_chat(free, 120)
    assert len(starts) <= 3


@pytest.mark.parametrize("bad, msg", [
    ("replies: {per_minute: -1}", "chat.replies.per_minute must be a number 0..600"),
    ("replies: {stale_s: 0}", "chat.replies.stale_s must be a number 1..3600"),
    ("replies: {product_priority: 2}", "chat.replies.product_priority must be true or false"),
    ("replies: {bogus: 1}", "bogus"),
    ("replies: 3", "chat.replies must be a mapping"),
])
def test_policy_errors_name_file_line_and_key(bad: str, msg: str) -> None:
    text = SHOW.replace("replies: {max_between_lines: 1, per_minute: 8, stale_s: 30}", bad)
    with pytest.raises(ConfigError) as ei:
        load_show_text(text, "room.yaml")
    assert msg in str(ei.value) and "room.yaml:16" in str(ei.value)


def test_policy_defaults_and_values() -> None:
    assert ReplyPolicy() == ReplyPolicy(1, 6, 60.0, True)
    with pytest.raises(ValueError):
        ReplyPolicy(per_minute=-1)
