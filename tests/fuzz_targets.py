"""Fuzz targets for every parser that takes outside input (shared by the suite and
``benchmarks/fuzz.py``).

Each target is a hypothesis strategy of hostile inputs (random bytes and text, and valid
inputs with bytes flipped, lines cut, values swapped) and a check that feeds one input to
the parser: it may succeed or fail with the project's own clear error (one line naming
what is wrong); anything else — a raw ``KeyError``, ``IndexError``, a hang — is a bug.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from vhuman.core.errors import VhumanError

ROOT = Path(__file__).resolve().parents[1]
SCENE_TEXT = (ROOT / "vhuman/assets/scenes/studio_zh.yaml").read_text(encoding="utf-8")
SHOW_TEXT = """\
title: 测试直播
products:
  - {id: a, name: 甲, price: 10, original_price: 20}
segments:
  - name: 一
    steps:
      - 开场白
      - product: a
      - say: "{product.name}{product.price}元"
        cue: smile
      - wait: 2
      - loop: 2
        steps: [结束语]
schedule: {loops: 1, gap_s: 1}
chat:
  rules:
    - {keywords: [多少钱], reply: "{product.name}现在{product.price}元"}
  replies: {max_between_lines: 1, per_minute: 6, stale_s: 60}
"""
TAKE_TEXT = "\n".join([
    json.dumps({"format": "vhuman.take/1", "source": "file"}),
    json.dumps({"t_ns": 0, "w": [0.1] * 52, "head": [1, 0, 0, 0], "gaze": [0, 0], "c": 0.9}),
    json.dumps({"t_ns": 33333333, "w": None, "c": 0}),
    json.dumps({"t_ns": 66666666, "w": [0.5] * 52, "c": 1.0}),
]) + "\n"


def mutated_text(base: str) -> st.SearchStrategy[str]:
    """``base`` with lines dropped/duplicated, characters replaced or inserted, or cut."""
    tokens = st.sampled_from(["", " ", ":", "-", "{", "}", "[", "]", "&a", "*a", "!!python/object",
                              "1e999", "-1", "null", "'", '"', "\t", "\n", "~", "0x10", "多少钱"])

    @st.composite
    def build(draw: Callable) -> str:
        text = base
        for _ in range(draw(st.integers(1, 6))):
            op = draw(st.integers(0, 3))
            lines = text.split("\n")
            i = draw(st.integers(0, max(0, len(lines) - 1)))
            if op == 0 and lines:
                del lines[i]
            elif op == 1 and lines:
                lines.insert(i, lines[i])
            elif op == 2:
                pos = draw(st.integers(0, len(text)))
                text = text[:pos] + draw(tokens) + text[pos + draw(st.integers(0, 4)):]
                continue
            else:
                text = text[:draw(st.integers(0, len(text)))]
                continue
            text = "\n".join(lines)
        return text

    return st.one_of(build(), st.text(max_size=200))


def mutated_bytes(base: bytes) -> st.SearchStrategy[bytes]:
    """``base`` with bytes flipped and maybe truncated, or random bytes."""
    @st.composite
    def build(draw: Callable) -> bytes:
        raw = bytearray(base)
        for _ in range(draw(st.integers(1, 8))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        return bytes(raw[:draw(st.sampled_from([len(raw), len(raw) - 1, len(raw) // 2, 12]))])

    return st.one_of(build(), st.binary(max_size=80))


@dataclass(frozen=True)
class Target:
    """One parser: hostile inputs and the check of one input."""

    name: str
    inputs: st.SearchStrategy[Any]
    check: Callable[[Any], None]


def _clear(exc: BaseException) -> None:
    """The project's own error, one line that says something."""
    msg = str(exc)
    assert isinstance(exc, VhumanError), f"raw {type(exc).__name__}: {msg}"
    assert msg.strip(), f"{type(exc).__name__} without a message"


def _packet(data: bytes) -> None:
    from vhuman.stream.protocol import unpack

    try:
        unpack(data)
    except VhumanError as exc:
        _clear(exc)


def _hello(text: str) -> None:
    from vhuman.stream.protocol import parse_hello

    try:
        parse_hello(text)
    except VhumanError as exc:
        _clear(exc)


def _show(text: str) -> None:
    from vhuman.scenes.show_loader import load_show_text

    try:
        load_show_text(text, "fuzz.yaml")
    except VhumanError as exc:
        _clear(exc)


def _scene(text: str) -> None:
    from vhuman.scenes.scene import load_scene_text

    try:
        load_scene_text(text, "fuzz.yaml", base_dir=ROOT / "vhuman/assets/scenes")
    except VhumanError as exc:
        _clear(exc)


_TMP = Path(tempfile.mkdtemp(prefix="vhuman-fuzz-"))


def _take(text: str) -> None:
    from vhuman.drivers.replay import Take

    path = _TMP / "fuzz.take.jsonl"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        take = Take.load(path)
        take.at(0)
        take.at(50_000_000)
    except VhumanError as exc:
        _clear(exc)


def _glb(data: bytes) -> None:
    from vhuman.avatar.loader import load_avatar

    path = _TMP / "fuzz.glb"
    path.write_bytes(data)
    try:
        load_avatar(path)
    except VhumanError as exc:
        _clear(exc)


def _good_packet() -> bytes:
    from vhuman.stream.protocol import Kind, pack

    return pack(Kind.AUDIO_PCM_S16LE, 123456, b"\x00\x01" * 16)


def _good_hello() -> str:
    from vhuman.stream.protocol import AudioInfo, VideoInfo, make_hello

    return make_hello(video=VideoInfo(codec="jpeg", width=640, height=360, fps=30),
                      audio=AudioInfo(codec="pcm_s16le", rate=48000, channels=1), label="AI")


def _good_glb() -> bytes:
    from tests.avatar.gltf_factory import two_mesh_head

    path = _TMP / "good.glb"
    two_mesh_head(path)
    return path.read_bytes()


def targets() -> list[Target]:
    """Every parser of outside input (control and chat JSON come from tests/api)."""
    import sys

    if str(ROOT / "tests" / "scenes") not in sys.path:  # test_control's SimHost
        sys.path.insert(0, str(ROOT / "tests" / "scenes"))
    from tests.api.test_control import chat_msgs, check_chat, check_control, control_msgs

    return [
        Target("media_packet", mutated_bytes(_good_packet()), _packet),
        Target("media_hello", mutated_text(_good_hello()), _hello),
        Target("control_json", control_msgs, check_control),
        Target("chat_json", chat_msgs, check_chat),
        Target("show_yaml", mutated_text(SHOW_TEXT), _show),
        Target("scene_yaml", mutated_text(SCENE_TEXT), _scene),
        Target("replay_take", mutated_text(TAKE_TEXT), _take),
        Target("glb", mutated_bytes(_good_glb()), _glb),
    ]
